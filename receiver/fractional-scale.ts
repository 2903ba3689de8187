/**
 * wthp_fractional_scale_manager on the receiver (offered when the local
 * compositor has wp_fractional_scale_manager_v1): a transmitter asks for
 * the preferred scale of a surface; its scene surface says so
 * (`SceneSurface.fractionalScale`, announced with the surface's next
 * commit), the local display follows the preferred scale of the surface
 * that shows it and passes it here (`feedback.preferredScale`), sent on as
 * wthp_fractional_scale.preferred_scale.
 */
import type { Resource } from '../shared/wire/object.js';
import type { WthpFractionalScaleManagerResource, WthpFractionalScaleResource, WthpSurfaceResource } from '../shared/generated/waltham/waltham.js';
import type { RemoteSurface } from './remote-surface.js';

type Fail = (message: string, code?: number) => void;

export class ReceiverFractionalScale {
  private readonly objects = new WeakMap<RemoteSurface, WthpFractionalScaleResource>();

  bind(manager: WthpFractionalScaleManagerResource, surfaceOf: (surface: WthpSurfaceResource) => RemoteSurface, failer: (resource: Resource, message: string) => Fail): void {
    manager.listen({
      destroy: () => {},
      getFractionalScale: (id, surface) => {
        const rs = surfaceOf(surface);
        const existing = this.objects.get(rs);
        if (existing !== undefined && !existing.destroyed) return failer(manager, 'get_fractional_scale')(`${surface.toString()} already has a fractional scale`);
        this.objects.set(rs, id);
        id.listen({ destroy: () => {} });
        const announce = (on: boolean): void => {
          if (rs.destroyed || rs.scene.fractionalScale === on) return;
          rs.scene.fractionalScale = on;
          rs.updateRole({}); // announced with the surface's next commit
        };
        announce(true);
        id.onDestroy(() => {
          if (this.objects.get(rs) !== id) return;
          this.objects.delete(rs);
          announce(false);
        });
      },
    });
  }

  /** The local compositor prefers `scale` / 120 for the surface that shows `rs`. */
  preferredScale(rs: RemoteSurface, scale: number): void {
    const id = this.objects.get(rs);
    if (id !== undefined && !id.destroyed && Number.isInteger(scale) && scale > 0) id.sendPreferredScale(scale);
  }
}
