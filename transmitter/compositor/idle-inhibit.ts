/**
 * zwp_idle_inhibit_manager_v1 v1: inhibitors are accepted and counted. The
 * virtual display itself never blanks; keeping the receiving display awake
 * while a remote video plays is not carried yet (see the README).
 */
import { ZwpIdleInhibitManagerV1Resource } from '../../shared/generated/wayland/index.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

/** Live inhibitors per surface. */
const inhibitors = new WeakMap<Surface, number>();

export function idleInhibited(surface: Surface): boolean {
  return (inhibitors.get(surface) ?? 0) > 0;
}

export function registerIdleInhibit(ctx: DisplayContext): void {
  ctx.server.addGlobal(ZwpIdleInhibitManagerV1Resource, 1, (manager) => {
    manager.listen({
      destroy: () => {},
      createInhibitor: (id, surfaceResource) => {
        id.listen({ destroy: () => {} });
        const surface = Surface.fromResource(surfaceResource);
        if (surface === undefined) return;
        inhibitors.set(surface, (inhibitors.get(surface) ?? 0) + 1);
        id.onDestroy(() => inhibitors.set(surface, Math.max(0, (inhibitors.get(surface) ?? 1) - 1)));
      },
    });
  });
}
