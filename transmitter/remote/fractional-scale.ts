/**
 * The preferred scale over the link: a surface whose application follows it
 * (`SceneSurface.fractionalScale`) gets a wthp_fractional_scale when the
 * receiver offers wthp_fractional_scale_manager (its compositor has
 * wp_fractional_scale_manager_v1); each preferred_scale the receiver passes
 * on goes to the producer (`feedback.preferredScale`).
 */
import type { WthpFractionalScaleProxy } from '../../shared/generated/waltham/waltham.js';
import type { ConnectionState, LinkContext, Remote } from './remote.js';

const held = new WeakMap<Remote, WthpFractionalScaleProxy>();

export function sendFractionalScale(ctx: LinkContext, conn: ConnectionState, r: Remote): void {
  if (conn.fractionalScale === null) return;
  const have = held.get(r);
  const want = r.scene.fractionalScale;
  if (want === (have !== undefined)) return;
  if (have !== undefined) {
    held.delete(r);
    if (!have.destroyed) have.destroy();
    return;
  }
  const s = r.scene;
  const proxy = conn.fractionalScale.getFractionalScale(r.surface);
  proxy.listen({ preferredScale: (scale) => ctx.feedbackFor(s).preferredScale?.(s, scale >>> 0) });
  held.set(r, proxy);
}
