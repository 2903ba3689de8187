/**
 * wp_viewporter over the link: when the receiver offers wthp_viewporter
 * (its compositor has wp_viewporter), a surface's buffer goes as the
 * application attached it (`SceneSurface.buffer`, with the buffer's own
 * damage) and its crop and scale as a wthp_viewport, applied by the same
 * commit; the receiver's compositor scales. Otherwise the scaled view
 * (`SceneSurface.content`) goes, as to any display.
 */
import type { WthpViewportProxy } from '../../shared/generated/waltham/waltham.js';
import { bufferCommit, type CommitInfo, type Content, type Rect, type SceneSurface } from '../../shared/scene/scene.js';
import { sameViewport, type ViewportState } from '../../shared/scene/viewport.js';
import type { ConnectionState, Remote } from './remote.js';

const sent = new WeakMap<Remote, { proxy: WthpViewportProxy; state: ViewportState | null }>();

/** Whether this connection carries viewports. */
export function carriesViewport(conn: ConnectionState): boolean {
  return conn.viewporter !== null;
}

/** The pixels to send for `s` on this connection. */
export function contentToSend(conn: ConnectionState, s: SceneSurface): Content | null {
  return carriesViewport(conn) ? s.buffer : s.content;
}

/** The damage and resize of a commit in the pixels `contentToSend` gives. */
export function damageToSend(conn: ConnectionState, info: CommitInfo): { readonly damage: readonly Rect[]; readonly resized: boolean } {
  return carriesViewport(conn) ? bufferCommit(info) : info;
}

/** Before the commit of `r`: its viewport, when it changed (a wthp_viewport made on first need). */
export function sendViewport(conn: ConnectionState, r: Remote): void {
  if (conn.viewporter === null) return;
  const want = r.scene.viewport;
  let v = sent.get(r);
  if (v === undefined) {
    if (want === null) return;
    v = { proxy: conn.viewporter.getViewport(r.surface), state: null };
    sent.set(r, v);
  }
  if (sameViewport(v.state, want)) return;
  const before = v.state;
  const src = want?.source ?? null;
  const dst = want?.destination ?? null;
  if (!sameViewport({ source: src, destination: null }, { source: before?.source ?? null, destination: null })) {
    if (src === null) v.proxy.setSource(-1, -1, -1, -1);
    else v.proxy.setSource(src.x, src.y, src.width, src.height);
  }
  if (!sameViewport({ source: null, destination: dst }, { source: null, destination: before?.destination ?? null })) {
    if (dst === null) v.proxy.setDestination(-1, -1);
    else v.proxy.setDestination(dst.width, dst.height);
  }
  v.state = want;
}
