/**
 * wp_presentation v1 (presentation-time.xml) on the virtual display.
 *
 * wp_presentation.feedback joins the surface's pending state like a frame
 * callback (double-buffered, cached for synchronized subsurfaces). When the
 * surface is presented (compositor.ts, Surface.sendFrameDone), the
 * feedbacks of the newest applied commit get `presented`, those of older
 * commits merged away before anything showed them `discarded`.
 *
 * Times are CLOCK_MONOTONIC. A consumer that knows how the display showed
 * the frame (the receiver's compositor has wp_presentation; see
 * receiver/presentation.ts) gives its time, refresh, sequence and flags;
 * otherwise (the frame clock, a display without wp_presentation) the time
 * the answer is given, with refresh, sequence and flags 0.
 */
import { WpPresentationFeedbackResource, WpPresentationResource } from '../../shared/generated/wayland/index.js';
import type { PresentationInfo } from '../../shared/scene/scene.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

const CLOCK_MONOTONIC = 1;
const U32 = 0xffffffffn;

export function registerPresentation(ctx: DisplayContext): void {
  ctx.server.addGlobal(WpPresentationResource, 1, (presentation, client) => {
    const state = ctx.clientOf(client);
    state.presentations.add(presentation);
    presentation.onDestroy(() => state.presentations.delete(presentation));
    presentation.listen({
      destroy: () => {},
      feedback: (surface, callback) => {
        const s = Surface.fromResource(surface);
        if (s === undefined || s.isDestroyed) {
          callback.sendDiscarded();
          return;
        }
        s.addPresentationFeedback(callback);
      },
    });
    presentation.sendClockId(CLOCK_MONOTONIC);
  });
}

/**
 * Answer the feedbacks of applied commits, oldest commit first: the newest
 * commit's were presented (as `info` says, else now), the others discarded.
 */
export function answerFeedbacks(groups: readonly (readonly WpPresentationFeedbackResource[])[], info: PresentationInfo | undefined): void {
  if (groups.length === 0) return;
  for (let i = 0; i < groups.length - 1; i++) discardFeedbacks(groups[i]!);
  const shown = info ?? { timeNs: process.hrtime.bigint(), refreshNs: 0, seq: 0n, flags: 0 };
  const sec = shown.timeNs / 1_000_000_000n;
  const nsec = Number(shown.timeNs % 1_000_000_000n);
  for (const fb of groups[groups.length - 1]!) {
    if (fb.destroyed) continue;
    fb.sendPresented(Number((sec >> 32n) & U32), Number(sec & U32), nsec, shown.refreshNs >>> 0, Number((shown.seq >> 32n) & U32), Number(shown.seq & U32), shown.flags >>> 0);
  }
}

/** The content of these commits was never shown (replaced first, or the surface is gone). */
export function discardFeedbacks(feedbacks: readonly WpPresentationFeedbackResource[]): void {
  for (const fb of feedbacks) if (!fb.destroyed) fb.sendDiscarded();
}
