/**
 * Window management requests of shown surfaces (scene `request` events) run
 * on the local compositor: xdg_toplevel.set_minimized, and move/resize with
 * the local seat's serial of the press that started them (the relay maps the
 * producer's serial of that press back to ours).
 */
import type { SceneSurface } from '../scene/scene.js';
import type { WindowRequest } from '../scene/window-requests.js';
import type { DisplayState } from './state.js';
import { syncTextInput } from './text-input.js';

export function runWindowRequest(d: DisplayState, s: SceneSurface, request: WindowRequest): void {
  if (request.kind === 'text-input') {
    syncTextInput(d);
    return;
  }
  const m = d.mirrors.get(s);
  const toplevel = m?.toplevel ?? null;
  if (d.isClosed || toplevel === null || toplevel.destroyed) return;
  if (request.kind === 'minimize') {
    toplevel.setMinimized();
    return;
  }
  const serial = d.input.pressSerialFor(s.owner, request.serial);
  if (serial === undefined || d.seat === null) {
    d.logger.debug({ surface: s.id }, `${request.kind} of surface ${s.id}: serial ${request.serial} is not a recent press here, ignored`);
    return;
  }
  if (request.kind === 'move') toplevel.move(d.seat, serial);
  else toplevel.resize(d.seat, serial, request.edges);
}
