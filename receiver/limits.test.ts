import { describe, expect, it } from 'vitest';
import { DEFAULT_PROCESS_LIMITS, ProcessGuard, WorkBudget } from './limits.js';
import { limitText } from '../shared/wire/errors.js';
import type { WalthamPeer } from '../shared/waltham/display.js';
import { captureLogger, sleep } from '../shared/remote/test/fixtures.js';

/** A connected peer as the guard's sweep sees it: its queued memory, and what dropped it. */
function fakePeer(label: string) {
  const peer = {
    label,
    out: 0,
    sweeps: 0,
    dropped: undefined as Error | undefined,
    isOpen: true,
    messagesIn: 1,
    lastMessageAt: Date.now(),
    get memory() {
      peer.sweeps++;
      return { in: 0, out: peer.out };
    },
    destroy(e: Error) {
      peer.dropped = e;
      peer.isOpen = false;
    },
  };
  return peer;
}

describe('WorkBudget', () => {
  it('allows the burst at once, then the rate over time, and refuses more', () => {
    let now = 0;
    const budget = new WorkBudget(100, 300, () => now);
    expect(budget.charge(300)).toBe(true);
    expect(budget.charge(1)).toBe(false);
    now = 2000; // 2 s: 200 back (after the debt of 1)
    expect(budget.charge(199)).toBe(true);
    expect(budget.charge(1)).toBe(false);
    now = 100_000; // refilled up to the burst, not beyond
    expect(budget.charge(301)).toBe(false);
  });

  it('names the limit by its [receiver] key', () => {
    expect(limitText('work-rate', 'too much')).toBe('limit work-rate: too much');
  });
});

describe('ProcessGuard', () => {
  const MiB = 1 << 20;
  const limits = { ...DEFAULT_PROCESS_LIMITS, maxQueuedBytes: 16 * MiB, maxQueuedBytesTotal: 40 * MiB };

  function guard(peers: ReturnType<typeof fakePeer>[]): ProcessGuard {
    return new ProcessGuard(limits, captureLogger().logger, () => peers as unknown as WalthamPeer[], () => true, () => 0, { rest: 200, alert: 25 });
  }

  it('sweeps at rest while memory is low, often while a peer holds more than a quarter of its limit, and drops one past it', async () => {
    const a = fakePeer('a');
    const b = fakePeer('b');
    const g = guard([a, b]);
    try {
      await sleep(700);
      const rest = a.sweeps;
      expect(rest, 'sweeps in 700 ms at rest (one each 200 ms)').toBeGreaterThanOrEqual(2);
      expect(rest).toBeLessThanOrEqual(4);
      a.out = 4 * MiB + 1; // over a quarter: the next sweep puts the guard on alert
      await sleep(700);
      expect(a.sweeps - rest, 'sweeps in 700 ms, at most 200 of them at rest, then on alert (one each 25 ms)').toBeGreaterThanOrEqual(12);
      expect(a.dropped).toBeUndefined();
      a.out = 16 * MiB + 1;
      await sleep(100);
      expect(a.dropped?.message).toMatch(/limit max-queued-mib: \d+ bytes of memory queued \(limit 16777216\)/);
      expect(b.dropped).toBeUndefined();
      const calm = b.sweeps;
      await sleep(700);
      expect(b.sweeps - calm, 'back at rest once no peer holds much').toBeLessThanOrEqual(5);
      b.out = 4 * MiB;
      const quarter = b.sweeps;
      await sleep(500);
      expect(b.sweeps - quarter, 'a quarter itself is not more than a quarter').toBeLessThanOrEqual(4);
    } finally {
      g.stop();
    }
  });

  it('goes on alert when the peers together hold more than a quarter of the total, none of them more than a quarter of its own', async () => {
    const peers = [fakePeer('a'), fakePeer('b'), fakePeer('c')];
    for (const p of peers) p.out = 3 * MiB; // 9 MiB together: under a quarter of 40
    const g = guard(peers);
    try {
      await sleep(500);
      const rest = peers[0]!.sweeps;
      expect(rest).toBeLessThanOrEqual(4);
      peers[1]!.out = 4 * MiB;
      peers[2]!.out = 4 * MiB; // 11 MiB together, each at most a quarter of its own 16
      await sleep(500);
      expect(peers[0]!.sweeps - rest, 'on alert after at most one sweep at rest').toBeGreaterThanOrEqual(8);
      expect(peers.every((p) => p.dropped === undefined)).toBe(true);
    } finally {
      g.stop();
    }
  });
});
