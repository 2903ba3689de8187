/**
 * Frame callbacks for commits that bring nothing new, through the bridge.
 *
 * Browsers commit most of the time with only a frame callback (no buffer, or
 * the same one again) between real frames. The e2e client frame-only
 * (e2e/clients/frame-only.c) does exactly that: after each wl_callback.done
 * it commits again with only a frame callback, and draws a new colour on
 * SIGUSR1. One copy runs directly on the receiving weston (the display's
 * pace), one through a transmitter and a receiver on the same weston; over
 * the same stretch of time the bridged copy must get about as many callbacks
 * as the direct one, and each colour it draws next must show on the receiver.
 * Its wp_presentation feedback must say presented, with the refresh the
 * receiving weston reports to the direct copy (the receiver's real
 * presentation, carried back over Waltham).
 *
 * The same pace on sway (wlroots), whose presentation feedback for a commit
 * without a new buffer comes only when the next commit replaces it: a bridge
 * that waits for that feedback before answering stalls there.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { buildClient } from './clients/build.js';
import { matchFraction, missingBinaries, sleep, skipUnless, spawnProcess, startWeston, waitFor, type ManagedProcess, type Weston } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const count = (p: ManagedProcess, prefix: string): number => p.lines.filter((l) => l.startsWith(prefix)).length;

/** Frame callbacks of `direct` and `bridged` over the same 2 s, checked: the bridged copy gets at least half as many. */
async function comparePace(direct: ManagedProcess, bridged: ManagedProcess, logs: () => string): Promise<{ directDone: number; bridgedDone: number }> {
  await direct.waitForLine(/^done 1$/, 10_000);
  await bridged.waitForLine(/^done 1$/, 10_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
  const d0 = count(direct, 'done ');
  const b0 = count(bridged, 'done ');
  await sleep(2000);
  const directDone = count(direct, 'done ') - d0;
  const bridgedDone = count(bridged, 'done ') - b0;
  const summary = `frame callbacks in the same 2 s: ${bridgedDone} through the bridge, ${directDone} directly on the display`;
  console.log(summary);
  expect(directDone, summary).toBeGreaterThanOrEqual(10);
  expect(bridgedDone, `${summary}\n${logs()}`).toBeGreaterThanOrEqual(directDone / 2);
  return { directDone, bridgedDone };
}

/** Wait until the view of `pid` on `weston` shows `colour` on most of its area. */
async function waitForColour(weston: Weston, pid: number, colour: number, what: string): Promise<void> {
  let last = 'no view';
  try {
    await waitFor(
      what,
      async () => {
        const view = (await weston.sceneGraph()).find((v) => v.pid === pid && v.appId === 'frame-only' && v.visible);
        if (view === undefined) return undefined;
        const shot = await weston.screenshot();
        const fraction = matchFraction(shot, view.rect, colour, { tolerance: 2 });
        last = `${(fraction * 100).toFixed(1)}% of ${JSON.stringify(view.rect)} is #${colour.toString(16).padStart(6, '0')}`;
        return fraction > 0.9 ? true : undefined;
      },
      10_000,
      100,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last: ${last}`);
  }
}

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'wayland-scanner', 'gcc', 'pkg-config'))('frame callbacks of commits without new content', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let frameOnly = '';

  beforeAll(() => {
    const built = buildClient('frame-only', ['xdg-shell', 'presentation-time']);
    frameOnly = built.path;
    return () => built.remove();
  });

  it('come at the display pace through the bridge, and the frame drawn after them shows at once', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    const start = (env: Readonly<Record<string, string>>, name: string): ManagedProcess =>
      cleanup.add(spawnProcess(frameOnly, ['160', '120', '0'], { env, name, lineBuffered: false }));
    const direct = start(weston.env, 'frame-only direct');
    const bridged = start(transmitter.clientEnv, 'frame-only bridged');
    await waitForColour(weston, receiver.process.pid, 0xff0000, 'the first frame through the bridge').catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    const { bridgedDone } = await comparePace(direct, bridged, logs);

    // wp_presentation through the bridge: every frame reported presented, with the refresh of the
    // receiving weston (its output's 60 Hz as weston reports it to the direct client).
    const refreshOf = (p: ManagedProcess): number[] => p.lines.flatMap((l) => /^presented \d+ refresh (\d+)/.exec(l)?.[1] ?? []).map(Number);
    const directRefresh = refreshOf(direct);
    const bridgedRefresh = refreshOf(bridged);
    expect(directRefresh.length, direct.tail()).toBeGreaterThan(0);
    expect(directRefresh[directRefresh.length - 1]).toBeGreaterThan(0);
    expect(bridgedRefresh.length, `${bridged.tail()}\n${logs()}`).toBeGreaterThanOrEqual(bridgedDone);
    expect(bridgedRefresh[bridgedRefresh.length - 1]).toBe(directRefresh[directRefresh.length - 1]);

    // What the application draws after those commits shows, each time.
    for (const [n, colour] of [
      [2, 0x00ff00],
      [3, 0x0000ff],
    ] as const) {
      process.kill(bridged.pid, 'SIGUSR1');
      await bridged.waitForLine(new RegExp(`^drew ${n} `), 5000);
      await waitForColour(weston, receiver.process.pid, colour, `frame ${n} on the receiver`).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    }
  });
});

/**
 * sway headless as in ../shared/test-recipes.md, recipe 3: as the
 * unprivileged user `wltest` (sway refuses root; the user is created when
 * missing), pixman, no input devices; root reaches its socket directly.
 */
async function startSway(): Promise<{ env: Record<string, string>; process: ManagedProcess; stop(): Promise<void> }> {
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'wltest'], { encoding: 'utf8' }).trim());
  try {
    id('-u');
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/sh', 'wltest']);
  }
  const [uid, gid] = [id('-u'), id('-g')];
  const dir = mkdtempSync(join(tmpdir(), 'wb-frames-sway-'));
  chmodSync(dir, 0o755);
  const runtimeDir = join(dir, 'rt');
  execFileSync('install', ['-d', '-m', '0700', '-o', String(uid), '-g', String(gid), runtimeDir]);
  const config = join(dir, 'sway.conf');
  writeFileSync(config, ['xwayland disable', 'output HEADLESS-1 resolution 800x600 position 0 0 bg #204060 solid_color', `exec sh -c 'echo "$WAYLAND_DISPLAY" > "$XDG_RUNTIME_DIR/ready"'`, ''].join('\n'));
  chmodSync(config, 0o644);
  const env = { HOME: dir, LANG: 'C.UTF-8', XDG_RUNTIME_DIR: runtimeDir, WLR_BACKENDS: 'headless', WLR_RENDERER: 'pixman', WLR_LIBINPUT_NO_DEVICES: '1', WLR_HEADLESS_OUTPUTS: '1' };
  const proc = spawnProcess('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', 'sway', '-c', config], { cleanEnv: true, env, name: 'sway', lineBuffered: false });
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('sway to start', () => {
      if (!proc.running) throw new Error(`sway exited\n${proc.tail()}`);
      return existsSync(join(runtimeDir, 'ready')) && readFileSync(join(runtimeDir, 'ready'), 'utf8').trim() !== '';
    }, 15_000, 50);
  } catch (e) {
    await stop();
    throw e;
  }
  const socket = join(runtimeDir, readFileSync(join(runtimeDir, 'ready'), 'utf8').trim());
  return { env: { WAYLAND_DISPLAY: socket, XDG_RUNTIME_DIR: runtimeDir }, process: proc, stop };
}

const swayMissing = missingBinaries('sway', 'setpriv', 'useradd', 'wayland-scanner', 'gcc', 'pkg-config');
if (swayMissing.length > 0) console.warn(`skipping the sway frame test: ${swayMissing.join(', ')} not installed`);
const notRoot = process.getuid?.() !== 0;
if (notRoot) console.warn('skipping the sway frame test: sway runs as the user wltest, which only root can switch to');

describe.skipIf(swayMissing.length > 0 || notRoot)('frame callbacks of commits without new content, on sway', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let frameOnly = '';

  beforeAll(() => {
    const built = buildClient('frame-only', ['xdg-shell', 'presentation-time']);
    frameOnly = built.path;
    return () => built.remove();
  });

  it('come at the display pace through the bridge, new buffers every tenth frame included', async () => {
    const sway = cleanup.add(await startSway(), 'sway');
    const receiver = cleanup.add(await startReceiver(sway.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process, sway: sway.process });
    const start = (env: Readonly<Record<string, string>>, name: string): ManagedProcess =>
      cleanup.add(spawnProcess(frameOnly, ['160', '120', '10'], { env, name, lineBuffered: false }));
    const direct = start(sway.env, 'frame-only direct');
    const bridged = start(transmitter.clientEnv, 'frame-only bridged');
    await comparePace(direct, bridged, logs);
  });
});
