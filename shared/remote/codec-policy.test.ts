import { describe, expect, it } from 'vitest';
import { CodecPolicy, type CodecFamily, type CodecPolicyOptions } from './codec-policy.js';
import { CODEC_JPEG, CODEC_WEBP } from './lossy.js';

const FHD = 1920 * 1080;
const MBIT = 1e6 / 8;

/** What a surface shows: how much of it changes per frame, and what each codec makes of it. */
interface Content {
  readonly changedShare: number;
  readonly ratio: Record<CodecFamily, number>;
  /** Bytes of pixels per second of CPU. */
  readonly speed: Record<CodecFamily, number>;
  /** If set, the lossy ratio is this times the quality instead of `ratio.lossy`. */
  readonly lossyPerQuality?: number;
}

const SPEED = { lz4: 2000e6, zstd: 1200e6, lossy: 80e6 };
/** A terminal scrolling a full screen of text per frame. */
const SCROLLING_TEXT: Content = { changedShare: 1, ratio: { lz4: 0.07, zstd: 0.035, lossy: 0.1 }, speed: SPEED };
/** A terminal with a few lines changing. */
const TYPING: Content = { changedShare: 0.03, ratio: { lz4: 0.07, zstd: 0.035, lossy: 0.1 }, speed: SPEED };
/** A film: nearly every pixel changes and compresses badly without loss. */
const VIDEO: Content = { changedShare: 0.9, ratio: { lz4: 0.9, zstd: 0.75, lossy: 0.04 }, speed: SPEED };

/**
 * A link of `capacity` bytes per second with a send queue, and applications committing full-HD
 * frames at `fps` on the given surfaces. Each frame is encoded as the policy says; the queue
 * drains at the link's rate and is reported to the policy before each frame, or with
 * `afterFlush` right after the frames are queued, as the transmitter samples (bytes that drained
 * since the previous flush are acknowledged by then).
 */
class Simulation {
  now = 0;
  queued = 0;
  readonly choices: CodecFamily[] = [];
  readonly qualities: number[] = [];

  constructor(
    readonly policy: CodecPolicy,
    private readonly afterFlush = false,
  ) {}

  run(ms: number, capacity: number, fps: number, surfaces: ReadonlyArray<readonly [number, Content]>): CodecFamily[] {
    const seen: CodecFamily[] = [];
    const end = this.now + ms;
    const step = 1000 / fps;
    while (this.now + step <= end) {
      this.now += step;
      const drained = Math.min(this.queued, (capacity * step) / 1000);
      this.queued -= drained;
      if (!this.afterFlush) this.policy.linkSample({ now: this.now, ackedBytes: drained, queuedBytes: this.queued });
      for (const [surface, content] of surfaces) {
        const choice = this.policy.choose(surface, this.now);
        const changedPixels = Math.round(FHD * content.changedShare);
        const rawBytes = changedPixels * 4;
        let ratio = content.ratio[choice.kind];
        if (choice.kind === 'lossy') {
          this.qualities.push(choice.quality);
          if (content.lossyPerQuality !== undefined) ratio = content.lossyPerQuality * choice.quality;
        }
        const encodedBytes = Math.round(rawBytes * ratio);
        this.queued += encodedBytes;
        this.policy.frameEncoded({
          surface,
          now: this.now,
          pixels: FHD,
          changedPixels,
          rawBytes,
          encodedBytes,
          family: choice.kind,
          encodeMs: (rawBytes * 1000) / content.speed[choice.kind],
        });
        seen.push(choice.kind);
      }
      if (this.afterFlush) this.policy.linkSample({ now: this.now, ackedBytes: drained, queuedBytes: this.queued });
    }
    this.choices.push(...seen);
    return seen;
  }
}

function simulation(options: CodecPolicyOptions = {}, afterFlush = false): Simulation {
  return new Simulation(new CodecPolicy(options), afterFlush);
}

const last = <T>(xs: readonly T[]): T | undefined => xs[xs.length - 1];

describe('codec policy, auto', () => {
  it('keeps lz4 while the link keeps up, even for video when lossy is allowed', () => {
    const sim = simulation({ allowLossy: true });
    expect(new Set(sim.run(3000, 1000 * MBIT, 60, [[1, TYPING]]))).toEqual(new Set(['lz4']));
    expect(new Set(sim.run(3000, 10_000 * MBIT, 30, [[2, VIDEO]]))).toEqual(new Set(['lz4']));
    expect(sim.policy.linkIsBottleneck(sim.now)).toBe(false);
  });

  it('moves to zstd when the link is the bottleneck, measuring its capacity, and the queue stops growing', () => {
    const sim = simulation();
    const seen = sim.run(5000, 100 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(seen[0]).toBe('lz4');
    expect(last(seen)).toBe('zstd');
    const capacity = sim.policy.linkCapacity;
    expect(capacity).not.toBeNull();
    expect(Math.abs(capacity! - 100 * MBIT) / (100 * MBIT)).toBeLessThan(0.1);
    // zstd's 0.035 of 8 MB at 30 fps fits 100 Mbit/s: the backlog drains.
    const backlog = sim.queued;
    sim.run(3000, 100 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(sim.queued).toBeLessThanOrEqual(backlog);
  });

  it('sampled right after each flush: lz4 on a link that carries each frame before the next, zstd on one that does not', () => {
    // Every flush finds its own bytes queued (on loopback they are acknowledged only with the
    // receiver's next reply): a link that keeps up is no bottleneck for that.
    const fast = simulation({ allowLossy: true }, true);
    expect(new Set(fast.run(3000, 1000 * MBIT, 60, [[1, TYPING]]))).toEqual(new Set(['lz4']));
    expect(new Set(fast.run(3000, 10_000 * MBIT, 30, [[2, VIDEO]]))).toEqual(new Set(['lz4']));
    expect(fast.policy.linkIsBottleneck(fast.now)).toBe(false);
    expect(fast.policy.linkCapacity).toBeNull();
    // A frame left behind by the next one is a backlog, and the rate it drains at the capacity.
    const slow = simulation({}, true);
    const seen = slow.run(5000, 100 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(seen[0]).toBe('lz4');
    expect(last(seen)).toBe('zstd');
    expect(Math.abs(slow.policy.linkCapacity! - 100 * MBIT) / (100 * MBIT)).toBeLessThan(0.1);
    // Lossy video fits the link: once lz4's backlog is through (this link offers no pacing: about
    // half a minute), the estimate stays while its frames flow, past the probe time too.
    const video = simulation({ allowLossy: true }, true);
    const shown = video.run(60_000, 100 * MBIT, 30, [[1, VIDEO]]);
    expect(video.queued).toBeLessThan(1e6);
    const lossyFrom = shown.indexOf('lossy');
    expect(lossyFrom).toBeGreaterThan(0);
    expect(lossyFrom).toBeLessThan(30 * 2);
    expect(new Set(shown.slice(lossyFrom))).toEqual(new Set(['lossy']));
  });

  it('never picks a lossy codec unless allowed', () => {
    const sim = simulation();
    const seen = sim.run(5000, 100 * MBIT, 30, [[1, VIDEO]]);
    expect(seen).not.toContain('lossy');
    expect(last(seen)).toBe('zstd');
  });

  it('picks the lossy codec for video-like content on a saturated link when allowed, with its options', () => {
    const sim = simulation({ allowLossy: true, lossyCodec: CODEC_WEBP, lossyQuality: 70 });
    const seen = sim.run(5000, 100 * MBIT, 30, [[1, VIDEO]]);
    expect(seen[0]).toBe('lz4');
    expect(last(seen)).toBe('lossy');
    const choice = sim.policy.choose(1, sim.now);
    expect(choice).toMatchObject({ kind: 'lossy', codec: CODEC_WEBP });
    // Starts from the given quality (one step down at most: lz4 left a backlog), never above.
    expect(sim.qualities[0]).toBeGreaterThanOrEqual(65);
    expect(Math.max(...sim.qualities)).toBeLessThanOrEqual(70);
  });

  it('picks the lossy codec for video that the saturated link holds down to 2 fps, once it kept changing for a few frames', () => {
    const sim = simulation({ allowLossy: true });
    const seen = sim.run(10_000, 100 * MBIT, 2, [[1, VIDEO]]);
    expect(seen.slice(0, 4)).not.toContain('lossy');
    expect(last(seen)).toBe('lossy');
  });

  it('keeps a single big change at a low frame rate lossless', () => {
    const sim = simulation({ allowLossy: true });
    const seen: CodecFamily[] = [];
    for (let i = 0; i < 5; i++) {
      seen.push(...sim.run(500, 100 * MBIT, 2, [[1, VIDEO]]));
      seen.push(...sim.run(500, 100 * MBIT, 2, [[1, TYPING]]));
    }
    expect(seen).not.toContain('lossy');
  });

  it('lowers the lossy quality while the link stays backed up, until what it sends fits', () => {
    // At quality q a frame is 0.0008 q of 0.9 * 8.3 MB: 14 MB/s at 80, 9 MB/s at 50, at 30 fps.
    const film: Content = { ...VIDEO, lossyPerQuality: 0.0008 };
    const sim = simulation({ allowLossy: true, lossyQuality: 80, minLossyQuality: 30 });
    sim.run(15_000, 80 * MBIT, 30, [[1, film]]);
    expect(last(sim.choices)).toBe('lossy');
    const quality = last(sim.qualities)!;
    expect(quality).toBeLessThanOrEqual(55);
    expect(quality).toBeGreaterThanOrEqual(30);
    // The queue no longer grows.
    const backlog = sim.queued;
    sim.run(3000, 80 * MBIT, 30, [[1, film]]);
    expect(sim.queued).toBeLessThanOrEqual(Math.max(backlog, 80 * MBIT * 0.1));
  });

  it('keeps text lossless on a saturated link even when lossy is allowed', () => {
    const sim = simulation({ allowLossy: true });
    const seen = sim.run(5000, 100 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(seen).not.toContain('lossy');
    expect(last(seen)).toBe('zstd');
  });

  it('stays with lz4 when zstd costs more CPU than the budget', () => {
    const slowZstd: Content = { ...SCROLLING_TEXT, speed: { ...SPEED, zstd: 50e6 } };
    const sim = simulation({ cpuBudget: 0.5 });
    const seen = sim.run(8000, 100 * MBIT, 30, [[1, slowZstd]]);
    expect(sim.policy.measuredSpeed('zstd')).not.toBeNull();
    expect(last(seen)).toBe('lz4');
    // With the budget of two cores, the same content goes to zstd.
    const generous = simulation({ cpuBudget: 2 });
    generous.run(3000, 100 * MBIT, 30, [[1, { ...SCROLLING_TEXT, speed: { ...SPEED, zstd: 400e6 } }]]);
    expect(last(generous.choices)).toBe('zstd');
  });

  it('adds up the surfaces sharing the link', () => {
    // Each alone offers 0.07 * 8.3 MB * 6 fps = 3.5 MB/s, under 80 % of 40 Mbit/s (5 MB/s); two
    // together do not fit.
    const one = simulation();
    one.run(4000, 40 * MBIT, 6, [[1, SCROLLING_TEXT]]);
    expect(last(one.choices)).toBe('lz4');
    const two = simulation();
    two.run(6000, 40 * MBIT, 6, [
      [1, SCROLLING_TEXT],
      [2, SCROLLING_TEXT],
    ]);
    expect(two.choices.slice(-2)).toEqual(['zstd', 'zstd']);
  });

  it('returns to lz4 once the link got faster and the old estimate is forgotten', () => {
    const sim = simulation({ probeMs: 2000 });
    sim.run(4000, 100 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(last(sim.choices)).toBe('zstd');
    const seen = sim.run(4000, 10_000 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(last(seen)).toBe('lz4');
    expect(sim.policy.linkCapacity).toBeNull();
  });

  it('does not switch on a backlog shorter than the dwell time', () => {
    const policy = new CodecPolicy({ dwellMs: 300 });
    const frame = (now: number) =>
      policy.frameEncoded({ surface: 1, now, pixels: FHD, changedPixels: FHD / 10, rawBytes: FHD * 0.4, encodedBytes: 20_000, family: 'lz4', encodeMs: 4 });
    // A fast, idle link first: the capacity is unknown, lz4.
    policy.linkSample({ now: 0, ackedBytes: 0, queuedBytes: 0 });
    frame(0);
    expect(policy.choose(1, 0).kind).toBe('lz4');
    // 200 ms of backlog (from the second sample on, the queue was backed up all along): the
    // link is the bottleneck, but not for long enough.
    for (let t = 20; t <= 200; t += 20) {
      policy.linkSample({ now: t, ackedBytes: 100_000, queuedBytes: 2_000_000 });
      frame(t);
      expect(policy.linkIsBottleneck(t)).toBe(t > 20);
      expect(policy.choose(1, t).kind).toBe('lz4');
    }
    // Then it drains and what lz4 offers (1 MB/s) fits: the pending switch is dropped.
    for (let t = 220; t <= 400; t += 20) {
      policy.linkSample({ now: t, ackedBytes: 20_000, queuedBytes: 0 });
      frame(t);
      expect(policy.linkIsBottleneck(t)).toBe(false);
      expect(policy.choose(1, t).kind).toBe('lz4');
    }
    // A backlog that lasts: the switch happens after the dwell time, not before.
    const switched: number[] = [];
    for (let t = 420; t <= 1000; t += 20) {
      policy.linkSample({ now: t, ackedBytes: 100_000, queuedBytes: 2_000_000 });
      frame(t);
      if (policy.choose(1, t).kind === 'zstd') switched.push(t);
    }
    expect(switched[0]).toBeGreaterThanOrEqual(420 + 300);
    expect(last(switched)).toBe(1000);
  });

  it('forgets surfaces', () => {
    const sim = simulation();
    sim.run(4000, 100 * MBIT, 30, [[1, SCROLLING_TEXT]]);
    expect(sim.policy.linkIsBottleneck(sim.now) || sim.queued > 0).toBe(true);
    sim.policy.forget(1);
    sim.policy.linkSample({ now: sim.now + 10_000, ackedBytes: sim.queued, queuedBytes: 0 });
    expect(sim.policy.linkIsBottleneck(sim.now + 10_000)).toBe(false);
  });
});

describe('codec policy, fixed modes', () => {
  it('lossy: adapts the quality to the link, down on a slow one and back up once it has room', () => {
    const film: Content = { ...VIDEO, lossyPerQuality: 0.0008 };
    const sim = simulation({ mode: 'lossy', lossyQuality: 90, minLossyQuality: 40, probeMs: 2000 });
    sim.run(10_000, 60 * MBIT, 30, [[1, film]]);
    const low = last(sim.qualities)!;
    expect(low).toBeLessThan(90);
    expect(low).toBeGreaterThanOrEqual(40);
    sim.run(10_000, 10_000 * MBIT, 30, [[1, film]]);
    expect(last(sim.qualities)).toBe(90);
    expect(new Set(sim.choices)).toEqual(new Set(['lossy']));
  });

  it('answers the chosen codec whatever was measured', () => {
    for (const [mode, kind] of [
      ['lz4', 'lz4'],
      ['zstd', 'zstd'],
      ['lossy', 'lossy'],
    ] as const) {
      const sim = simulation({ mode, zstdLevel: 3 });
      expect(new Set(sim.run(3000, 100 * MBIT, 30, [[1, VIDEO]]))).toEqual(new Set([kind]));
    }
    expect(new CodecPolicy({ mode: 'zstd', zstdLevel: 3 }).choose(1, 0)).toEqual({ kind: 'zstd', level: 3 });
    expect(new CodecPolicy({ mode: 'lossy' }).choose(1, 0)).toEqual({ kind: 'lossy', codec: CODEC_JPEG, quality: 80 });
  });
});
