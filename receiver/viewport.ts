/**
 * wthp_viewporter on the receiver (offered when the local compositor has
 * wp_viewporter): a transmitter sends a surface's buffer as its application
 * attached it with a wthp_viewport, double-buffered with the surface's
 * commit. The state lands on the scene surface (`SceneSurface.viewport`),
 * which the local display sets on a wp_viewport of its surface. Values that
 * cannot apply (a source outside the buffer, sizes not positive, a
 * destination past the surface size limit) drop the transmitter with
 * wth_display.error, checked at commit (`RemoteSurface.viewportProblem`).
 */
import type { Resource } from '../shared/wire/object.js';
import type { WthpSurfaceResource, WthpViewporterResource, WthpViewportResource } from '../shared/generated/waltham/waltham.js';
import { NO_VIEWPORT } from '../shared/scene/viewport.js';
import type { RemoteSurface } from './remote-surface.js';

type Fail = (message: string, code?: number) => void;

const viewports = new WeakMap<RemoteSurface, WthpViewportResource>();

export function bindViewporter(
  manager: WthpViewporterResource,
  surfaceOf: (surface: WthpSurfaceResource) => RemoteSurface,
  failer: (resource: Resource, message: string) => Fail,
): void {
  manager.listen({
    destroy: () => {},
    getViewport: (id, surface) => {
      const rs = surfaceOf(surface);
      const existing = viewports.get(rs);
      if (existing !== undefined && !existing.destroyed) return failer(manager, 'get_viewport')(`${surface.toString()} already has a viewport`);
      viewports.set(rs, id);
      id.listen({
        destroy: () => {},
        setSource: (x, y, width, height) => {
          if (rs.destroyed) return;
          const unset = x === -1 && y === -1 && width === -1 && height === -1;
          if (!unset && (x < 0 || y < 0 || width <= 0 || height <= 0)) return failer(id, 'set_source')(`source rectangle ${width}x${height}@${x},${y} is invalid`);
          rs.pending.viewport = { ...rs.pendingViewport(), source: unset ? null : { x, y, width, height } };
        },
        setDestination: (width, height) => {
          if (rs.destroyed) return;
          const unset = width === -1 && height === -1;
          if (!unset && (width <= 0 || height <= 0)) return failer(id, 'set_destination')(`destination size ${width}x${height} is invalid`);
          rs.pending.viewport = { ...rs.pendingViewport(), destination: unset ? null : { width, height } };
        },
      });
      id.onDestroy(() => {
        if (viewports.get(rs) === id) viewports.delete(rs);
        // The crop and scale go with the surface's next commit.
        if (!rs.destroyed) rs.pending.viewport = NO_VIEWPORT;
      });
    },
  });
}
