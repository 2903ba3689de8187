import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameClock } from './frame-clock.js';
import type { Surface } from './compositor.js';

/** The part of a Surface the clock uses. */
function fakeSurface(consumed: boolean, now: () => number): Surface & { done: number[]; consumed: boolean; looks: number } {
  const s = {
    consumed,
    done: [] as number[],
    /** How often the clock looked at it (once per tick). */
    looks: 0,
    get hasFrameCallbacks() {
      s.looks++;
      return true;
    },
    isDestroyed: false,
    framesWaitingSince: now(),
    tree() {
      return [s];
    },
    sendFrameDone(time: number) {
      s.done.push(time);
    },
  };
  return s as unknown as Surface & { done: number[]; consumed: boolean; looks: number };
}

/** A clock (fake timers) that answered a shown surface's first frame, as its consumer presented it. */
function presentedOnce(): { clock: FrameClock; shown: ReturnType<typeof fakeSurface>; now: () => number } {
  vi.useFakeTimers();
  const now = (): number => Date.now();
  const clock = new FrameClock(now, 1000 / 60, 1000);
  const shown = fakeSurface(true, now);
  clock.schedule(shown);
  clock.presented(shown);
  expect(shown.done.length).toBe(1);
  return { clock, shown, now };
}

describe('the fallback frame clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers a surface nobody shows at about 60 Hz', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const clock = new FrameClock(now);
    const s = fakeSurface(false, now);
    clock.schedule(s);
    vi.advanceTimersByTime(17);
    expect(s.done.length).toBe(1);
    clock.close();
  });

  it('leaves a shown surface to its consumer, and answers it only when the consumer is late', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const clock = new FrameClock(now, 1000 / 60, 1000);
    const shown = fakeSurface(true, now);
    clock.schedule(shown);
    vi.advanceTimersByTime(900);
    expect(shown.done).toEqual([]);
    // No 60 Hz ticking for a surface its consumer answers: a few looks for the timeout only.
    expect(shown.looks).toBeLessThanOrEqual(4);
    vi.advanceTimersByTime(400);
    expect(shown.done.length).toBe(1);
    clock.close();
  });

  it('presented answers at once; the clock runs on while frames come and stops a tick after they stop', () => {
    const { clock, shown } = presentedOnce();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(250);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(250);
    expect(vi.getTimerCount()).toBe(0);
    // A frame every 16 ms, each presented: one timer all along, none once they stop.
    const timers = new Set<unknown>();
    for (let i = 0; i < 40; i++) {
      clock.schedule(shown);
      clock.presented(shown);
      timers.add(vi.getTimerCount() === 1 ? (clock as unknown as { timer: unknown }).timer : null);
      vi.advanceTimersByTime(16);
    }
    expect(shown.done.length).toBe(41);
    expect([...timers]).toHaveLength(1);
    expect([...timers][0]).not.toBeNull();
    vi.advanceTimersByTime(500);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an unshown surface after a shown one still gets 60 Hz', () => {
    const { clock, shown, now } = presentedOnce();
    clock.schedule(shown);
    const hidden = fakeSurface(false, now);
    clock.schedule(hidden);
    vi.advanceTimersByTime(17);
    expect(hidden.done.length).toBe(1);
    expect(shown.done.length).toBe(1);
    clock.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
