/**
 * A popup's positioner for the receiver (wthp_window_manager.set_popup_positioner),
 * so that its compositor keeps the popup inside its output; sent when it
 * changed, before the commit that places the popup with it.
 */
import type { WthpPopupProxy } from '../../shared/generated/waltham/waltham.js';
import { samePositioner, type PopupPositioner } from '../../shared/scene/window-requests.js';
import { int, type ConnectionState, type Remote } from './remote.js';

export function sendPositioner(conn: ConnectionState, r: Remote, p: PopupPositioner | null): void {
  const wm = conn.windowManager;
  if (wm === null || p === null || samePositioner(r.positioner, p)) return;
  const a = p.anchorRect;
  wm.setPopupPositioner(
    r.role as WthpPopupProxy,
    Math.max(1, int(p.width)),
    Math.max(1, int(p.height)),
    int(a.x),
    int(a.y),
    Math.max(0, int(a.width)),
    Math.max(0, int(a.height)),
    p.anchor >>> 0,
    p.gravity >>> 0,
    p.constraintAdjustment >>> 0,
    int(p.offsetX),
    int(p.offsetY),
  );
  r.positioner = p;
}
