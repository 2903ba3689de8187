/**
 * wp_presentation of the compositor a LocalDisplay shows surfaces on: when
 * and how each frame was shown, in this process's CLOCK_MONOTONIC.
 *
 * The compositor names its presentation clock (wp_presentation.clock_id).
 * CLOCK_MONOTONIC is this process's `process.hrtime.bigint()`; CLOCK_REALTIME
 * is placed on it through `Date.now()`; any other clock cannot be read from
 * Node, so its frames are placed at the time their event arrives.
 */
import type { WlSurfaceProxy, WpPresentationProxy } from '../generated/wayland/index.js';
import type { PresentationInfo } from '../scene/scene.js';

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;

export class DisplayPresentation {
  private clock: number | null = null;

  constructor(private readonly presentation: WpPresentationProxy) {
    presentation.listen({ clockId: (id) => (this.clock = id) });
  }

  /** Ask for the presentation of `wl`'s next commit: `done` gets how it was shown, or null when it was discarded. */
  request(wl: WlSurfaceProxy, done: (info: PresentationInfo | null) => void): void {
    const feedback = this.presentation.feedback(wl);
    feedback.listen({
      syncOutput: () => {},
      presented: (secHi, secLo, nsec, refresh, seqHi, seqLo, flags) => {
        const t = (BigInt(secHi >>> 0) << 32n | BigInt(secLo >>> 0)) * 1_000_000_000n + BigInt(nsec >>> 0);
        done({ timeNs: this.toMonotonic(t), refreshNs: refresh >>> 0, seq: (BigInt(seqHi >>> 0) << 32n) | BigInt(seqLo >>> 0), flags: flags >>> 0 });
      },
      discarded: () => done(null),
    });
  }

  private toMonotonic(t: bigint): bigint {
    const now = process.hrtime.bigint();
    if (this.clock === CLOCK_MONOTONIC) return t;
    if (this.clock === CLOCK_REALTIME) return now - (BigInt(Date.now()) * 1_000_000n - t);
    return now;
  }
}
