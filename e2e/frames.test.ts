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
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { buildClient } from './clients/build.js';
import { matchFraction, sleep, skipUnless, spawnProcess, startWeston, waitFor, type ManagedProcess, type Weston } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const count = (p: ManagedProcess, prefix: string): number => p.lines.filter((l) => l.startsWith(prefix)).length;

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
    await direct.waitForLine(/^done 1$/, 10_000);
    await bridged.waitForLine(/^done 1$/, 10_000);

    // The same stretch of time for both: callbacks counted at its start and end.
    const d0 = count(direct, 'done ');
    const b0 = count(bridged, 'done ');
    await sleep(2000);
    const directDone = count(direct, 'done ') - d0;
    const bridgedDone = count(bridged, 'done ') - b0;
    const summary = `frame callbacks in the same 2 s: ${bridgedDone} through the bridge, ${directDone} directly on the display`;
    console.log(summary);
    expect(directDone, summary).toBeGreaterThanOrEqual(10);
    expect(bridgedDone, `${summary}\n${logs()}`).toBeGreaterThanOrEqual(directDone / 2);

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
