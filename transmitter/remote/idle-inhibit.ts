/**
 * Idle inhibition over the link: a surface whose application inhibits idle
 * (`SceneSurface.idleInhibit`) holds a wthp_idle_inhibitor on the receiver
 * when the receiver offers wthp_idle_inhibit_manager.
 */
import type { WthpIdleInhibitorProxy } from '../../shared/generated/waltham/waltham.js';
import type { ConnectionState, Remote } from './remote.js';

const held = new WeakMap<Remote, WthpIdleInhibitorProxy>();

export function sendIdleInhibit(conn: ConnectionState, r: Remote): void {
  if (conn.idleInhibit === null) return;
  const have = held.get(r);
  const want = r.scene.idleInhibit;
  if (want === (have !== undefined)) return;
  if (have !== undefined) {
    held.delete(r);
    if (!have.destroyed) have.destroy();
    return;
  }
  held.set(r, conn.idleInhibit.createInhibitor(r.surface));
}
