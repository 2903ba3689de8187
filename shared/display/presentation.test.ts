import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WpPresentationFeedbackKind, type WlSurfaceProxy, type WpPresentationProxy } from '../generated/wayland/index.js';
import { DisplayPresentation, nextPresentation, REFRESH_MS, STEADY_AFTER } from './presentation.js';

describe('nextPresentation', () => {
  const last = { timeNs: 100_000_000_500n, refreshNs: 16_000_000, seq: 7n, flags: 3 };

  it('is the last presentation while it is not past', () => {
    expect(nextPresentation(last, last.timeNs - 1n)).toEqual(last);
    expect(nextPresentation(last, last.timeNs)).toEqual(last);
  });

  it('moves on by whole refreshes to the first one not past, the sequence with it', () => {
    expect(nextPresentation(last, last.timeNs + 1n)).toEqual({ ...last, timeNs: last.timeNs + 16_000_000n, seq: 8n });
    expect(nextPresentation(last, last.timeNs + 40_000_000n)).toEqual({ ...last, timeNs: last.timeNs + 48_000_000n, seq: 10n });
  });

  it('keeps the last presentation when the refresh is unknown, and a sequence of 0 (none) at 0', () => {
    expect(nextPresentation({ ...last, refreshNs: 0 }, last.timeNs + 40_000_000n)).toEqual({ ...last, refreshNs: 0 });
    expect(nextPresentation({ ...last, seq: 0n }, last.timeNs + 1n).seq).toBe(0n);
  });
});

/** The compositor's wp_presentation as DisplayPresentation sees it: each feedback asked, answered by the test. */
class FakePresentation {
  clockId: ((id: number) => void) | undefined;
  readonly asked: { presented?: (...args: number[]) => void }[] = [];

  listen(handlers: { clockId: (id: number) => void }): void {
    this.clockId = handlers.clockId;
  }

  feedback(): { listen(handlers: { presented: (...args: number[]) => void }): void } {
    const fb: { presented?: (...args: number[]) => void } = {};
    this.asked.push(fb);
    return { listen: (handlers) => (fb.presented = handlers.presented) };
  }
}

const REFRESH = 16_666_667;
const VSYNC = WpPresentationFeedbackKind.Vsync;

describe('DisplayPresentation: real feedback for a producer that waits for it', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function display(): { fake: FakePresentation; d: DisplayPresentation; wl: WlSurfaceProxy } {
    const fake = new FakePresentation();
    const d = new DisplayPresentation(fake as unknown as WpPresentationProxy);
    fake.clockId!(1); // CLOCK_MONOTONIC
    return { fake, d, wl: {} as WlSurfaceProxy };
  }

  /**
   * `frames` frames of a producer that waits for feedback, one every `periodMs`; each real
   * feedback asked is answered at `at(i)` (ns on the compositor's clock) with `flags`.
   * Returns the frames that asked.
   */
  function run(s: ReturnType<typeof display>, from: number, frames: number, periodMs: number, at: (i: number) => bigint, flags: number = VSYNC): number[] {
    const asking: number[] = [];
    for (let i = from; i < from + frames; i++) {
      const before = s.fake.asked.length;
      s.d.request(s.wl, true);
      if (s.fake.asked.length > before) {
        asking.push(i);
        const t = at(i);
        s.fake.asked.at(-1)!.presented!(0, Number(t / 1_000_000_000n), Number(t % 1_000_000_000n), REFRESH, 0, i, flags);
      }
      vi.advanceTimersByTime(periodMs);
    }
    return asking;
  }

  const BASE = 5_000_000_000_000n;
  /**
   * 40 frames a second on a 60 Hz display: each shown at the first vertical blank after its
   * commit, its timestamp up to 40 us either side (as a real display's vary).
   */
  const onVblank = (i: number): bigint => BASE + BigInt(Math.ceil((i * 25_000_000) / REFRESH)) * BigInt(REFRESH) + BigInt(i % 2 === 0 ? 40_000 : -40_000);

  it('asks for every frame until the display shows itself steady, then at most every REFRESH_MS', () => {
    const s = display();
    const asking = run(s, 0, 80, 25, onVblank);
    expect(asking.slice(0, STEADY_AFTER + 1)).toEqual([...Array(STEADY_AFTER + 1).keys()]);
    expect(s.d.steady(s.wl)).toBe(true);
    const later = asking.slice(STEADY_AFTER + 1);
    expect(later.length).toBeGreaterThan(0);
    expect(later.length).toBeLessThanOrEqual(Math.ceil(((80 - STEADY_AFTER - 1) * 25) / REFRESH_MS));
    for (let k = 1; k < later.length; k++) expect((later[k]! - later[k - 1]!) * 25).toBeGreaterThanOrEqual(REFRESH_MS);
  });

  it('asks for every frame of a display that starts a new phase with each (weston headless), does not say it is synchronized, or repeats one time', () => {
    const restarts = display();
    expect(run(restarts, 0, 60, 25, (i) => BASE + BigInt(i) * 25_200_000n)).toHaveLength(60);
    expect(restarts.d.steady(restarts.wl)).toBe(false);
    const unsynchronized = display();
    expect(run(unsynchronized, 0, 60, 25, onVblank, 0)).toHaveLength(60);
    expect(unsynchronized.d.steady(unsynchronized.wl)).toBe(false);
    // One time for every frame: no vertical blank is seen to pass.
    const frozen = display();
    expect(run(frozen, 0, 60, 25, () => BASE)).toHaveLength(60);
  });

  it('asks for every frame again after a presentation off the phase', () => {
    const s = display();
    run(s, 0, 40, 25, onVblank);
    expect(s.d.steady(s.wl)).toBe(true);
    // The next real feedback lands between two vertical blanks (a new mode, a restarted clock).
    const off = run(s, 40, 12, 25, (i) => onVblank(i) + BigInt(Math.floor(REFRESH / 2)));
    expect(off.length).toBeGreaterThan(0);
    expect(s.d.steady(s.wl)).toBe(false);
    const from = off.at(-1)! + 1;
    expect(run(s, from, STEADY_AFTER, 25, onVblank)).toEqual([...Array(STEADY_AFTER).keys()].map((k) => from + k));
  });
});
