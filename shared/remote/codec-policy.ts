/**
 * The `--codec auto` chooser: which codec family the next frame of a surface is encoded with,
 * from what was measured so far. Pure: no clock, no I/O; the caller feeds it link samples and
 * per-frame statistics with their times, and asks before each frame.
 *
 * - `lz4` (and its `lz4_spans` form, which the encoder picks per band) by default: the cheapest
 *   in CPU, right whenever the link keeps up.
 * - `zstd` when the link, not the CPU, is the bottleneck: the send queue stays backed up, or
 *   what lz4 would send exceeds most of the measured link capacity; and zstd's measured speed
 *   leaves its CPU within the budget.
 * - lossy (jpeg/webp) only with `allowLossy`, when the link is the bottleneck and the surface
 *   looks like video: most of its pixels change in each frame, frames come often, and lossless
 *   compression does poorly on them.
 *
 * Link capacity is the rate at which the send queue drains while it is backed up: bytes queued
 * at one sample are not all through at the next. A queue that holds only what was written since
 * is no backlog, though the transmitter samples right after each flush and so always finds its
 * own bytes there (on loopback they stay unacknowledged until the receiver's next reply, which
 * comes just before the next flush: the drain rate is then what the application offered). A
 * drain rate measured without a backlog only shows what was offered, so it can raise the
 * estimate but not lower it. After `probeMs` in which no two samples in a row found bytes
 * queued, the estimate is forgotten, so a link that got faster is found again (lz4 is tried,
 * and a new backlog brings the estimate back).
 * A new choice must hold for `dwellMs` before a surface switches, so single samples do not
 * make it flap.
 *
 * A lossy surface (auto or `--codec lossy`) also adapts its quality: down by steps while the
 * queue stays backed up, back up towards `lossyQuality` while what it sends uses less than half
 * of the link; at most one step per `dwellMs`.
 */
import type { LossyCodec } from './lossy.js';
import { CODEC_JPEG } from './lossy.js';

export type CodecMode = 'auto' | 'lz4' | 'zstd' | 'lossy';

export type CodecFamily = 'lz4' | 'zstd' | 'lossy';

export type CodecChoice =
  | { readonly kind: 'lz4' }
  | { readonly kind: 'zstd'; readonly level: number }
  | { readonly kind: 'lossy'; readonly codec: LossyCodec; readonly quality: number };

export interface CodecPolicyOptions {
  /** 'auto' chooses; the others always answer their codec. Default 'auto'. */
  readonly mode?: CodecMode;
  /** Whether 'auto' may pick a lossy codec. Default false. */
  readonly allowLossy?: boolean;
  readonly lossyCodec?: LossyCodec;
  /** The lossy quality when the link has room. Default 80. */
  readonly lossyQuality?: number;
  /** The lowest quality the lossy codec goes down to while the link stays backed up. Default 40. */
  readonly minLossyQuality?: number;
  /** Default 1 (shim's fast default). */
  readonly zstdLevel?: number;
  /** Share of one core that compression may use, 0..n. Default 0.5. */
  readonly cpuBudget?: number;
  /** Queueing delay (ms) above which the link counts as backed up. Default 30. */
  readonly backlogMs?: number;
  /** Share of the capacity that lz4's predicted load may use before the link is the bottleneck. Default 0.8. */
  readonly headroom?: number;
  /** How long without bytes queued at two samples in a row before the capacity estimate is forgotten. Default 10000. */
  readonly probeMs?: number;
  /** How long a new choice must hold before a surface switches. Default 300. */
  readonly dwellMs?: number;
}

/** What the send queue did since the previous sample. */
export interface LinkSample {
  /** Time in ms (any monotonic clock). */
  readonly now: number;
  /** Bytes that left the send queue (acknowledged by the socket) since the previous sample. */
  readonly ackedBytes: number;
  /** Bytes still queued now. */
  readonly queuedBytes: number;
}

/** One encoded frame of a surface. */
export interface FrameStats {
  readonly surface: number;
  readonly now: number;
  /** Pixels of the whole surface. */
  readonly pixels: number;
  /** Pixels that changed and were encoded. */
  readonly changedPixels: number;
  /** Bytes of the changed pixels before compression. */
  readonly rawBytes: number;
  /** Bytes sent for them. */
  readonly encodedBytes: number;
  readonly family: CodecFamily;
  /** CPU time spent encoding, in ms. */
  readonly encodeMs: number;
}

/** Exponentially weighted moving average; `null` until the first value. */
class Ewma {
  value: number | null = null;

  constructor(private readonly weight: number) {}

  add(v: number): number {
    this.value = this.value === null ? v : this.value + this.weight * (v - this.value);
    return this.value;
  }
}

/**
 * zstd's assumed speed (bytes of pixels per second of one core) until measured: about half of
 * what a 2-core x86 VM measured on screen content (bench/README.md, "Codecs").
 */
const PRIOR_ZSTD_SPEED = 600e6;
/** zstd's size relative to lz4's on screen content, until both are measured. */
const PRIOR_ZSTD_GAIN = 0.7;

/** A surface is video-like above these. */
const VIDEO_CHANGED_SHARE = 0.25;
const VIDEO_FPS = 10;
const VIDEO_LOSSLESS_RATIO = 0.25;
/**
 * Frames in a row that change at least VIDEO_CHANGED_SHARE of a surface: video-like at any
 * frame rate. An application paced by a saturated link shows video at the rate the lossless
 * frames get through (1-2 fps at 100 Mbit/s in full HD), never VIDEO_FPS.
 */
const VIDEO_STREAK = 5;
/** Lossy quality step. */
const QUALITY_STEP = 5;
/** A surface without a frame for this long offers no load. */
const IDLE_MS = 1000;

class SurfaceStats {
  readonly ratio: Record<CodecFamily, Ewma> = { lz4: new Ewma(0.3), zstd: new Ewma(0.3), lossy: new Ewma(0.3) };
  readonly changedShare = new Ewma(0.3);
  readonly changedBytes = new Ewma(0.3);
  readonly interval = new Ewma(0.3);
  lastFrame: number | null = null;
  /** Frames in a row that changed at least VIDEO_CHANGED_SHARE of the surface. */
  bigFrames = 0;
  choice: CodecFamily | null = null;
  /** A different choice seen since this time, not yet taken. */
  pending: { kind: CodecFamily; since: number } | null = null;
  /** Current lossy quality, and when it last changed. */
  quality: number;
  qualityChanged = -Infinity;

  constructor(quality: number) {
    this.quality = quality;
  }

  fps(now: number): number {
    if (this.lastFrame === null || now - this.lastFrame > IDLE_MS || this.interval.value === null) return 0;
    return 1000 / Math.max(this.interval.value, 1);
  }

  /** Encoded size over raw size for a lossless family, measured or derived from the other. */
  losslessRatio(family: 'lz4' | 'zstd'): number | null {
    const lz4 = this.ratio.lz4.value;
    const zstd = this.ratio.zstd.value;
    if (family === 'lz4') return lz4 ?? (zstd === null ? null : Math.min(1, zstd / PRIOR_ZSTD_GAIN));
    return zstd ?? (lz4 === null ? null : lz4 * PRIOR_ZSTD_GAIN);
  }
}

export class CodecPolicy {
  private readonly mode: CodecMode;
  private readonly allowLossy: boolean;
  private readonly lossyCodec: LossyCodec;
  private readonly lossyQuality: number;
  private readonly minLossyQuality: number;
  private readonly zstdLevel: number;
  private readonly cpuBudget: number;
  private readonly backlogMs: number;
  private readonly headroom: number;
  private readonly probeMs: number;
  private readonly dwellMs: number;

  private readonly surfaces = new Map<number, SurfaceStats>();
  private readonly speed: Record<CodecFamily, Ewma> = { lz4: new Ewma(0.2), zstd: new Ewma(0.2), lossy: new Ewma(0.2) };
  private capacity = new Ewma(0.3);
  private lastSample: LinkSample | null = null;
  /** When the queue last held bytes at two samples in a row (frames on their way), in ms. */
  private lastBusy = -Infinity;
  private queueDelayMs = 0;

  constructor(options: CodecPolicyOptions = {}) {
    this.mode = options.mode ?? 'auto';
    this.allowLossy = options.allowLossy ?? false;
    this.lossyCodec = options.lossyCodec ?? CODEC_JPEG;
    this.lossyQuality = options.lossyQuality ?? 80;
    this.minLossyQuality = Math.min(options.minLossyQuality ?? 40, this.lossyQuality);
    this.zstdLevel = options.zstdLevel ?? 1;
    this.cpuBudget = options.cpuBudget ?? 0.5;
    this.backlogMs = options.backlogMs ?? 30;
    this.headroom = options.headroom ?? 0.8;
    this.probeMs = options.probeMs ?? 10_000;
    this.dwellMs = options.dwellMs ?? 300;
  }

  /** Measured encoding speed of a family in bytes of pixels per second of CPU, or null. */
  measuredSpeed(family: CodecFamily): number | null {
    return this.speed[family].value;
  }

  /** The estimated link capacity in bytes per second, or null when unknown. */
  get linkCapacity(): number | null {
    return this.capacity.value;
  }

  /** Feed what the send queue did; call whenever it drains (and at least now and then). */
  linkSample(sample: LinkSample): void {
    const prev = this.lastSample;
    this.lastSample = sample;
    if (prev === null || sample.now <= prev.now) return;
    const rate = (sample.ackedBytes * 1000) / (sample.now - prev.now);
    const busy = prev.queuedBytes > 0 && sample.queuedBytes > 0;
    // Backed up during the whole interval (the previous queue is not all through): the drain
    // rate is what the link carries.
    const backedUp = busy && sample.ackedBytes < prev.queuedBytes;
    if (backedUp) {
      this.capacity.add(rate);
    } else if (this.capacity.value !== null && rate > this.capacity.value) {
      this.capacity.value = rate;
    }
    const capacity = this.capacity.value;
    this.queueDelayMs = capacity === null || capacity <= 0 ? 0 : (sample.queuedBytes * 1000) / capacity;
    if (busy) this.lastBusy = sample.now;
    else if (sample.now - this.lastBusy > this.probeMs) {
      this.capacity = new Ewma(0.3);
      this.queueDelayMs = 0;
    }
  }

  /** Feed the statistics of a frame just encoded. */
  frameEncoded(stats: FrameStats): void {
    const s = this.surface(stats.surface);
    if (s.lastFrame !== null && stats.now > s.lastFrame) s.interval.add(stats.now - s.lastFrame);
    s.lastFrame = stats.now;
    if (stats.pixels > 0) {
      const share = Math.min(1, stats.changedPixels / stats.pixels);
      s.changedShare.add(share);
      s.bigFrames = share >= VIDEO_CHANGED_SHARE ? s.bigFrames + 1 : 0;
    }
    s.changedBytes.add(stats.rawBytes);
    if (stats.rawBytes > 0) {
      s.ratio[stats.family].add(stats.encodedBytes / stats.rawBytes);
      if (stats.encodeMs > 0) this.speed[stats.family].add((stats.rawBytes * 1000) / stats.encodeMs);
    }
  }

  /** A surface is gone. */
  forget(surface: number): void {
    this.surfaces.delete(surface);
  }

  /** The codec for the next frame of `surface`. */
  choose(surface: number, now: number): CodecChoice {
    if (this.mode === 'lz4') return LZ4;
    if (this.mode === 'zstd') return { kind: 'zstd', level: this.zstdLevel };
    const s = this.surface(surface);
    if (this.mode === 'lossy') return this.lossy(s, now);
    const wanted = this.wanted(s, now);
    if (s.choice === null || s.choice === wanted) {
      s.pending = null;
      s.choice = wanted;
    } else {
      if (s.pending === null || s.pending.kind !== wanted) s.pending = { kind: wanted, since: now };
      if (now - s.pending.since >= this.dwellMs) {
        s.pending = null;
        s.choice = wanted;
      }
    }
    if (s.choice === 'zstd') return { kind: 'zstd', level: this.zstdLevel };
    if (s.choice === 'lossy') return this.lossy(s, now);
    return LZ4;
  }

  /** Whether the link, not the application, limits what is sent. */
  linkIsBottleneck(now: number): boolean {
    const capacity = this.capacity.value;
    if (capacity === null) return false;
    if (this.queueDelayMs > this.backlogMs) return true;
    // What lz4 would offer, all surfaces together.
    let load = 0;
    for (const s of this.surfaces.values()) {
      const ratio = s.losslessRatio('lz4');
      if (ratio !== null) load += s.fps(now) * (s.changedBytes.value ?? 0) * ratio;
    }
    return load > this.headroom * capacity;
  }

  private wanted(s: SurfaceStats, now: number): CodecFamily {
    if (!this.linkIsBottleneck(now)) return 'lz4';
    const fps = s.fps(now);
    const best = Math.min(s.losslessRatio('lz4') ?? 1, s.losslessRatio('zstd') ?? 1);
    // The link being the bottleneck, a surface whose frames keep changing most of it is video
    // whatever its frame rate: the link may be what holds the frame rate down.
    const moving = fps >= VIDEO_FPS || s.bigFrames >= VIDEO_STREAK;
    const videoLike = (s.changedShare.value ?? 0) >= VIDEO_CHANGED_SHARE && moving && best >= VIDEO_LOSSLESS_RATIO;
    if (this.allowLossy && videoLike) return 'lossy';
    // zstd only if its CPU fits the budget (share of a core at this frame rate).
    const zstdSpeed = this.speed.zstd.value ?? PRIOR_ZSTD_SPEED;
    const cpu = (fps * (s.changedBytes.value ?? 0)) / zstdSpeed;
    return cpu <= this.cpuBudget ? 'zstd' : 'lz4';
  }

  private surface(id: number): SurfaceStats {
    let s = this.surfaces.get(id);
    if (s === undefined) {
      s = new SurfaceStats(this.lossyQuality);
      this.surfaces.set(id, s);
    }
    return s;
  }

  /** The lossy choice for a surface, its quality adapted to the link. */
  private lossy(s: SurfaceStats, now: number): CodecChoice {
    if (now - s.qualityChanged >= this.dwellMs) {
      const capacity = this.capacity.value;
      const load = s.fps(now) * (s.changedBytes.value ?? 0) * (s.ratio.lossy.value ?? 0);
      if (this.queueDelayMs > this.backlogMs && s.quality > this.minLossyQuality) {
        s.quality = Math.max(this.minLossyQuality, s.quality - QUALITY_STEP);
        s.qualityChanged = now;
      } else if (
        s.quality < this.lossyQuality &&
        this.queueDelayMs <= this.backlogMs / 4 &&
        (capacity === null || load < 0.5 * capacity)
      ) {
        s.quality = Math.min(this.lossyQuality, s.quality + QUALITY_STEP);
        s.qualityChanged = now;
      }
    }
    return { kind: 'lossy', codec: this.lossyCodec, quality: s.quality };
  }
}

const LZ4: CodecChoice = Object.freeze({ kind: 'lz4' });
