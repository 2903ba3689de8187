import { afterEach, describe, expect, it } from 'vitest';
import { WthpCompositorProxy, WthpContentProxy, WthpPresentationProxy, WthpRemoteShellProxy, type WthpSurfaceProxy } from '../shared/generated/waltham/waltham.js';
import { PeerError } from '../shared/wire/errors.js';
import { connectWaltham } from '../shared/waltham/index.js';
import { CODEC_SOLID, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { captureLogger, globalBinder, waitFor } from '../shared/remote/test/fixtures.js';
import { ReceiverServer, type ReceiverServerOptions } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

type Outcome = { kind: 'presented'; ageUs: number; refreshNs: number; seq: bigint; flags: number } | { kind: 'discarded' };

async function setup(extra: Partial<ReceiverServerOptions> = {}) {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, ...extra });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const bind = await globalBinder(client);
  const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
  const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
  const content = bind<WthpContentProxy>(WthpContentProxy);
  const presentation = bind<WthpPresentationProxy>(WthpPresentationProxy);
  const surface = compositor.createSurface();
  shell.getToplevel(surface);
  content.begin(surface, 2, 2, FORMAT_ARGB8888);
  content.tile(surface, 0, 0, 2, 2, CODEC_SOLID, new Uint8Array([0, 0, 0, 0xff]));
  /** wthp_presentation.feedback for the next commit of `s`; the outcome lands in the list. */
  const feedback = (s: WthpSurfaceProxy = surface): Outcome[] => {
    const out: Outcome[] = [];
    const fb = presentation.feedback(s);
    fb.listen({
      presented: (ageUs, refreshNs, seqHi, seqLo, flags) => {
        out.push({ kind: 'presented', ageUs, refreshNs, seq: (BigInt(seqHi) << 32n) | BigInt(seqLo), flags });
        client.destroyObject(fb);
      },
      discarded: () => {
        out.push({ kind: 'discarded' });
        client.destroyObject(fb);
      },
    });
    return out;
  };
  return { receiver, client, surface, feedback };
}

describe('wthp_presentation', () => {
  it("answers the newest commit's feedback with the display's presentation, older commits' with discarded", async () => {
    const { receiver, client, surface, feedback } = await setup();
    const first = feedback();
    surface.commit();
    const second = feedback();
    surface.commit();
    const pending = feedback(); // not committed: waits for the next commit
    await client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    // The display learns that a producer waits for how this surface is shown.
    expect(s.presentationWanted).toBe(true);
    const timeNs = process.hrtime.bigint() - 5_000_000n; // shown 5 ms ago
    s.owner.feedback.presented(s, 0, { timeNs, refreshNs: 16_666_666, seq: (1n << 32n) | 2n, flags: 0xb });
    await client.roundtrip();
    expect(s.presentationWanted).toBe(true); // `pending` still waits for the next commit
    expect(first).toEqual([{ kind: 'discarded' }]);
    expect(second).toHaveLength(1);
    const p = second[0]!;
    if (p.kind !== 'presented') throw new Error('expected presented');
    expect([p.refreshNs, p.seq, p.flags]).toEqual([16_666_666, (1n << 32n) | 2n, 0xb]);
    expect(p.ageUs).toBeGreaterThanOrEqual(5000);
    expect(pending).toEqual([]);
    // Without the display's times: presented, all zero.
    surface.commit();
    await client.roundtrip();
    s.owner.feedback.presented(s, 0);
    await client.roundtrip();
    expect(pending).toEqual([{ kind: 'presented', ageUs: 0, refreshNs: 0, seq: 0n, flags: 0 }]);
    expect(s.presentationWanted).toBe(false);
  });

  it('sends a presentation still to come (the next vblank) as a negative age', async () => {
    const { receiver, client, surface, feedback } = await setup();
    const out = feedback();
    surface.commit();
    await client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    s.owner.feedback.presented(s, 0, { timeNs: process.hrtime.bigint() + 10_000_000_000n, refreshNs: 16_666_666, seq: 0n, flags: 0 });
    await client.roundtrip();
    const p = out[0];
    if (p?.kind !== 'presented') throw new Error(`expected presented, got ${JSON.stringify(out)}`);
    expect(p.ageUs).toBeLessThanOrEqual(-9_000_000);
  });

  it('drops a transmitter with too many unanswered feedbacks on a surface, with an error naming it', async () => {
    const { client, feedback } = await setup({ limits: { maxCallbacksPerSurface: 4 } });
    for (let i = 0; i < 10; i++) feedback();
    const reason = await client.closed;
    expect(reason).toBeInstanceOf(PeerError);
    expect((reason as PeerError).text).toMatch(/wthp_presentation@\d+\.feedback: more than 4 unanswered presentation feedbacks/);
  });

  it('discards the feedbacks of a surface destroyed before it was presented', async () => {
    const { receiver, client, surface, feedback } = await setup();
    const applied = feedback();
    surface.commit();
    await client.roundtrip();
    await waitFor(() => receiver.scene.surfaces.size === 1, 'the surface');
    surface.destroy();
    await client.roundtrip();
    expect(applied).toEqual([{ kind: 'discarded' }]);
  });
});
