/**
 * Real weston instances for end-to-end tests, set up exactly as
 * ../shared/test-recipes.md prescribes (recipes 1, 2 and 4):
 *
 * - its own XDG_RUNTIME_DIR (mode 0700) and socket name, so tests can run
 *   side by side; clients connect with the absolute socket path;
 * - always `--backend=`, `--use-pixman` (without it the headless backend does
 *   not render and weston-screenshooter hangs), `--debug` (screenshots and
 *   `weston-debug scene-graph`), idle-time 0, and a plain ini (uniform
 *   0x204060 background, no panel, no locking, no animations, no input
 *   method process);
 * - ready = the socket exists *and* the shell has drawn its background
 *   (desktop-shell draws asynchronously, 0.25-0.75 s later; shots before that
 *   are black);
 * - screenshots with weston-screenshooter into a fresh XDG_PICTURES_DIR, under
 *   `timeout`;
 * - backend 'x11': Xvfb picks its display number (`-displayfd`), weston's
 *   window is found with xdotool, and the pointer is synced (move to (1,1)
 *   then (0,0)) because the x11 backend moves weston's pointer by motion
 *   deltas. X coordinates then equal weston output coordinates;
 * - shell 'ivi': ivi-shell + hmi-controller. ivi-shell has no screenshooter in
 *   weston 10, so on 'headless' the ivi weston runs on the wayland backend,
 *   fullscreen inside an outer headless desktop-shell weston that takes the
 *   screenshots (no seat then); on 'x11' it runs in Xvfb and screenshots come
 *   from `import -window root` (with a seat).
 *
 * Usage:
 * ```ts
 * const w = await startWeston({ backend: 'headless', width: 640, height: 480 });
 * try {
 *   // clients: env { ...w.env } or WAYLAND_DISPLAY=w.socket
 *   const view = await w.waitForView((v) => v.title === 'x' && v.visible);
 *   const shot = await w.screenshot();
 * } finally { await w.stop(); }
 * ```
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Rect } from '../../shared/scene/scene.js';
import { colourMatches, decodePng, diffCount, formatColour, type Image } from './image.js';
import { killTree, run, sleep, spawnProcess, waitFor, type ManagedProcess } from './process.js';

export type WestonBackend = 'headless' | 'x11';
export type WestonShell = 'desktop' | 'ivi' | 'kiosk';

/** ini sections: `{ shell: { 'background-color': '0xff000000' } }`. */
export type IniSections = Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;

export interface WestonOptions {
  readonly backend?: WestonBackend;
  /** Output size (default 640x480). With x11 it is also the Xvfb screen size. */
  readonly width?: number;
  readonly height?: number;
  readonly shell?: WestonShell;
  /**
   * Extra configuration: sections merged key by key over the default ini of
   * the shell, or a complete ini text that replaces it.
   */
  readonly config?: IniSections | string;
  /** Extra environment for weston (and Xvfb). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the socket and the first drawn frame (default 15000 ms). */
  readonly startTimeoutMs?: number;
}

/** One view of `weston-debug scene-graph`. */
export interface View {
  /** Index of the layer the view is in, in printed order (0 = topmost). */
  readonly layer: number;
  /** 'xdg_toplevel', 'xdg_popup', 'ivi_surface', 'wl_subsurface', '(null)', ... */
  readonly role: string;
  readonly pid: number;
  readonly surfaceId: number;
  /** The label as printed, e.g. "top-level window 'Title' of app.id". */
  readonly description: string;
  readonly title: string | null;
  readonly appId: string | null;
  /** For `ivi-surface 0x...` views. */
  readonly iviId: number | null;
  /** Output coordinates; includes client-side decorations and shadow. */
  readonly rect: Rect;
  readonly alpha: number;
  readonly outputs: boolean;
  /** Non-empty, opaque enough to be seen and on an output. */
  readonly visible: boolean;
}

export interface Weston {
  readonly backend: WestonBackend;
  readonly shell: WestonShell;
  readonly width: number;
  readonly height: number;
  /** Absolute path of the compositor socket (usable as WAYLAND_DISPLAY). */
  readonly socket: string;
  readonly runtimeDir: string;
  /** weston's pid (the ivi weston for shell 'ivi'). */
  readonly pid: number;
  /** The X display (":N") for backend 'x11', else null. */
  readonly display: string | null;
  /** Environment for clients of this compositor: WAYLAND_DISPLAY, XDG_RUNTIME_DIR (and DISPLAY for x11). */
  readonly env: Readonly<Record<string, string>>;
  /** A screenshot of the whole output (RGBA). */
  screenshot(): Promise<Image>;
  /** The views of the compositor, topmost layer first. */
  sceneGraph(): Promise<View[]>;
  /** Poll the scene graph until a view satisfies `predicate`. */
  waitForView(predicate: (v: View) => boolean, timeoutMs?: number, what?: string): Promise<View>;
  /** Run xdotool on this instance's X display (backend 'x11' only). */
  xdotool(...args: (string | number)[]): Promise<string>;
  /** weston's log so far (of the ivi weston for shell 'ivi'). */
  log(): string;
  /** Stop everything that was started (idempotent); removes the temporary files. */
  stop(): Promise<void>;
}

const BACKGROUND = 0x204060;
/** The background colour of the default config, 0xRRGGBB. */
export const WESTON_BACKGROUND = BACKGROUND;

const PLAIN: IniSections = {
  core: { 'idle-time': 0 },
  shell: {
    'background-color': '0xff204060',
    'panel-position': 'none',
    locking: false,
    animation: 'none',
    'close-animation': 'none',
    'startup-animation': 'none',
    'focus-animation': 'none',
  },
  'input-method': { path: '' },
};

/** hmi-controller: the nine id keys are mandatory (without them weston exits). */
const IVI: IniSections = {
  core: { shell: 'ivi-shell.so', modules: 'hmi-controller.so', 'idle-time': 0 },
  'ivi-shell': {
    'ivi-shell-user-interface': 'weston-ivi-shell-user-interface',
    'transition-duration': 0,
    'background-id': 1001,
    'panel-id': 1002,
    'tiling-id': 1003,
    'sidebyside-id': 1004,
    'fullscreen-id': 1005,
    'random-id': 1006,
    'home-id': 1007,
    'workspace-background-id': 2001,
    'surface-id-offset': 10,
  },
  'input-method': { path: '' },
};

/** Where Debian puts weston's helper programs and modules (multiarch). */
function findInLibDirs(name: string): string | null {
  for (const base of ['/usr/lib', '/usr/local/lib', '/usr/libexec']) {
    for (const candidate of [join(base, name), ...listDirs(base).map((d) => join(base, d, name))]) {
      if (existsSync(candidate)) return candidate;
    }
  }
  return null;
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * True (skip) when ivi-shell with hmi-controller cannot run here, after
 * printing why. Also needs what `skipUnless` checks for the other parts.
 */
export function skipUnlessIvi(): boolean {
  const missing = ['weston-ivi-shell-user-interface', 'weston/ivi-shell.so', 'weston/hmi-controller.so'].filter((f) => findInLibDirs(f) === null);
  if (missing.length === 0) return false;
  console.warn(`skipping: ${missing.join(', ')} not found under /usr/lib (weston's ivi-shell is needed)`);
  return true;
}

/** ivi ids the hmi-controller UI uses (1001-1007, 2001, 3001 and up): avoid them for test surfaces. */
export function isReservedIviId(id: number): boolean {
  return (id >= 1001 && id <= 1007) || id === 2001 || id >= 3001;
}

export function formatIni(sections: IniSections): string {
  const out: string[] = [];
  for (const [name, keys] of Object.entries(sections)) {
    out.push(`[${name}]`);
    for (const [k, v] of Object.entries(keys)) out.push(`${k}=${String(v)}`);
    out.push('');
  }
  return out.join('\n');
}

function mergeIni(base: IniSections, extra: IniSections): IniSections {
  const merged: Record<string, Record<string, string | number | boolean>> = {};
  for (const [name, keys] of Object.entries(base)) merged[name] = { ...keys };
  for (const [name, keys] of Object.entries(extra)) merged[name] = { ...merged[name], ...keys };
  return merged;
}

function configText(shell: WestonShell, config: IniSections | string | undefined): string {
  if (typeof config === 'string') return config;
  let base: IniSections;
  if (shell === 'ivi') base = IVI;
  else if (shell === 'kiosk') base = mergeIni(PLAIN, { core: { shell: 'kiosk-shell.so' } });
  else base = PLAIN;
  return formatIni(config === undefined ? base : mergeIni(base, config));
}

/** Instances not stopped yet: killed if the test process exits without stopping them. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;
function track(p: ManagedProcess): ManagedProcess {
  live.add(p);
  void p.exited.then(() => live.delete(p));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const q of live) killTree(q.pid, 'SIGKILL');
    });
  }
  return p;
}

function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Parse the output of `weston-debug scene-graph`. */
export function parseSceneGraph(text: string): View[] {
  const views: View[] = [];
  let layer = -1;
  let cur: {
    role: string;
    pid: number;
    surfaceId: number;
    description: string;
    rect: Rect;
    alpha: number;
    outputs: boolean;
  } | null = null;
  const flush = (): void => {
    if (cur === null) return;
    const { title, appId, iviId } = parseDescription(cur.description);
    const nonEmpty = cur.rect.width > 0 && cur.rect.height > 0;
    views.push({ layer, ...cur, title, appId, iviId, visible: nonEmpty && cur.alpha > 0 && cur.outputs });
    cur = null;
  };
  for (const line of text.split('\n')) {
    if (/^Layer \d+/.test(line)) {
      flush();
      layer++;
      continue;
    }
    if (/^\S/.test(line)) {
      flush(); // an Output section or the header
      continue;
    }
    const head = /^\s+View \d+ \(role (.*?), PID (-?\d+), surface ID (\d+), (.*), (?:0x[0-9a-fA-F]+|\(nil\))\):\s*$/.exec(line);
    if (head !== null) {
      flush();
      cur = {
        role: head[1]!,
        pid: Number(head[2]),
        surfaceId: Number(head[3]),
        description: head[4]!,
        rect: { x: 0, y: 0, width: 0, height: 0 },
        alpha: 1,
        outputs: false,
      };
      continue;
    }
    if (cur === null) continue;
    const pos = /^\s+position: \((-?[\d.]+), (-?[\d.]+)\) -> \((-?[\d.]+), (-?[\d.]+)\)/.exec(line);
    if (pos !== null) {
      const [x1, y1, x2, y2] = pos.slice(1, 5).map(Number) as [number, number, number, number];
      cur.rect = { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
      continue;
    }
    const alpha = /^\s+alpha: ([\d.]+)/.exec(line);
    if (alpha !== null) {
      cur.alpha = Number(alpha[1]);
      continue;
    }
    if (/^\s+outputs:/.test(line)) cur.outputs = true;
  }
  flush();
  return views;
}

function parseDescription(d: string): { title: string | null; appId: string | null; iviId: number | null } {
  const ivi = /^ivi-surface (0x[0-9a-fA-F]+|\d+)/.exec(d);
  if (ivi !== null) return { title: null, appId: null, iviId: Number(ivi[1]) };
  // desktop-shell: "top-level window 'TITLE' of APPID" (either part optional)
  const top = /^top-level window(?: '(.*?)')?(?: of (.*))?$/.exec(d);
  if (top !== null) return { title: top[1] ?? null, appId: top[2] ?? null, iviId: null };
  const quoted = /'(.*)'/.exec(d);
  return { title: quoted?.[1] ?? null, appId: null, iviId: null };
}

interface Started {
  proc: ManagedProcess;
  socket: string;
}

async function startCompositor(
  label: string,
  args: string[],
  env: Record<string, string | undefined>,
  runtimeDir: string,
  timeoutMs: number,
): Promise<Started> {
  const socketName = uniqueName('wl');
  const socket = join(runtimeDir, socketName);
  const proc = track(spawnProcess('weston', [...args, `--socket=${socketName}`], { env: { ...env, XDG_RUNTIME_DIR: runtimeDir }, name: label }));
  try {
    await waitFor(`${label} socket ${socket}`, () => !proc.running ? Promise.reject(new Error(`${label} exited\n${proc.tail()}`)) : existsSync(socket), timeoutMs, 20);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return { proc, socket };
}

async function startXvfb(width: number, height: number, env: Record<string, string | undefined>, timeoutMs: number): Promise<{ proc: ManagedProcess; display: string }> {
  const proc = track(
    spawnProcess('Xvfb', ['-displayfd', '3', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'], {
      env,
      name: 'Xvfb',
      lineBuffered: false,
      extraFds: ['pipe'],
    }),
  );
  const fd3 = proc.child.stdio[3] as NodeJS.ReadableStream | null | undefined;
  if (fd3 === null || fd3 === undefined) throw new Error('Xvfb: no pipe for -displayfd');
  let text = '';
  fd3.setEncoding('utf8');
  fd3.on('data', (chunk: string) => {
    text += chunk;
  });
  try {
    const number = await waitFor('Xvfb display number', () => {
      if (!proc.running) throw new Error(`Xvfb exited\n${proc.tail()}`);
      const m = /^(\d+)\n/.exec(text);
      return m === null ? undefined : m[1]!;
    }, timeoutMs, 20);
    return { proc, display: `:${number}` };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

async function screenshooter(socket: string, dir: string): Promise<Image> {
  const shotDir = mkdtempSync(join(dir, 'shot-'));
  try {
    await run('timeout', ['5', 'weston-screenshooter'], {
      env: { WAYLAND_DISPLAY: socket, XDG_PICTURES_DIR: shotDir },
      timeoutMs: 8000,
      cwd: shotDir,
    });
    const files = readdirSync(shotDir).filter((f) => f.endsWith('.png'));
    if (files.length !== 1) throw new Error(`weston-screenshooter wrote ${files.length} PNG files into ${shotDir}`);
    return await decodePng(readFileSync(join(shotDir, files[0]!)));
  } finally {
    rmSync(shotDir, { recursive: true, force: true });
  }
}

async function xImport(display: string, dir: string): Promise<Image> {
  const file = join(mkdtempSync(join(dir, 'shot-')), 'root.png');
  try {
    await run('timeout', ['5', 'import', '-window', 'root', file], { env: { DISPLAY: display }, timeoutMs: 8000 });
    return await decodePng(readFileSync(file));
  } finally {
    rmSync(join(file, '..'), { recursive: true, force: true });
  }
}

/** Run xdotool on `display` and return its output. */
export function xdotool(display: string, ...args: (string | number)[]): Promise<string> {
  return run('xdotool', args.map(String), { env: { DISPLAY: display }, timeoutMs: 10_000 });
}

/**
 * Press `button` at output point (x, y) on an x11-backed weston until `reached` (given a timeout)
 * resolves, and return what it resolved to. A press that lands while weston still animates a new
 * window (its map animation scales it) can miss it: the button is released and pressed again, up
 * to `attempts` times. With `click` each press is a whole click (press and release).
 */
export async function pressUntil<T>(
  weston: Pick<Weston, 'xdotool'>,
  at: { x: number; y: number; button?: number; click?: boolean; attempts?: number },
  reached: (timeoutMs: number) => Promise<T>,
): Promise<T> {
  const button = at.button ?? 1;
  const attempts = at.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    await weston.xdotool('mousemove', at.x, at.y, at.click ? 'click' : 'mousedown', button);
    try {
      return await reached(2000);
    } catch (e) {
      if (!at.click) await weston.xdotool('mouseup', button);
      if (attempt === attempts) throw new Error(`${(e as Error).message} (${attempts} presses at ${at.x},${at.y})`);
    }
  }
}

/**
 * Wait until two screenshots of `weston` 200 ms apart differ in more than 100 pixels: an
 * animating window (weston-simple-shm) is still updating. `what` names it in the timeout error.
 */
export async function screenKeepsChanging(weston: Pick<Weston, 'screenshot'>, what: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    what,
    async () => {
      const a = await weston.screenshot();
      await sleep(200);
      const b = await weston.screenshot();
      return diffCount(a, b) > 100;
    },
    timeoutMs,
    100,
  );
}

async function sceneGraphOf(socket: string): Promise<View[]> {
  const text = await run('timeout', ['5', 'weston-debug', 'scene-graph'], { env: { WAYLAND_DISPLAY: socket }, timeoutMs: 8000 });
  return parseSceneGraph(text);
}

/** Start weston (see the module comment for what each option does). */
export async function startWeston(options: WestonOptions = {}): Promise<Weston> {
  const backend = options.backend ?? 'headless';
  const shell = options.shell ?? 'desktop';
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  const keep = process.env['WALTHAM_E2E_KEEP'] !== undefined;

  const workDir = mkdtempSync(join(tmpdir(), 'wb-weston-'));
  const runtimeDir = join(workDir, 'rt');
  mkdirSync(runtimeDir, { mode: 0o700 });
  chmodSync(runtimeDir, 0o700); // mkdir's mode is filtered by the umask
  const iniPath = join(workDir, 'weston.ini');
  writeFileSync(iniPath, configText(shell, options.config));

  // Never let weston or its clients pick up the caller's compositor or X server by accident.
  const baseEnv: Record<string, string | undefined> = { WAYLAND_DISPLAY: undefined, WAYLAND_SOCKET: undefined, DISPLAY: undefined, ...options.env };
  const common = ['--use-pixman', '--debug', `--width=${width}`, `--height=${height}`, '--idle-time=0'];
  const started: ManagedProcess[] = [];
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Newest first: the ivi weston before its outer compositor, weston before Xvfb.
    for (const p of [...started].reverse()) await p.stop();
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  };

  try {
    let display: string | null = null;
    let main: Started;
    let shotSource: () => Promise<Image>;
    if (backend === 'x11') {
      const x = await startXvfb(width, height, baseEnv, timeoutMs);
      started.push(x.proc);
      display = x.display;
      main = await startCompositor(
        `weston (x11${shell === 'desktop' ? '' : `, ${shell}`})`,
        ['--backend=x11-backend.so', ...common, `--config=${iniPath}`, `--log=${join(workDir, 'weston.log')}`],
        { ...baseEnv, DISPLAY: display },
        runtimeDir,
        timeoutMs,
      );
      started.push(main.proc);
      await run('timeout', ['5', 'xdotool', 'search', '--sync', '--onlyvisible', '--class', '^Weston Compositor$'], {
        env: { DISPLAY: display },
        timeoutMs: 8000,
      });
      // Required: the x11 backend moves weston's pointer by deltas; clamping at the edge aligns it.
      await xdotool(display, 'mousemove', 1, 1, 'mousemove', 0, 0);
      const d = display;
      shotSource = shell === 'ivi' ? () => xImport(d, workDir) : () => screenshooter(main.socket, workDir);
    } else if (shell === 'ivi') {
      const outerIni = join(workDir, 'outer.ini');
      writeFileSync(outerIni, formatIni(PLAIN));
      const outer = await startCompositor(
        'weston (outer headless)',
        ['--backend=headless-backend.so', ...common, `--config=${outerIni}`, `--log=${join(workDir, 'outer.log')}`],
        baseEnv,
        runtimeDir,
        timeoutMs,
      );
      started.push(outer.proc);
      main = await startCompositor(
        'weston (ivi, nested)',
        ['--backend=wayland-backend.so', '--fullscreen', ...common, `--config=${iniPath}`, `--log=${join(workDir, 'weston.log')}`],
        { ...baseEnv, WAYLAND_DISPLAY: outer.socket },
        runtimeDir,
        timeoutMs,
      );
      started.push(main.proc);
      shotSource = () => screenshooter(outer.socket, workDir);
    } else {
      main = await startCompositor(
        `weston (headless${shell === 'desktop' ? '' : `, ${shell}`})`,
        ['--backend=headless-backend.so', ...common, `--config=${iniPath}`, `--log=${join(workDir, 'weston.log')}`],
        baseEnv,
        runtimeDir,
        timeoutMs,
      );
      started.push(main.proc);
      shotSource = () => screenshooter(main.socket, workDir);
    }

    const socket = main.socket;
    const instance: Weston = {
      backend,
      shell,
      width,
      height,
      socket,
      runtimeDir,
      pid: main.proc.pid,
      display,
      env: { WAYLAND_DISPLAY: socket, XDG_RUNTIME_DIR: runtimeDir, ...(display === null ? {} : { DISPLAY: display }) },
      screenshot: shotSource,
      sceneGraph: () => sceneGraphOf(socket),
      waitForView: (predicate, ms = 5000, what = 'a matching view') =>
        waitFor(what, async () => (await sceneGraphOf(socket)).find(predicate), ms, 50),
      xdotool: (...args) => {
        if (display === null) return Promise.reject(new Error('xdotool needs backend x11'));
        return xdotool(display, ...args);
      },
      log: () => {
        try {
          return readFileSync(join(workDir, 'weston.log'), 'utf8');
        } catch {
          return '';
        }
      },
      stop: stopAll,
    };

    await waitReady(instance, timeoutMs);
    return instance;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Wait until the shell has drawn, so the first screenshot is meaningful. */
async function waitReady(w: Weston, timeoutMs: number): Promise<void> {
  if (w.shell === 'ivi') {
    // The hmi-controller UI's background surface (ivi id 1001 = 0x3e9) is up...
    await w.waitForView((v) => v.iviId === 1001 && v.visible, timeoutMs, 'the ivi UI background (ivi-surface 0x3e9)');
    // ...and drawn where screenshots come from: neither black nor the outer background.
    await waitFor(
      'the ivi UI on screen',
      async () => {
        const p = (await w.screenshot()).pixel(Math.floor(w.width / 2), Math.floor(w.height / 3));
        if (colourMatches(p, 0x000000, 2) || colourMatches(p, BACKGROUND, 2)) throw new Error(`the centre is still ${formatColour(p)}`);
        return true;
      },
      timeoutMs,
      100,
    );
    return;
  }
  if (w.shell === 'kiosk' && w.backend === 'headless') {
    await sleep(100); // kiosk-shell on headless never shows anything (no seat); nothing to wait for
    return;
  }
  // Corners away from (0, 0), where the x11 backend's pointer sits after the sync.
  await waitFor(
    'the shell background to be drawn',
    async () => {
      const shot = await w.screenshot();
      for (const [x, y] of [[shot.width - 1, 0], [shot.width - 1, shot.height - 1], [0, shot.height - 1]] as const) {
        const p = shot.pixel(x, y);
        if (!colourMatches(p, BACKGROUND, 2)) throw new Error(`pixel (${x}, ${y}) is ${formatColour(p)}, not ${formatColour(BACKGROUND)}`);
      }
      return true;
    },
    timeoutMs,
    100,
  );
}
