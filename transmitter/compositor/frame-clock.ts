/**
 * Pacing of frame callbacks.
 *
 * A consumer that shows a surface calls `feedback.presented(surface)` when
 * the frame is on screen; that answers the callbacks of every commit applied
 * so far on the surface and its subsurfaces, so applications run at the pace
 * of the remote display.
 *
 * Surfaces nobody shows (no consumer listens to their commits, or they are
 * not mapped) would stall applications that wait for `done` (simple-shm,
 * GTK, EGL): a fallback clock at about 60 Hz answers them. It also answers
 * callbacks that a consumer left waiting longer than `timeoutMs`, so an
 * application never freezes on a consumer that lost its peer.
 */
import type { PresentationInfo } from '../../shared/scene/scene.js';
import type { Surface } from './compositor.js';

export class FrameClock {
  private readonly waiting = new Set<Surface>();
  private timer: NodeJS.Timeout | null = null;
  private period = 0;
  /** A surface was scheduled since the last tick. */
  private busy = false;

  constructor(
    private readonly now: () => number,
    /** Fallback period in ms. */
    private readonly intervalMs = 1000 / 60,
    /** Longest wait for a consumer's `presented`, in ms. */
    private readonly timeoutMs = 1000,
  ) {}

  /** `surface` has callbacks waiting. */
  schedule(surface: Surface): void {
    this.waiting.add(surface);
    this.busy = true;
    this.arm(!surface.consumed);
  }

  unschedule(surface: Surface): void {
    this.waiting.delete(surface);
    this.stopIfIdle();
  }

  /**
   * A consumer presented `surface` (`info`: how, when it knows): its callbacks and those of its
   * subsurfaces are answered. The clock runs on until a tick finds that nothing waits and nothing
   * was scheduled since the tick before: an application that draws every frame would otherwise
   * start and stop a timer per frame.
   */
  presented(surface: Surface, info?: PresentationInfo): void {
    const now = this.now();
    for (const s of surface.tree()) {
      s.sendFrameDone(now, info);
      this.waiting.delete(s);
    }
  }

  /**
   * Run the clock: at the fallback rate while a surface nobody shows waits,
   * else only often enough to notice a consumer's timeout (a shown surface
   * is answered by its consumer; ticking at 60 Hz for it would be waste).
   */
  private arm(fast: boolean): void {
    const period = fast ? this.intervalMs : Math.max(this.intervalMs, this.timeoutMs / 4);
    if (this.timer !== null && this.period <= period) return;
    if (this.timer !== null) clearInterval(this.timer);
    this.period = period;
    this.timer = setInterval(() => this.tick(), period);
    this.timer.unref();
  }

  private tick(): void {
    const now = this.now();
    for (const s of [...this.waiting]) {
      if (!s.hasFrameCallbacks || s.isDestroyed) {
        this.waiting.delete(s);
        continue;
      }
      if (!s.consumed || ((now - s.framesWaitingSince) >>> 0) >= this.timeoutMs) {
        s.sendFrameDone(now);
        this.waiting.delete(s);
      }
    }
    const busy = this.busy;
    this.busy = false;
    if (!busy && this.stopIfIdle()) return;
    if (this.waiting.size === 0) return;
    // Only shown surfaces wait now (the others were answered): slow down.
    if (this.period < this.timeoutMs / 4) {
      clearInterval(this.timer!);
      this.timer = null;
      this.arm(false);
    }
  }

  /** Stops the clock when nothing waits; returns whether it did. */
  private stopIfIdle(): boolean {
    if (this.waiting.size > 0 || this.timer === null) return this.timer === null;
    clearInterval(this.timer);
    this.timer = null;
    return true;
  }

  close(): void {
    this.waiting.clear();
    this.stopIfIdle();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
