/**
 * The work budget over every transmitter, on a real waltham-receiver on a
 * headless weston, over real TCP, while a real transmitter shows
 * weston-simple-shm through it: three Waltham peers (written with the
 * project's own Waltham library) each stay under their own budget
 * (work-rate) but together pass the total (work-rate-total); the ones over
 * their fair share are dropped with `limit work-rate-total`, a light peer
 * and the legitimate window are not.
 */
import { globalBinder } from '../shared/remote/test/fixtures.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { screenKeepsChanging, skipUnless, sleep, startWeston, waitFor } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';
import { connectWaltham } from '../shared/waltham/index.js';
import { WthpCompositorProxy, WthpContentProxy, WthpRemoteShellProxy } from '../shared/generated/waltham/waltham.js';
import { CODEC_SOLID, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { PeerError } from '../shared/wire/errors.js';

/** In Mpx/s and Mpx, as [receiver] keys. */
const LIMITS = { 'work-rate': 15, 'work-burst': 30, 'work-rate-total': 24, 'work-burst-total': 30 };

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm'))('the work budget over every transmitter', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  /** A peer showing one `size` x `size` toplevel and writing `tiles` solid tiles over all of it every `everyMs`. */
  async function writer(port: number, size: number, tiles: number, everyMs = 100) {
    const client = await connectWaltham('127.0.0.1', port, { logger: quiet });
    cleanup.defer(() => client.destroy());
    const bind = await globalBinder(client);
    const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
    const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
    const content = bind<WthpContentProxy>(WthpContentProxy);
    const surface = compositor.createSurface();
    shell.getToplevel(surface);
    let closed: Error | undefined | null = null;
    void client.closed.then((reason) => (closed = reason));
    let frame = 0;
    const timer = setInterval(() => {
      if (closed !== null) return;
      content.begin(surface, size, size, FORMAT_ARGB8888);
      for (let i = 0; i < tiles; i++) content.tile(surface, 0, 0, size, size, CODEC_SOLID, new Uint8Array([frame & 0xff, i, 0x80, 0xff]));
      surface.commit();
      frame++;
    }, everyMs);
    cleanup.defer(() => clearInterval(timer));
    /** The wth_display.error text it was dropped with; null: still connected. */
    const dropped = (): string | null => {
      if (closed === null) return null;
      return closed instanceof PeerError ? closed.text : `closed without wth_display.error: ${(closed as Error | undefined)?.message ?? 'orderly close'}`;
    };
    return { client, dropped };
  }

  it('three peers each under work-rate but together past work-rate-total: the heavy ones are dropped, not the light one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-work-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const ini = join(dir, 'receiver.ini');
    writeFileSync(ini, `[receiver]\n${Object.entries(LIMITS).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--config', ini]));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-simple-shm']));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, `the remoted window\n${logs()}`);

    // Heavy: a 512x512 buffer and four fills of it every 100 ms, about 13 Mpx/s each (under 15);
    // light: a 1024x1024 buffer and one fill every second, 2 Mpx at once (so it also writes when the
    // total is spent). Together about 47 Mpx/s with weston-simple-shm (4 to 7.5), past 24.
    const heavy = await Promise.all([0, 1, 2].map(() => writer(receiver.port, 512, 4)));
    const light = await writer(receiver.port, 1024, 1, 1000);
    await waitFor(`a heavy peer to be dropped\n${logs()}`, () => heavy.some((h) => h.dropped() !== null), 20_000, 50);
    // Then the others fit (one or two heavy ones gone): a few more seconds of writing.
    await sleep(4000);
    const texts = heavy.map((h) => h.dropped()).filter((t): t is string => t !== null);
    expect(texts.length, texts.join('\n')).toBeGreaterThanOrEqual(1);
    // Dropping stops once the rest fit: the last heavy one (13 Mpx/s, with the others about 20 of 24) stays.
    expect(texts.length, texts.join('\n')).toBeLessThanOrEqual(2);
    for (const t of texts) expect(t).toMatch(/limit work-rate-total: all transmitters together wrote more than 24 Mpx\/s/);
    expect(light.dropped(), logs()).toBeNull();
    await light.client.roundtrip();
    expect(receiver.process.lines.join('\n')).not.toMatch(/limit work-rate:/);
    expect(transmitter.process.lines.join('\n')).not.toMatch(/dropped|disconnected/i);
    // The legitimate window still changes on screen.
    await screenKeepsChanging(weston, `weston-simple-shm to change on screen\n${logs()}`);
  }, 60_000);
});
