/**
 * Frames and bytes per second of the windows of a scene, for status
 * endpoints: every commit of a surface counts for its root window (a frame
 * when it carries content, its damage area times 4 bytes); rates are over a
 * sliding window of whole seconds. A history keeps one sample per second per
 * group (the windows of one owner) for plots.
 */
import { bufferCommit, type Scene, type SceneOwner, type SceneSurface } from '../scene/scene.js';
import { every, type Tick } from '../ticker.js';

/** Seconds the current rates average over. */
const WINDOW_S = 5;

interface Bucket {
  second: number;
  frames: number;
  bytes: number;
}

/** Counts per second, the last WINDOW_S + 1 seconds. */
class Meter {
  private readonly buckets: Bucket[] = [];
  frames = 0;
  bytes = 0;

  add(now: number, frames: number, bytes: number): void {
    const second = Math.floor(now / 1000);
    let last = this.buckets[this.buckets.length - 1];
    if (last === undefined || last.second !== second) {
      last = { second, frames: 0, bytes: 0 };
      this.buckets.push(last);
      while (this.buckets.length > WINDOW_S + 1) this.buckets.shift();
    }
    last.frames += frames;
    last.bytes += bytes;
    this.frames += frames;
    this.bytes += bytes;
  }

  /** Per second over the last WINDOW_S complete seconds. */
  rates(now: number): { fps: number; bytesPerSecond: number } {
    const current = Math.floor(now / 1000);
    let frames = 0;
    let bytes = 0;
    for (const b of this.buckets) {
      if (b.second < current && b.second >= current - WINDOW_S) {
        frames += b.frames;
        bytes += b.bytes;
      }
    }
    return { fps: round(frames / WINDOW_S), bytesPerSecond: Math.round(bytes / WINDOW_S) };
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;

export interface WindowRates {
  readonly surface: SceneSurface;
  readonly fps: number;
  readonly bytesPerSecond: number;
  readonly frames: number;
  readonly bytes: number;
}

export interface Sample {
  /** Unix time (s). */
  readonly t: number;
  readonly fps: number;
  readonly bytesPerSecond: number;
}

export class SceneRates {
  private readonly meters = new Map<SceneSurface, Meter>();
  private readonly ownerMeters = new Map<SceneOwner, Meter>();
  private readonly history = new Map<SceneOwner, Sample[]>();
  private readonly timer: Tick;

  constructor(
    private readonly scene: Scene,
    /** Samples kept per owner (one per second): default 5 minutes. */
    private readonly historyLength = 300,
    private readonly now: () => number = Date.now,
  ) {
    scene.on('surface', this.onSurface);
    for (const s of scene.surfaces) this.onSurface(s);
    this.timer = every(1000, () => this.sample());
  }

  private readonly onSurface = (s: SceneSurface): void => {
    s.on('commit', (info) => {
      if (s.buffer === null) return;
      const root = s.root;
      // The pixels the producer changed (a surface with a viewport: of its buffer, not of the scaled view).
      const bytes = bufferCommit(info).damage.reduce((sum, r) => sum + r.width * r.height * 4, 0);
      const now = this.now();
      // A frame of a window is a commit of its root; subsurfaces and popups add bytes only.
      const frames = root === s ? 1 : 0;
      let m = this.meters.get(root);
      if (m === undefined) {
        m = new Meter();
        this.meters.set(root, m);
        root.once('destroy', () => this.meters.delete(root));
      }
      m.add(now, frames, bytes);
      let o = this.ownerMeters.get(s.owner);
      if (o === undefined) {
        o = new Meter();
        this.ownerMeters.set(s.owner, o);
      }
      o.add(now, frames, bytes);
    });
  };

  /** The rates of one window (its root surface). */
  window(root: SceneSurface): WindowRates {
    const m = this.meters.get(root);
    if (m === undefined) return { surface: root, fps: 0, bytesPerSecond: 0, frames: 0, bytes: 0 };
    return { surface: root, ...m.rates(this.now()), frames: m.frames, bytes: m.bytes };
  }

  /** The rates of all windows of one owner. */
  owner(owner: SceneOwner): { fps: number; bytesPerSecond: number } {
    return this.ownerMeters.get(owner)?.rates(this.now()) ?? { fps: 0, bytesPerSecond: 0 };
  }

  /** One sample per second of an owner's windows, oldest first. */
  samples(owner: SceneOwner): readonly Sample[] {
    return this.history.get(owner) ?? [];
  }

  /** Forget an owner that went away. */
  forget(owner: SceneOwner): void {
    this.ownerMeters.delete(owner);
    this.history.delete(owner);
  }

  private sample(): void {
    const now = this.now();
    for (const [owner, meter] of this.ownerMeters) {
      const list = this.history.get(owner) ?? [];
      list.push({ t: Math.floor(now / 1000), ...meter.rates(now) });
      while (list.length > this.historyLength) list.shift();
      this.history.set(owner, list);
    }
  }

  close(): void {
    this.timer.stop();
    this.scene.off('surface', this.onSurface);
  }
}
