/**
 * zwp_idle_inhibit_manager_v1 v1: while a surface has an inhibitor, its
 * scene surface says so (`SceneSurface.idleInhibit`, announced with a role
 * change), and consumers carry it to their compositor: the receiver holds an
 * idle inhibitor on the window that shows it, so the display stays awake
 * while a remote video plays. The virtual display itself never idles.
 */
import { ZwpIdleInhibitManagerV1Resource } from '../../shared/generated/wayland/index.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

/** Live inhibitors per surface. */
const inhibitors = new WeakMap<Surface, number>();

export function idleInhibited(surface: Surface): boolean {
  return (inhibitors.get(surface) ?? 0) > 0;
}

function changed(surface: Surface, by: number): void {
  const n = Math.max(0, (inhibitors.get(surface) ?? 0) + by);
  inhibitors.set(surface, n);
  if (surface.isDestroyed || surface.scene.idleInhibit === n > 0) return;
  surface.scene.idleInhibit = n > 0;
  surface.markRoleChanged();
}

export function registerIdleInhibit(ctx: DisplayContext): void {
  ctx.server.addGlobal(ZwpIdleInhibitManagerV1Resource, 1, (manager) => {
    manager.listen({
      destroy: () => {},
      createInhibitor: (id, surfaceResource) => {
        id.listen({ destroy: () => {} });
        const surface = Surface.fromResource(surfaceResource);
        if (surface === undefined) return;
        changed(surface, 1);
        id.onDestroy(() => changed(surface, -1));
      },
    });
  });
}
