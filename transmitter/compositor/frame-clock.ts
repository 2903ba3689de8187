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
import type { Surface } from './compositor.js';

export class FrameClock {
  private readonly waiting = new Set<Surface>();
  private timer: NodeJS.Timeout | null = null;

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
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  unschedule(surface: Surface): void {
    this.waiting.delete(surface);
    this.stopIfIdle();
  }

  /** A consumer presented `surface`: its callbacks and those of its subsurfaces are answered. */
  presented(surface: Surface): void {
    const now = this.now();
    for (const s of surface.tree()) {
      s.sendFrameDone(now);
      this.waiting.delete(s);
    }
    this.stopIfIdle();
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
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.waiting.size > 0 || this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.waiting.clear();
    this.stopIfIdle();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
