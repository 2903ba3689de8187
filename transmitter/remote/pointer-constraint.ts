/**
 * Pointer constraints over the link: a surface whose application holds a
 * lock or confinement (`SceneSurface.pointerConstraint`) gets a
 * wthp_pointer_constraint when the receiver offers wthp_pointer_constraints;
 * the receiver's compositor activates it, and the relative motion of its
 * pointer comes back to the producer (`feedback.pointerRelativeMotion`).
 */
import { WthpPointerConstraintKind, type WthpPointerConstraintProxy } from '../../shared/generated/waltham/waltham.js';
import type { ConnectionState, LinkContext, Remote } from './remote.js';

const sent = new WeakMap<Remote, { proxy: WthpPointerConstraintProxy; kind: 'lock' | 'confine' }>();

export function sendPointerConstraint(ctx: LinkContext, conn: ConnectionState, r: Remote): void {
  if (conn.pointerConstraints === null || r.kind === 'cursor') return;
  const s = r.scene;
  const want = s.pointerConstraint;
  const have = sent.get(r);
  if (have !== undefined && have.kind === want) return;
  if (have !== undefined) {
    if (!have.proxy.destroyed) have.proxy.destroy();
    sent.delete(r);
  }
  if (want === null) return;
  const proxy = conn.pointerConstraints.constrainPointer(r.surface, want === 'lock' ? WthpPointerConstraintKind.Lock : WthpPointerConstraintKind.Confine);
  proxy.listen({
    active: (on) => ctx.feedbackFor(s).pointerConstraintActive?.(s, on !== 0),
    relativeMotion: (hi, lo, dx, dy, dxu, dyu) => ctx.feedbackFor(s).pointerRelativeMotion?.(s, (BigInt(hi) << 32n) | BigInt(lo), dx, dy, dxu, dyu),
  });
  sent.set(r, { proxy, kind: want });
}
