/**
 * The transmitter's per-application limits set in weston.ini: a real
 * waltham-transmitter reads [transmitter] max-surfaces=, max-objects= and
 * max-pixel-mib= from its --config file; an application over one gets
 * wl_display.error naming the limit and is disconnected, while
 * weston-simple-shm on the same virtual display keeps updating on a real
 * receiver's headless weston.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { screenKeepsChanging, skipUnless, startWeston, waitFor } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';
import { PeerError } from '../shared/wire/errors.js';
import { WlDisplayError } from '../shared/generated/wayland/index.js';
import { TestClient } from '../transmitter/compositor/test/helpers.js';

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm'))('per-application limits from the transmitter\'s weston.ini', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  async function setup(transmitterSection: string) {
    const dir = mkdtempSync(join(tmpdir(), 'wb-txlimits-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const ini = join(dir, 'weston.ini');
    writeFileSync(ini, `[transmitter]\n${transmitterSection}\n`);
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-simple-shm'], ['--config', ini]));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    try {
      await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, 'the remoted window');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    }
    const app = await TestClient.connectTo(transmitter.clientEnv.WAYLAND_DISPLAY!);
    cleanup.defer(() => app.close());
    /** weston-simple-shm (it animates) still changes on the receiver's screen. */
    const stillUpdating = async (): Promise<void> => {
      await screenKeepsChanging(weston, `weston-simple-shm to change on screen\n${logs()}`);
      expect(transmitter.process.running).toBe(true);
    };
    /** The error `app` was disconnected with. */
    const errorOf = async (): Promise<PeerError> => {
      await waitFor(`the application to be disconnected\n${logs()}`, () => app.client.closed, 10_000, 50);
      const reason = app.client.closeReason;
      expect(reason).toBeInstanceOf(PeerError);
      return reason as PeerError;
    };
    return { app, stillUpdating, errorOf };
  }

  it('max-surfaces=4: the fifth wl_surface disconnects that application only', async () => {
    const s = await setup('max-surfaces=4');
    for (let i = 0; i < 4; i++) s.app.compositor.createSurface();
    await s.app.roundtrip();
    expect(s.app.client.closed).toBe(false);
    s.app.compositor.createSurface();
    await s.app.roundtrip().catch(() => undefined);
    const err = await s.errorOf();
    expect(err.errorCode).toBe(WlDisplayError.NoMemory);
    expect(err.message).toMatch(/limit max-surfaces: more than 4 surfaces/);
    await s.stillUpdating();
  }, 60_000);

  it('max-objects=64: creating objects without end disconnects that application only', async () => {
    const s = await setup('max-objects=64');
    for (let i = 0; i < 200; i++) s.app.compositor.createRegion();
    await s.app.roundtrip().catch(() => undefined);
    const err = await s.errorOf();
    expect(err.errorCode).toBe(WlDisplayError.NoMemory);
    expect(err.message).toMatch(/limit max-objects: more than 64 objects/);
    await s.stillUpdating();
  }, 60_000);

  it('max-pixel-mib=1: a buffer past one MiB of committed pixels disconnects that application only', async () => {
    const s = await setup('max-pixel-mib=1');
    // 400x400 (625 KiB) fits; a second one brings the application to 1.22 MiB.
    const first = await s.app.toplevel('first');
    first.show(s.app.buffer(400, 400, () => 0xff0000ff));
    await s.app.roundtrip();
    expect(s.app.client.closed).toBe(false);
    const second = await s.app.toplevel('second');
    second.show(s.app.buffer(400, 400, () => 0xffff0000));
    await s.app.roundtrip().catch(() => undefined);
    const err = await s.errorOf();
    expect(err.errorCode).toBe(WlDisplayError.NoMemory);
    expect(err.message).toMatch(/limit max-pixel-mib: a 400x400 buffer brings the application's pixels to 1280000 bytes \(limit 1048576\)/);
    await s.stillUpdating();
  }, 60_000);
});
