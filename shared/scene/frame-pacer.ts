/**
 * Frame pacing of one mirrored surface, for every consumer of a Scene that
 * shows surfaces somewhere else (the transmitter's link to a receiver, the
 * local display on a real compositor).
 *
 * - At most `maxInFlight` frames are in flight: sent, and not reported done
 *   by whoever shows them.
 * - A producer commit that arrives while the limit is reached is merged into
 *   the pending state: the newest content, the union of damage. It goes out
 *   when a frame is done.
 * - The producer is told `presented` when the newest state sent was shown;
 *   a frame done while a newer state waits does not answer it (at most
 *   `maxDeferredPresents` times in a row, then it does).
 * - A fallback clock answers frame callbacks when nothing will present the
 *   surface (a link that is offline, cursor images).
 */
import type { PresentationInfo, Rect } from './scene.js';

/** How a pacer accumulates damage; `shared/display/damage.ts`'s Damage is one. */
export interface PacerDamage {
  addAll(rects: readonly Rect[]): void;
  /** The whole surface. */
  addFull(): void;
  clear(): void;
}

/**
 * Damage as a plain list of rectangles; `rects` null means the whole surface.
 * Past `maxRects` rectangles the list becomes the whole surface.
 */
export class RectList implements PacerDamage {
  rects: Rect[] | null = [];

  constructor(private readonly maxRects = 64) {}

  addAll(rects: readonly Rect[]): void {
    if (this.rects === null) return;
    this.rects.push(...rects);
    if (this.rects.length > this.maxRects) this.rects = null;
  }

  addFull(): void {
    this.rects = null;
  }

  clear(): void {
    this.rects = [];
  }
}

export interface FramePacerHooks {
  /**
   * Send the pending state now (then return false: the pacer sees the frame it
   * started) or soon (then return true: `presented` waits for it).
   */
  readonly flush: () => boolean;
  /**
   * Answer the producer's frame callbacks; `byClock` when the fallback clock
   * answers; `info` when the consumer knows how the frame was shown.
   */
  readonly presented: (timeMs: number, byClock: boolean, info?: PresentationInfo) => void;
}

export interface FramePacerOptions {
  /** Frames in flight at most. Default 1. */
  readonly maxInFlight?: number;
  /** Frames done in a row whose `presented` waits for a newer state. Default: no limit. */
  readonly maxDeferredPresents?: number;
}

/** A frame in flight, as `frameSent` returns it and `frameDone` takes it. */
export type FrameToken = number;

/** Pacing of one surface; `D` accumulates the damage of the pending state. */
export class FramePacer<D extends PacerDamage = RectList> {
  /** A producer commit is not sent yet. */
  private dirty = false;
  private readonly frames = new Set<FrameToken>();
  private nextToken = 1;
  private deferred = 0;
  private fallback: NodeJS.Timeout | undefined;
  private disposed = false;
  readonly maxInFlight: number;
  private readonly maxDeferred: number;

  constructor(
    /** Damage (buffer pixels) of the pending state; the user reads and clears it when sending. */
    readonly damage: D,
    private readonly hooks: FramePacerHooks,
    options: FramePacerOptions = {},
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    this.maxDeferred = options.maxDeferredPresents ?? Infinity;
  }

  /** A state waits to be sent. */
  get pending(): boolean {
    return this.dirty;
  }

  /** Frames sent and not done yet. */
  get inFlight(): number {
    return this.frames.size;
  }

  /** No frame may be sent now. */
  get blocked(): boolean {
    return this.frames.size >= this.maxInFlight;
  }

  /** A state waits and may be sent now. */
  get ready(): boolean {
    return this.dirty && this.frames.size < this.maxInFlight;
  }

  /**
   * A producer commit: `damage` in buffer pixels, or null when all of the
   * surface changed (a new size). Returns true when it was merged into a
   * state that was still waiting.
   */
  commit(damage: readonly Rect[] | null): boolean {
    const merged = this.dirty;
    this.dirty = true;
    if (damage === null) this.damage.addFull();
    else this.damage.addAll(damage);
    return merged;
  }

  /** The whole surface must be sent again (a new mirror, a new buffer). */
  invalidate(): void {
    this.dirty = true;
    this.damage.addFull();
  }

  /** The pending state went out (its damage is cleared by the user): nothing waits now. */
  sent(): void {
    this.dirty = false;
  }

  /**
   * The pending state went out with a frame that the consumer will report
   * done. `taken` false: the frame carries a state taken earlier (`sent()`),
   * and commits merged since then stay pending.
   */
  frameSent(taken = true): FrameToken {
    if (taken) this.dirty = false;
    const token = this.nextToken++;
    this.frames.add(token);
    return token;
  }

  /** Frames in flight will never be reported (an unmapped surface, a closed connection). */
  forgetFrames(): void {
    this.frames.clear();
  }

  /** The consumer shows `frame` (at `timeMs`; `info`: how, when it knows). */
  frameDone(frame: FrameToken, timeMs: number, info?: PresentationInfo): void {
    if (this.disposed || !this.frames.delete(frame)) return;
    if (this.dirty && this.deferred < this.maxDeferred) {
      // A newer state waits for this slot: show it and report presentation for it instead.
      this.deferred++;
      if (this.hooks.flush() || this.frames.size > 0) return;
    }
    if (this.frames.size > 0) return; // a newer frame is on its way; answer when it is shown
    this.deferred = 0;
    this.hooks.presented(timeMs, false, info);
    if (this.dirty) this.hooks.flush();
  }

  /**
   * Fallback clock: answer the producer in `ms` unless an answer is already
   * scheduled. `still` is asked when the time comes (the surface may be gone).
   */
  presentAfter(ms: number, still: () => boolean = () => true): void {
    if (this.disposed || this.fallback !== undefined) return;
    this.fallback = setTimeout(() => {
      this.fallback = undefined;
      if (!this.disposed && still()) this.hooks.presented(Date.now(), true);
    }, ms);
    this.fallback.unref?.();
  }

  /** Stop the fallback clock. */
  cancelFallback(): void {
    clearTimeout(this.fallback);
    this.fallback = undefined;
  }

  /** The surface is shown no more: frames and clock are void. */
  dispose(): void {
    this.disposed = true;
    this.frames.clear();
    this.cancelFallback();
  }
}
