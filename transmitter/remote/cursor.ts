/**
 * The pointer image on the receiver: the cursor surface of the application
 * under the receiver's pointer (wthp_pointer.set_cursor with the serial of
 * the pointer's enter).
 */
import type { SceneOwner } from '../../shared/scene/scene.js';
import type { SceneFollower } from './follow.js';
import { int, type ConnectionState, type LinkContext } from './remote.js';

export function sendCursor(ctx: LinkContext, follower: SceneFollower, conn: ConnectionState, owner: SceneOwner): void {
  const pointer = conn.pointer;
  if (pointer === null || pointer.destroyed) return;
  const cursor = ctx.scene.cursors.get(owner);
  if (cursor === undefined) return;
  if (cursor === null) {
    pointer.setCursor(conn.input.pointerSerial, null, 0, 0);
    conn.cursorSent = null;
    return;
  }
  const r = follower.ensure(conn, cursor);
  if (r === null || cursor.role === null || cursor.role.kind !== 'cursor') return;
  r.hotspot = { x: cursor.role.hotspotX, y: cursor.role.hotspotY };
  pointer.setCursor(conn.input.pointerSerial, r.surface, int(r.hotspot.x), int(r.hotspot.y));
  conn.cursorSent = cursor;
  ctx.scheduleFlush();
}
