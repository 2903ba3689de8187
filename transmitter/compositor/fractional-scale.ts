/**
 * wp_fractional_scale_manager_v1 v1, offered only while a consumer's
 * compositor has it (`Scene.offered('fractional-scale')`: a receiver whose
 * display has it, or the local display): a surface whose application asks
 * for its preferred scale says so (`SceneSurface.fractionalScale`, announced
 * with a role change), the consumer follows the preferred scale its
 * compositor gives the surface that shows it (for the output it is on) and
 * passes it back (`feedback.preferredScale`), sent here as preferred_scale.
 */
import { WpFractionalScaleManagerV1Error, WpFractionalScaleManagerV1Resource, type WpFractionalScaleV1Resource } from '../../shared/generated/wayland/index.js';
import type { GlobalHandle } from '../../shared/wayland/server.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

const objects = new WeakMap<Surface, WpFractionalScaleV1Resource>();

/** The consumer's compositor prefers `scale` / 120 for `surface`. */
export function sendPreferredScale(surface: Surface, scale: number): void {
  const r = objects.get(surface);
  if (r !== undefined && !r.destroyed && Number.isInteger(scale) && scale > 0 && scale <= 0xffffffff) r.sendPreferredScale(scale);
}

export function registerFractionalScale(ctx: DisplayContext): void {
  let global: GlobalHandle | null = null;
  const update = (): void => {
    const offered = ctx.scene.offered('fractional-scale') === true;
    if (offered && global === null) {
      global = ctx.server.addGlobal(WpFractionalScaleManagerV1Resource, 1, (manager) => {
        manager.listen({
          destroy: () => {},
          getFractionalScale: (id, surfaceResource) => {
            id.listen({ destroy: () => {} });
            const surface = Surface.fromResource(surfaceResource);
            if (surface === undefined) return;
            const existing = objects.get(surface);
            if (existing !== undefined && !existing.destroyed) {
              manager.postError(WpFractionalScaleManagerV1Error.FractionalScaleExists, `${surfaceResource.toString()} already has a wp_fractional_scale_v1`);
              return;
            }
            objects.set(surface, id);
            surface.scene.fractionalScale = true;
            surface.markRoleChanged();
            id.onDestroy(() => {
              if (objects.get(surface) !== id) return;
              objects.delete(surface);
              if (surface.isDestroyed) return;
              surface.scene.fractionalScale = false;
              surface.markRoleChanged();
            });
          },
        });
      });
      ctx.logger.info('wp_fractional_scale_manager_v1 offered: a display has it');
    } else if (!offered && global !== null) {
      global.remove();
      global = null;
      ctx.logger.info('wp_fractional_scale_manager_v1 withdrawn: no display has it');
    }
  };
  ctx.scene.on('offers', update);
  update();
}
