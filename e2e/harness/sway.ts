/**
 * sway headless for end-to-end tests, as ../shared/test-recipes.md (recipe 3)
 * prescribes: sway refuses to run as root, so it runs as an unprivileged user
 * (`wltest`, created when missing) in its own runtime directory (mode 0700,
 * owned by that user), with the pixman renderer and no input devices. Ready =
 * the config's `exec` wrote the socket names into a marker file.
 *
 * Root talks to it directly: root ignores the directory's permissions, so
 * clients (our receiver) connect with the absolute socket path, `swaymsg`
 * uses SWAYSOCK and screenshots come from grim (wlr-screencopy).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Rect } from '../../shared/scene/scene.js';
import { decodePng, type Image } from './image.js';
import { missingBinaries, run, spawnProcess, waitFor, type ManagedProcess } from './process.js';

/** The user sway runs as. */
export const SWAY_USER = 'wltest';
/** The background colour of the output. */
export const SWAY_BACKGROUND = 0x204060;

export interface SwayOptions {
  /** Output size (default 800x600). */
  readonly width?: number;
  readonly height?: number;
  /** Extra lines for the sway config (rules such as `for_window [...] floating enable`). */
  readonly config?: readonly string[];
  readonly startTimeoutMs?: number;
}

/** One node of `swaymsg -t get_tree` (the fields tests use). */
export interface SwayNode {
  readonly id: number;
  readonly type: string;
  readonly app_id?: string | null;
  readonly name?: string | null;
  readonly rect: Rect;
  readonly fullscreen_mode?: number;
  readonly visible?: boolean;
  readonly nodes: readonly SwayNode[];
  readonly floating_nodes: readonly SwayNode[];
}

export interface Sway {
  readonly process: ManagedProcess;
  /** Absolute path of the Wayland socket. */
  readonly socket: string;
  readonly runtimeDir: string;
  /** Environment for clients run as root (WAYLAND_DISPLAY absolute, SWAYSOCK). */
  readonly env: Readonly<Record<string, string>>;
  swaymsg(...args: string[]): Promise<string>;
  /** Every node of the tree, depth first. */
  nodes(): Promise<SwayNode[]>;
  /** The first view with this app_id, if any. */
  view(appId: string): Promise<SwayNode | undefined>;
  screenshot(): Promise<Image>;
  stop(): Promise<void>;
}

/** Why sway tests cannot run here, or null. */
export function swayMissing(): string | null {
  const missing = missingBinaries('sway', 'swaymsg', 'grim', 'setpriv', 'useradd');
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  if (process.getuid?.() !== 0) return 'sway tests create and use an unprivileged user: run them as root';
  return null;
}

/** For `describe.skipIf`: true (with the reason printed) when sway tests cannot run. */
export function skipUnlessSway(): boolean {
  const why = swayMissing();
  if (why !== null) console.log(`skipping sway tests: ${why}`);
  return why !== null;
}

function userIds(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(execFileSync('id', [flag, SWAY_USER], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    try {
      execFileSync('useradd', ['-m', '-s', '/bin/sh', SWAY_USER], { stdio: 'ignore' });
    } catch {
      // Another test may have created it meanwhile: `id` below says.
    }
    return { uid: id('-u'), gid: id('-g') };
  }
}

export async function startSway(options: SwayOptions = {}): Promise<Sway> {
  const width = options.width ?? 800;
  const height = options.height ?? 600;
  const { uid, gid } = userIds();
  const runtimeDir = mkdtempSync(join(tmpdir(), 'wb-sway-'));
  chownSync(runtimeDir, uid, gid);
  chmodSync(runtimeDir, 0o700);
  const configDir = mkdtempSync(join(tmpdir(), 'wb-sway-conf-'));
  chmodSync(configDir, 0o755);
  const config = join(configDir, 'sway.conf');
  const bg = `#${SWAY_BACKGROUND.toString(16).padStart(6, '0')}`;
  writeFileSync(
    config,
    [
      'xwayland disable',
      `output HEADLESS-1 resolution ${width}x${height} position 0 0 bg ${bg} solid_color`,
      'default_border none',
      'default_floating_border none',
      'focus_follows_mouse no',
      'font monospace 10',
      ...(options.config ?? []),
      `exec sh -c 'echo "$WAYLAND_DISPLAY $SWAYSOCK" > "$XDG_RUNTIME_DIR/sway-ready"'`,
    ].join('\n') + '\n',
  );
  chmodSync(config, 0o644);
  const proc = spawnProcess(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', 'sway', '-c', config],
    {
      cleanEnv: true,
      env: {
        HOME: tmpdir(),
        USER: SWAY_USER,
        LANG: 'C.UTF-8',
        XDG_RUNTIME_DIR: runtimeDir,
        WLR_BACKENDS: 'headless',
        WLR_RENDERER: 'pixman',
        WLR_LIBINPUT_NO_DEVICES: '1',
        WLR_HEADLESS_OUTPUTS: '1',
      },
      name: 'sway',
      lineBuffered: false,
    },
  );
  const cleanupFiles = (): void => {
    rmSync(runtimeDir, { recursive: true, force: true });
    rmSync(configDir, { recursive: true, force: true });
  };
  const ready = join(runtimeDir, 'sway-ready');
  try {
    await waitFor('sway to start', () => {
      if (!proc.running) throw new Error(`sway exited\n${proc.tail()}`);
      return existsSync(ready) && readFileSync(ready, 'utf8').includes(' ');
    }, options.startTimeoutMs ?? 15_000, 50);
  } catch (e) {
    await proc.stop();
    cleanupFiles();
    throw e;
  }
  const [display, swaysock] = readFileSync(ready, 'utf8').trim().split(' ') as [string, string];
  const socket = join(runtimeDir, display);
  const env = { WAYLAND_DISPLAY: socket, SWAYSOCK: swaysock };
  const swaymsg = (...args: string[]): Promise<string> => run('swaymsg', args, { env, timeoutMs: 10_000 });
  const nodes = async (): Promise<SwayNode[]> => {
    const out: SwayNode[] = [];
    const walk = (n: SwayNode): void => {
      out.push(n);
      for (const c of [...(n.nodes ?? []), ...(n.floating_nodes ?? [])]) walk(c);
    };
    walk(JSON.parse(await swaymsg('-t', 'get_tree')) as SwayNode);
    return out;
  };
  return {
    process: proc,
    socket,
    runtimeDir,
    env,
    swaymsg,
    nodes,
    view: async (appId) => (await nodes()).find((n) => n.app_id === appId),
    screenshot: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wb-grim-'));
      try {
        const file = join(dir, 'shot.png');
        await run('grim', [file], { env, timeoutMs: 10_000 });
        return await decodePng(readFileSync(file));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    stop: async () => {
      await proc.stop();
      cleanupFiles();
    },
  };
}
