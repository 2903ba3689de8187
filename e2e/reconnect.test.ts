/**
 * A receiver that dies (SIGKILL: no goodbye on the wire) and comes back on
 * the same port: the application on the transmitter keeps running, and the
 * transmitter reconnects and sends the whole scene again, so the window is
 * back on the receiving compositor within a few seconds. Both kinds of
 * application: one that animates (weston-simple-shm keeps committing, and
 * keeps updating on the new receiver) and one that drew once and sits idle
 * (weston-flower: its window and pixels must come back although it never
 * draws again by itself).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startReceiver, startTransmitter } from './bridge.js';
import { diffCount, isAlive, skipUnless, sleep, spawnProcess, startWeston, waitFor, type View } from './harness/index.js';
import { Cleanup, isWindowView, logTails, waitForFrame } from './scenario.js';

interface App {
  readonly command: string;
  readonly appId: string;
  readonly animates: boolean;
}

const APPS: readonly App[] = [
  { command: 'weston-simple-shm', appId: 'org.freedesktop.weston.simple-shm', animates: true },
  { command: 'weston-flower', appId: 'org.freedesktop.weston.flower', animates: false },
];

/**
 * "Within a few seconds" after the receiver listens again: the transmitter
 * retries with exponential backoff capped at 1 s (plus up to 25% jitter);
 * then the scene is resent. The bound leaves room for a loaded machine.
 */
const BACK_WITHIN_MS = 8000;

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'weston-simple-shm', 'weston-flower'))('reconnection', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  for (const app of APPS) {
    it(`after the receiver is killed and restarted on the same port, the still-running ${app.command}’s window comes back`, async () => {
      const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
      const port = await freePort();
      const first = cleanup.add(await startReceiver(weston.env, [], { port }));
      const transmitter = cleanup.add(startTransmitter([`127.0.0.1:${port}`], []));
      await transmitter.ready();
      // Started by hand so that its own process can be watched.
      const proc = cleanup.add(spawnProcess(app.command, [], { env: transmitter.clientEnv, name: app.command }));
      let second: Awaited<ReturnType<typeof startReceiver>> | undefined;
      const logs = (): string =>
        logTails({ 'first receiver': first.process, 'second receiver': second?.process, transmitter: transmitter.process, [app.command]: proc });
      const isApp = (v: View): boolean => v.visible && v.role === 'xdg_toplevel' && v.appId === app.appId;

      const before = await weston
        .waitForView(isApp, 20_000, `${app.command} on the receiver`)
        .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
      await waitForFrame(weston, before.rect);

      first.process.child.kill('SIGKILL');
      await first.process.exited;
      // Its Wayland connection is gone, so weston drops the window.
      await waitFor('the window to go with the killed receiver', async () => (await weston.sceneGraph()).filter(isWindowView).length === 0, 5000, 50);
      await sleep(1000); // the receiver stays away for a while: the transmitter retries meanwhile

      expect(proc.running, `${app.command} kept running without a receiver\n${logs()}`).toBe(true);
      expect(transmitter.process.running, `the transmitter kept running without a receiver\n${logs()}`).toBe(true);

      second = cleanup.add(await startReceiver(weston.env, [], { port }));
      const restarted = Date.now();
      const view = await weston
        .waitForView(isApp, BACK_WITHIN_MS, `${app.command} back within ${BACK_WITHIN_MS} ms`)
        .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
      console.info(`${app.command}: the window was back ${Date.now() - restarted} ms after the receiver listened again`);

      // The same process, with its pixels on the new receiver...
      expect(isAlive(proc.pid) && proc.running, `${app.command} (pid ${proc.pid}) is the same running process\n${logs()}`).toBe(true);
      expect({ width: view.rect.width, height: view.rect.height }, 'the window size after the reconnection').toEqual({ width: before.rect.width, height: before.rect.height });
      const { shot } = await waitForFrame(weston, view.rect, 5000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
      if (!app.animates) return;
      // ...still animating.
      await sleep(500);
      const later = await weston.screenshot();
      const changed = diffCount(shot.crop(view.rect), later.crop(view.rect)) / (view.rect.width * view.rect.height);
      expect(changed, `${(changed * 100).toFixed(1)}% of the window changed in 0.5 s after the reconnection\n${logs()}`).toBeGreaterThan(0.1);
    });
  }
});
