/**
 * wp_viewporter over the link: when the receiver offers wthp_viewporter
 * (its compositor has wp_viewporter), a surface's buffer goes as the
 * application attached it (`SceneSurface.buffer`, with the buffer's own
 * damage) and its crop and scale as a wthp_viewport, applied by the same
 * commit; the receiver's compositor scales. Otherwise, or when that would
 * cost more pixels than the view, the scaled view (`SceneSurface.content`)
 * goes, as to any display.
 */
import type { WthpViewportProxy } from '../../shared/generated/waltham/waltham.js';
import { bufferCommit, type CommitInfo, type Content, type Rect, type SceneSurface } from '../../shared/scene/scene.js';
import { sameViewport, viewSize, type ViewportState } from '../../shared/scene/viewport.js';
import type { ConnectionState, Remote } from './remote.js';

const sent = new WeakMap<Remote, { proxy: WthpViewportProxy; state: ViewportState | null }>();

/**
 * Whether `s` goes with its viewport on this connection: the receiver can
 * set viewports, and the buffer has no more pixels than the view (an
 * upscaled surface crosses the link at its source size; a downscaled or
 * cropped one is cheaper scaled here).
 */
export function carriesViewport(conn: ConnectionState, s: SceneSurface): boolean {
  if (conn.viewporter === null) return false;
  const b = s.buffer;
  const v = s.viewport;
  if (b === null || v === null) return true;
  const size = viewSize(b, v);
  return b.width * b.height <= size.width * b.scale * size.height * b.scale;
}

/** The pixels to send for `s` on this connection. */
export function contentToSend(conn: ConnectionState, s: SceneSurface): Content | null {
  return carriesViewport(conn, s) ? s.buffer : s.content;
}

/**
 * The damage of a commit of `r`'s surface in the pixels `contentToSend`
 * gives (null: all of it). A switch between the buffer and the view
 * changes the size (the buffer is sent only when it has no more pixels than
 * the view), so the receiver's buffer starts over then anyway.
 */
export function damageToSend(conn: ConnectionState, r: Remote, info: CommitInfo): readonly Rect[] | null {
  const d = carriesViewport(conn, r.scene) ? bufferCommit(info) : info;
  return d.resized ? null : d.damage;
}

/** Before the commit of `r`: its viewport, when it changed (a wthp_viewport made on first need). */
export function sendViewport(conn: ConnectionState, r: Remote): void {
  if (conn.viewporter === null) return;
  const want = carriesViewport(conn, r.scene) ? r.scene.viewport : null;
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
