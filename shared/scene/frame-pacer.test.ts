import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FramePacer, RectList, type FramePacerOptions, type FrameToken } from './frame-pacer.js';
import { Damage } from '../display/damage.js';
import type { Rect } from './scene.js';

const rect = (x: number, y: number, width: number, height: number): Rect => ({ x, y, width, height });

/**
 * A consumer as the link and the local display are: `flush` sends the
 * pending state when a slot is free (synchronously, or later when `async`),
 * recording the damage it sent; `present` collects the producer's answers.
 */
function consumer(options: FramePacerOptions & { async?: boolean } = {}) {
  const sent: { token: FrameToken; damage: Rect[] | null }[] = [];
  const presented: { time: number; byClock: boolean }[] = [];
  let flushes = 0;
  const send = (): void => {
    if (!pacer.ready) return;
    const damage = pacer.damage.rects === null ? null : [...pacer.damage.rects];
    pacer.damage.clear();
    sent.push({ token: pacer.frameSent(), damage });
  };
  const pacer: FramePacer<RectList> = new FramePacer(
    new RectList(4),
    {
      flush: () => {
        flushes++;
        if (options.async === true) return true; // sent by a later `send()`
        send();
        return false;
      },
      presented: (time, byClock) => presented.push({ time, byClock }),
    },
    options,
  );
  const commit = (damage: Rect[] | null): boolean => {
    const merged = pacer.commit(damage);
    send();
    return merged;
  };
  return { pacer, sent, presented, send, commit, flushes: () => flushes };
}

describe('FramePacer', () => {
  it('sends a commit at once while frames are free, and answers the producer when it is shown', () => {
    const c = consumer({ maxInFlight: 2 });
    expect(c.commit([rect(0, 0, 10, 10)])).toBe(false);
    expect(c.sent).toHaveLength(1);
    expect(c.pacer.inFlight).toBe(1);
    c.pacer.frameDone(c.sent[0]!.token, 100);
    expect(c.presented).toEqual([{ time: 100, byClock: false }]);
    expect(c.pacer.inFlight).toBe(0);
  });

  it('merges commits that arrive while the limit is reached: one frame with the newest state goes out when a slot frees', () => {
    const c = consumer({ maxInFlight: 1 });
    c.commit([rect(0, 0, 1, 1)]);
    expect(c.commit([rect(5, 5, 2, 2)])).toBe(false); // nothing pending: the first one went out
    expect(c.pacer.blocked).toBe(true);
    expect(c.commit([rect(20, 0, 3, 3)])).toBe(true); // merged into the waiting state
    expect(c.sent).toHaveLength(1);
    expect(c.pacer.pending).toBe(true);
    c.pacer.frameDone(c.sent[0]!.token, 10);
    expect(c.sent).toHaveLength(2);
    expect(c.pacer.pending).toBe(false);
  });

  it('sends the union of the damage of merged commits', () => {
    const c = consumer({ maxInFlight: 1 });
    c.commit([rect(0, 0, 1, 1)]);
    c.commit([rect(5, 5, 2, 2)]);
    c.commit([rect(20, 0, 3, 3), rect(30, 30, 1, 1)]);
    c.pacer.frameDone(c.sent[0]!.token, 10);
    expect(c.sent[1]!.damage).toEqual([rect(5, 5, 2, 2), rect(20, 0, 3, 3), rect(30, 30, 1, 1)]);
  });

  it('sends the whole surface when a merged commit resized it or the damage list grows too long', () => {
    const c = consumer({ maxInFlight: 1 });
    c.commit([rect(0, 0, 1, 1)]);
    c.commit([rect(1, 1, 1, 1)]);
    c.commit(null);
    c.commit([rect(2, 2, 1, 1)]);
    c.pacer.frameDone(c.sent[0]!.token, 1);
    expect(c.sent[1]!.damage).toBeNull();
    for (let i = 0; i < 6; i++) c.commit([rect(i, 0, 1, 1)]);
    c.pacer.frameDone(c.sent[1]!.token, 2);
    expect(c.sent[2]!.damage).toBeNull(); // more than 4 rectangles
  });

  it('merges into a Damage accumulator as well (clipped, overlapping rectangles joined)', () => {
    const damage = new Damage(100, 100);
    const pacer = new FramePacer(damage, { flush: () => false, presented: () => undefined });
    pacer.commit([rect(0, 0, 10, 10)]);
    pacer.commit([rect(5, 0, 10, 10), rect(90, 90, 50, 50)]);
    expect(damage.rects).toEqual([rect(0, 0, 15, 10), rect(90, 90, 10, 10)]);
    pacer.invalidate();
    expect(damage.full).toBe(true);
  });

  it('answers the producer only for the newest state: a frame done while a newer state waits sends it instead', () => {
    const c = consumer({ maxInFlight: 1 });
    c.commit([rect(0, 0, 1, 1)]);
    c.commit([rect(0, 0, 1, 1)]); // waits
    c.pacer.frameDone(c.sent[0]!.token, 10);
    expect(c.presented).toEqual([]);
    expect(c.sent).toHaveLength(2);
    c.pacer.frameDone(c.sent[1]!.token, 20);
    expect(c.presented).toEqual([{ time: 20, byClock: false }]);
  });

  it('with several frames in flight, answers when the last one is shown', () => {
    const c = consumer({ maxInFlight: 3 });
    c.commit([rect(0, 0, 1, 1)]);
    c.commit([rect(0, 0, 1, 1)]);
    expect(c.pacer.inFlight).toBe(2);
    c.pacer.frameDone(c.sent[0]!.token, 10);
    expect(c.presented).toEqual([]);
    c.pacer.frameDone(c.sent[1]!.token, 20);
    expect(c.presented.map((p) => p.time)).toEqual([20]);
  });

  it('when the consumer sends later (asynchronously), waits for that frame before answering', () => {
    const c = consumer({ maxInFlight: 1, async: true });
    c.commit([rect(0, 0, 1, 1)]);
    c.commit([rect(0, 0, 1, 1)]);
    c.pacer.frameDone(c.sent[0]!.token, 10);
    expect(c.flushes()).toBe(1);
    expect(c.presented).toEqual([]);
    c.send(); // the consumer's scheduled flush
    c.pacer.frameDone(c.sent[1]!.token, 20);
    expect(c.presented.map((p) => p.time)).toEqual([20]);
  });

  it('answers anyway after maxDeferredPresents frames in a row were deferred for newer states', () => {
    const c = consumer({ maxInFlight: 1, maxDeferredPresents: 2 });
    c.commit([rect(0, 0, 1, 1)]);
    for (let i = 0; i < 3; i++) {
      c.pacer.commit([rect(0, 0, 1, 1)]); // a producer faster than the consumer
      c.pacer.frameDone(c.sent[i]!.token, i);
    }
    expect(c.presented.map((p) => p.time)).toEqual([2]);
    // The third frame was answered and the waiting state sent right after.
    expect(c.sent).toHaveLength(4);
  });

  it('ignores frames reported twice, forgotten frames and frames after dispose', () => {
    const c = consumer({ maxInFlight: 2 });
    c.commit([rect(0, 0, 1, 1)]);
    const first = c.sent[0]!.token;
    c.pacer.frameDone(first, 1);
    c.pacer.frameDone(first, 2);
    expect(c.presented).toHaveLength(1);
    c.commit([rect(0, 0, 1, 1)]);
    c.pacer.forgetFrames();
    expect(c.pacer.inFlight).toBe(0);
    c.pacer.frameDone(c.sent[1]!.token, 3);
    c.commit([rect(0, 0, 1, 1)]);
    c.pacer.dispose();
    c.pacer.frameDone(c.sent[2]!.token, 4);
    expect(c.presented).toHaveLength(1);
  });

  describe('fallback clock', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('answers the producer after the given time when nothing presents the surface, once per tick', () => {
      const c = consumer();
      c.pacer.presentAfter(250);
      c.pacer.presentAfter(250); // one answer answers every waiting callback
      vi.advanceTimersByTime(249);
      expect(c.presented).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(c.presented).toHaveLength(1);
      expect(c.presented[0]!.byClock).toBe(true);
      c.pacer.presentAfter(16);
      vi.advanceTimersByTime(16);
      expect(c.presented).toHaveLength(2);
    });

    it('does not answer when the surface went away meanwhile, the clock was cancelled or the pacer disposed', () => {
      const c = consumer();
      let alive = true;
      c.pacer.presentAfter(10, () => alive);
      alive = false;
      vi.advanceTimersByTime(10);
      c.pacer.presentAfter(10);
      c.pacer.cancelFallback();
      vi.advanceTimersByTime(10);
      c.pacer.presentAfter(10);
      c.pacer.dispose();
      vi.advanceTimersByTime(10);
      expect(c.presented).toEqual([]);
    });
  });
});
