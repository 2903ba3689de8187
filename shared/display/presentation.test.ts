import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WpPresentationFeedbackKind, type WlSurfaceProxy, type WpPresentationProxy } from '../generated/wayland/index.js';
import type { PresentationInfo } from '../scene/scene.js';
import { readFileSync } from 'node:fs';
import { afterLag, DisplayPresentation, nextPresentation, REFRESH_MS, STEADY_AFTER } from './presentation.js';

describe('predictions', () => {
  it('agree with the cases the native steady path is checked against (presentation-vectors.txt)', () => {
    const text = readFileSync(new URL('./presentation-vectors.txt', import.meta.url), 'utf8');
    const cases = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const line of cases) {
      const [given, want] = line.split('->').map((p) => p.trim().split(/\s+/).map((v) => BigInt(v)));
      const [mode, lastTimeNs, refreshNs, seq, lagNs, now] = given!;
      const last: PresentationInfo = { timeNs: lastTimeNs!, refreshNs: Number(refreshNs), seq: seq!, flags: 0 };
      const p = mode === 2n ? afterLag(last, now! + lagNs!) : nextPresentation(last, now!);
      expect([p.timeNs, p.seq], line).toEqual(want);
    }
  });
});

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
/** From a commit to its frame callback (ms). */
const TO_DONE_MS = 5;

describe('DisplayPresentation: real feedback for a producer that waits for it', () => {
  beforeEach(() => {
    // Both clocks it reads: performance.now() (when to ask) and process.hrtime (frame callbacks).
    vi.useFakeTimers({ toFake: ['performance', 'hrtime'] });
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
   * `frames` frames of a producer that waits for feedback, one every 25 ms (40 a second): a
   * commit, its frame callback TO_DONE_MS later, and then the real feedback if one was asked,
   * at `at(done, i)` (ns on this process's monotonic clock) with `flags`. Returns the frames
   * that asked, and what `expected` said at each frame callback.
   */
  function run(
    s: ReturnType<typeof display>,
    from: number,
    frames: number,
    at: (done: bigint, i: number) => bigint,
    flags: number = VSYNC,
  ): { asking: number[]; predicted: { done: bigint; info: PresentationInfo | undefined }[] } {
    const asking: number[] = [];
    const predicted: { done: bigint; info: PresentationInfo | undefined }[] = [];
    for (let i = from; i < from + frames; i++) {
      const asked = s.d.request(s.wl, true);
      vi.advanceTimersByTime(TO_DONE_MS);
      const done = process.hrtime.bigint();
      predicted.push({ done, info: s.d.expected(s.wl, asked) });
      if (asked !== null) {
        asking.push(i);
        const t = at(done, i);
        s.fake.asked.at(-1)!.presented!(0, Number(t / 1_000_000_000n), Number(t % 1_000_000_000n), REFRESH, 0, i, flags);
      }
      vi.advanceTimersByTime(25 - TO_DONE_MS);
    }
    return { asking, predicted };
  }

  /** Up to 40 us either side, as a real display's timestamps vary. */
  const jitter = (i: number): bigint => (i % 2 === 0 ? 40_000n : -40_000n);
  /** The first vertical blank of a 60 Hz display after `done` (its phase from 0). */
  const onVblank = (done: bigint, i: number): bigint => (done / BigInt(REFRESH) + 1n) * BigInt(REFRESH) + jitter(i);
  /** A refresh after the frame callback, as weston's headless backend presents. */
  const aRefreshLater = (done: bigint, i: number): bigint => done + BigInt(REFRESH) + jitter(i);
  const first = (n: number, from = 0): number[] => [...Array(n).keys()].map((k) => from + k);

  /** The asks after the first `STEADY_AFTER + 1` are at most one every REFRESH_MS, and there are some. */
  function expectSparse(asking: number[], frames: number): void {
    expect(asking.slice(0, STEADY_AFTER + 1)).toEqual(first(STEADY_AFTER + 1));
    const later = asking.slice(STEADY_AFTER + 1);
    expect(later.length).toBeGreaterThan(0);
    expect(later.length).toBeLessThanOrEqual(Math.ceil(((frames - STEADY_AFTER - 1) * 25) / REFRESH_MS));
    for (let k = 1; k < later.length; k++) expect((later[k]! - later[k - 1]!) * 25).toBeGreaterThanOrEqual(REFRESH_MS);
  }

  it('a display on its vertical blank: every frame until it shows itself steady, then at most every REFRESH_MS, predicted from the phase', () => {
    const s = display();
    const { asking, predicted } = run(s, 0, 80, onVblank);
    expectSparse(asking, 80);
    expect(s.d.steady(s.wl)).toBe(true);
    expect(s.d.following(s.wl), 'predicted, not following').toBe(false);
    // Predictions: the first vertical blank after each frame callback.
    for (const p of predicted.slice(20)) {
      const next = (p.done / BigInt(REFRESH) + 1n) * BigInt(REFRESH);
      const off = p.info!.timeNs - next;
      expect(off < 0n ? -off : off).toBeLessThanOrEqual(100_000n);
    }
  });

  it('a display that shows each frame a refresh after its frame callback (weston headless): the same, predicted from the callback', () => {
    const s = display();
    const { asking, predicted } = run(s, 0, 80, aRefreshLater, 0);
    expectSparse(asking, 80);
    expect(s.d.steady(s.wl)).toBe(true);
    for (const p of predicted.slice(20)) {
      const off = p.info!.timeNs - (p.done + BigInt(REFRESH));
      expect(off < 0n ? -off : off).toBeLessThanOrEqual(100_000n);
    }
  });

  it('asks for every frame of a display steady neither way: a phase without the vsync kind, a lag that varies, or one repeated time', () => {
    const unsynchronized = display();
    // Following (a native path may take it, asking every frame's) from the first presentation on.
    expect(unsynchronized.d.following(unsynchronized.wl)).toBe(false);
    expect(run(unsynchronized, 0, 60, onVblank, 0).asking).toHaveLength(60);
    expect(unsynchronized.d.steady(unsynchronized.wl)).toBe(false);
    expect(unsynchronized.d.following(unsynchronized.wl)).toBe(true);
    expect(unsynchronized.d.prediction(unsynchronized.wl).mode).toBe(1);
    // Not for a producer that does not ask (asked for now and then).
    vi.advanceTimersByTime(REFRESH_MS);
    expect(unsynchronized.d.request(unsynchronized.wl, false)).not.toBeNull();
    expect(unsynchronized.d.following(unsynchronized.wl)).toBe(false);
    // Shown when the next commit comes (wlroots): 1 to 10 ms after the callback, varying.
    const varying = display();
    expect(run(varying, 0, 60, (done, i) => done + BigInt(1 + ((i * 7) % 10)) * 1_000_000n, 0).asking).toHaveLength(60);
    const frozen = display();
    expect(run(frozen, 0, 60, () => 5_000_000_000n).asking).toHaveLength(60);
  });

  it('asks for every frame again after a presentation off the phase, or off the lag', () => {
    const s = display();
    run(s, 0, 40, onVblank);
    expect(s.d.steady(s.wl)).toBe(true);
    // The next real feedback lands between two vertical blanks (a new mode, a restarted clock).
    const off = run(s, 40, 12, (done, i) => onVblank(done, i) + BigInt(Math.floor(REFRESH / 2))).asking;
    expect(off.length).toBeGreaterThan(0);
    expect(s.d.steady(s.wl)).toBe(false);
    const from = off.at(-1)! + 1;
    expect(run(s, from, STEADY_AFTER, onVblank).asking).toEqual(first(STEADY_AFTER, from));

    const h = display();
    run(h, 0, 40, aRefreshLater, 0);
    expect(h.d.steady(h.wl)).toBe(true);
    const later = run(h, 40, 12, (done, i) => aRefreshLater(done, i) + 5_000_000n, 0).asking;
    expect(later.length).toBeGreaterThan(0);
    expect(h.d.steady(h.wl)).toBe(false);
    const next = later.at(-1)! + 1;
    expect(run(h, next, STEADY_AFTER, aRefreshLater, 0).asking).toEqual(first(STEADY_AFTER, next));
  });
});
