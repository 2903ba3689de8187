/**
 * Crop and scale on the local compositor: where it has wp_viewporter (and
 * the display was not told to leave it alone), a scene surface with a
 * viewport shows its buffer as it is (`SceneSurface.buffer`, with the
 * buffer's damage) through a wp_viewport of the local surface, and the
 * compositor scales. Otherwise the scaled view (`SceneSurface.content`) is
 * shown, as on any compositor.
 */
import type { WpViewportProxy } from '../generated/wayland/index.js';
import { bufferCommit, type CommitInfo, type Content, type Rect, type SceneSurface } from '../scene/scene.js';
import { sameViewport, type ViewportState } from '../scene/viewport.js';
import type { Mirror } from './mirror.js';
import type { DisplayState } from './state.js';

const held = new WeakMap<Mirror, { proxy: WpViewportProxy; state: ViewportState | null }>();

/** Whether this display sets viewports on its surfaces. */
export function carriesViewport(d: DisplayState): boolean {
  return d.viewporter !== null;
}

/** The pixels to show for `s` on this display. */
export function contentToShow(d: DisplayState, s: SceneSurface): Content | null {
  return carriesViewport(d) ? s.buffer : s.content;
}

/** The damage and resize of a commit in the pixels `contentToShow` gives. */
export function damageToShow(d: DisplayState, info: CommitInfo): { readonly damage: readonly Rect[]; readonly resized: boolean } {
  return carriesViewport(d) ? bufferCommit(info) : info;
}

/** Before a commit of `m`'s surface: the scene surface's viewport, when it changed (wp_viewport.set_source takes wl_fixed values). */
export function applyViewport(d: DisplayState, m: Mirror): void {
  if (d.viewporter === null || d.isClosed) return;
  const want = m.scene.viewport;
  let v = held.get(m);
  if (v === undefined) {
    if (want === null) return;
    v = { proxy: d.viewporter.getViewport(m.wl), state: null };
    held.set(m, v);
  }
  if (sameViewport(v.state, want)) return;
  const src = want?.source ?? null;
  const dst = want?.destination ?? null;
  if (src === null) v.proxy.setSource(-1, -1, -1, -1);
  else v.proxy.setSource(src.x, src.y, src.width, src.height);
  if (dst === null) v.proxy.setDestination(-1, -1);
  else v.proxy.setDestination(dst.width, dst.height);
  v.state = want;
  d.logger.debug(
    { surface: m.scene.id },
    want === null
      ? `surface ${m.scene.id}: viewport unset`
      : `surface ${m.scene.id}: ${m.scene.buffer?.width ?? 0}x${m.scene.buffer?.height ?? 0} buffer shown through a viewport as ${m.scene.size.width}x${m.scene.size.height}`,
  );
}

/** The local surface is going: its wp_viewport goes first. */
export function dropViewport(m: Mirror): void {
  const v = held.get(m);
  held.delete(m);
  if (v !== undefined && !v.proxy.destroyed) v.proxy.destroy();
}
