import { describe, expect, it } from 'vitest';
import { WpPresentationProxy, type WlSurfaceProxy } from '../../shared/generated/wayland/index.js';
import type { CommitInfo } from '../../shared/scene/scene.js';
import { FakeConsumer, type TestClient, displayPerTest, lastSurface, waitFor } from './test/helpers.js';

const t = displayPerTest();
const { connect } = t;

type Outcome = { kind: 'presented'; timeNs: bigint; refresh: number; seq: bigint; flags: number } | { kind: 'discarded' };

async function bindPresentation(c: TestClient): Promise<{ presentation: WpPresentationProxy; clock: () => number | null }> {
  let clock: number | null = null;
  const g = c.registry.find(WpPresentationProxy.spec.name);
  if (g === undefined) throw new Error('no wp_presentation');
  const presentation = c.registry.bind(WpPresentationProxy, g, 1).listen({ clockId: (id) => (clock = id) });
  await c.roundtrip();
  return { presentation, clock: () => clock };
}

/** wp_presentation.feedback for the next commit of `surface`; its outcome lands in the returned list. */
function feedback(presentation: WpPresentationProxy, surface: WlSurfaceProxy): Outcome[] {
  const out: Outcome[] = [];
  presentation.feedback(surface).listen({
    syncOutput: () => {},
    presented: (secHi, secLo, nsec, refresh, seqHi, seqLo, flags) =>
      out.push({
        kind: 'presented',
        timeNs: ((BigInt(secHi) << 32n) | BigInt(secLo)) * 1_000_000_000n + BigInt(nsec),
        refresh,
        seq: (BigInt(seqHi) << 32n) | BigInt(seqLo),
        flags,
      }),
    discarded: () => out.push({ kind: 'discarded' }),
  });
  return out;
}

describe('wp_presentation', () => {
  it('announces CLOCK_MONOTONIC', async () => {
    const c = await connect();
    const { clock } = await bindPresentation(c);
    expect(clock()).toBe(1);
  });

  it("reports the consumer's presentation for the newest commit, and discards the commits merged before it", async () => {
    const c = await connect();
    const { presentation } = await bindPresentation(c);
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const consumer = new FakeConsumer(t.display, { present: false });
    const buf = c.buffer(4, 4, () => 0);
    const first = feedback(presentation, top.surface);
    top.show(buf);
    const second = feedback(presentation, top.surface);
    top.surface.commit();
    await c.roundtrip();
    expect([first, second]).toEqual([[], []]);
    // Consumers learn that the application waits for how this surface is shown.
    expect(scene.presentationWanted).toBe(true);
    const info = { timeNs: 123_456_789_012n, refreshNs: 16_666_666, seq: (7n << 32n) | 9n, flags: 0xb };
    scene.owner.feedback.presented(scene, 0, info);
    await c.roundtrip();
    expect(scene.presentationWanted).toBe(false);
    expect(first).toEqual([{ kind: 'discarded' }]);
    expect(second).toEqual([{ kind: 'presented', timeNs: info.timeNs, refresh: info.refreshNs, seq: info.seq, flags: info.flags }]);
    consumer.detach();
  });

  it('asks consumers to present a commit that carries only a feedback', async () => {
    const c = await connect();
    const { presentation } = await bindPresentation(c);
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const commits: CommitInfo[] = [];
    scene.on('commit', (info) => commits.push(info));
    feedback(presentation, top.surface);
    top.surface.commit();
    top.surface.commit();
    await c.roundtrip();
    expect(commits.map((i) => i.frame === true)).toEqual([true, false]);
  });

  it('answers with the present time, refresh 0, on the frame clock when nothing shows the surface', async () => {
    const c = await connect();
    const { presentation } = await bindPresentation(c);
    const top = await c.toplevel();
    const before = process.hrtime.bigint();
    const out = feedback(presentation, top.surface);
    top.show(c.buffer(4, 4, () => 0));
    await waitFor(() => out.length === 1, 2000, 'feedback by the frame clock');
    const after = process.hrtime.bigint();
    const r = out[0]!;
    if (r.kind !== 'presented') throw new Error(`expected presented, got ${r.kind}`);
    expect(r.timeNs >= before && r.timeNs <= after).toBe(true);
    expect([r.refresh, r.seq, r.flags]).toEqual([0, 0n, 0]);
  });

  it('discards the feedbacks of a surface destroyed before it was presented', async () => {
    const c = await connect();
    const { presentation } = await bindPresentation(c);
    const top = await c.toplevel();
    const consumer = new FakeConsumer(t.display, { present: false });
    const applied = feedback(presentation, top.surface);
    top.show(c.buffer(4, 4, () => 0));
    const pending = feedback(presentation, top.surface);
    top.toplevel.destroy();
    top.xdgSurface.destroy();
    top.surface.destroy();
    await c.roundtrip();
    expect([applied, pending]).toEqual([[{ kind: 'discarded' }], [{ kind: 'discarded' }]]);
    consumer.detach();
  });
});
