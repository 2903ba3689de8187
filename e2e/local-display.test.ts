/**
 * The transmitter on the sending ECU's own compositor (--display): surfaces
 * routed to no receiver show there; with --mirror they show both there and
 * on the receiver.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { skipUnless, startWeston, waitFor } from './harness/index.js';
import { Cleanup, logTails, waitForFrame } from './scenario.js';

const APP_ID = 'org.freedesktop.weston.simple-shm';
const skip = skipUnless('weston', 'weston-simple-shm', 'weston-screenshooter');

describe.skipIf(skip)('the transmitter with a local display', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('shows a surface routed to no receiver on its own compositor', async () => {
    const local = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const tx = cleanup.add(startTransmitter([], ['weston-simple-shm'], ['--display', local.socket]));
    try {
      const view = await local.waitForView((v) => v.visible && v.appId === APP_ID, 20_000, 'simple-shm on the local compositor');
      const { check } = await waitForFrame(local, view.rect);
      expect(check.ok).toBe(true);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logTails({ transmitter: tx.process })}`);
    }
  });

  it('with --mirror shows the surface locally and on the receiver, and without it only on the receiver', async () => {
    const [local, remote] = await cleanup.addAll([
      startWeston({ backend: 'headless', width: 640, height: 480 }),
      startWeston({ backend: 'headless', width: 640, height: 480 }),
    ] as const);
    const rx = cleanup.add(await startReceiver(remote.env));
    const mirrored = cleanup.add(startTransmitter([`${rx.host}:${rx.port}`], ['weston-simple-shm'], ['--display', local.socket, '--mirror']));
    try {
      const onRemote = await remote.waitForView((v) => v.visible && v.appId === APP_ID, 20_000, 'simple-shm on the receiver');
      const onLocal = await local.waitForView((v) => v.visible && v.appId === APP_ID, 20_000, 'simple-shm on the local compositor');
      expect((await waitForFrame(remote, onRemote.rect)).check.ok).toBe(true);
      expect((await waitForFrame(local, onLocal.rect)).check.ok).toBe(true);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logTails({ transmitter: mirrored.process, receiver: rx.process })}`);
    }
    await mirrored.stop();
    await waitFor('the mirrored window to leave the local compositor', async () => !(await local.sceneGraph()).some((v) => v.visible && v.appId === APP_ID), 10_000);

    const routed = cleanup.add(startTransmitter([`${rx.host}:${rx.port}`], ['weston-simple-shm'], ['--display', local.socket]));
    try {
      await remote.waitForView((v) => v.visible && v.appId === APP_ID, 20_000, 'simple-shm on the receiver');
      // Give the local display time to (wrongly) show it too.
      await new Promise((r) => setTimeout(r, 1500));
      const localViews = await local.sceneGraph();
      expect(localViews.filter((v) => v.visible && v.appId === APP_ID)).toEqual([]);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logTails({ transmitter: routed.process, receiver: rx.process })}`);
    }
  });
});
