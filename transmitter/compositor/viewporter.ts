/**
 * wp_viewporter v1 (viewporter.xml): crop and scale of a surface's content.
 *
 * The scene surface gets the client's buffer as it is with the viewport
 * (`SceneSurface.setBuffer`): a consumer whose compositor has wp_viewporter
 * carries both (the receiver's display scales), the others see
 * `SceneSurface.content`, the buffer cropped and scaled here
 * (shared/scene/viewport.ts).
 *
 * The crop and scale state is double-buffered with the wl_surface state
 * (`SurfaceState.viewport`); the checks that depend on the buffer
 * (out_of_buffer, bad_size) run when the state is applied, as the protocol
 * says.
 */
import { WpViewportError, WpViewporterError, WpViewporterResource, WpViewportResource } from '../../shared/generated/wayland/index.js';
import { MAX_VIEWPORT_SIZE, NO_VIEWPORT, viewportActive, viewportProblem, type ViewportState } from '../../shared/scene/viewport.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

export { NO_VIEWPORT, type ViewportState };

const viewports = new WeakMap<Surface, WpViewportResource>();

/** The state applied last, per surface (absent: never had a viewport). */
const applied = new WeakMap<Surface, ViewportState>();

/**
 * Checks a state about to be applied (the surface's buffer is `buffer`, null
 * when none): posts out_of_buffer or bad_size and returns false, as weston
 * does when the surface state is applied.
 */
export function checkViewport(surface: Surface, viewport: ViewportState | undefined, buffer: { width: number; height: number } | null, transform: number, scale: number): boolean {
  const v = viewport ?? applied.get(surface) ?? NO_VIEWPORT;
  const resource = viewports.get(surface);
  if (!viewportActive(v) || resource === undefined || resource.destroyed) return true;
  const problem = viewportProblem(v, buffer === null ? null : { width: buffer.width, height: buffer.height, transform, scale });
  if (problem === null) return true;
  const code = problem.startsWith('source size') ? WpViewportError.BadSize : problem.startsWith('destination') ? WpViewportError.BadValue : WpViewportError.OutOfBuffer;
  resource.postError(code, problem);
  return false;
}

/** The viewport state that applies with this commit (`viewport`: the one set in the state, if any); null when none. */
export function appliedViewport(surface: Surface, viewport: ViewportState | undefined): ViewportState | null {
  const before = applied.get(surface);
  if (viewport !== undefined && (before !== undefined || viewportActive(viewport))) applied.set(surface, viewport);
  const now = applied.get(surface) ?? null;
  return viewportActive(now) ? now : null;
}

export function registerViewporter(ctx: DisplayContext): void {
  ctx.server.addGlobal(WpViewporterResource, 1, (viewporter) => {
    viewporter.listen({
      destroy: () => {},
      getViewport: (id, surfaceResource) => {
        const surface = Surface.fromResource(surfaceResource);
        if (surface === undefined) return;
        const existing = viewports.get(surface);
        if (existing !== undefined && !existing.destroyed) {
          viewporter.postError(WpViewporterError.ViewportExists, `${surfaceResource.toString()} already has a viewport`);
          return;
        }
        viewports.set(surface, id);
        let pending: ViewportState = applied.get(surface) ?? NO_VIEWPORT;
        const set = (next: ViewportState): void => {
          pending = next;
          surface.pendingState.viewport = next;
        };
        const alive = (): boolean => {
          if (!surface.isDestroyed) return true;
          id.postError(WpViewportError.NoSurface, `the wl_surface of ${id.toString()} was destroyed`);
          return false;
        };
        id.listen({
          destroy: () => {},
          setSource: (x, y, width, height) => {
            if (!alive()) return;
            if (x === -1 && y === -1 && width === -1 && height === -1) {
              set({ ...pending, source: null });
              return;
            }
            if (x < 0 || y < 0 || width <= 0 || height <= 0) {
              id.postError(WpViewportError.BadValue, `source rectangle ${width}x${height}@${x},${y} is invalid`);
              return;
            }
            set({ ...pending, source: { x, y, width, height } });
          },
          setDestination: (width, height) => {
            if (!alive()) return;
            if (width === -1 && height === -1) {
              set({ ...pending, destination: null });
              return;
            }
            if (width <= 0 || height <= 0 || width > MAX_VIEWPORT_SIZE || height > MAX_VIEWPORT_SIZE) {
              id.postError(WpViewportError.BadValue, `destination size ${width}x${height} is invalid (1..${MAX_VIEWPORT_SIZE})`);
              return;
            }
            set({ ...pending, destination: { width, height } });
          },
        });
        id.onDestroy(() => {
          if (viewports.get(surface) === id) viewports.delete(surface);
          // The crop and scale state goes with the next commit.
          if (!surface.isDestroyed) surface.pendingState.viewport = NO_VIEWPORT;
        });
      },
    });
  });
}
