/**
 * ivi_application v1 (ivi-application.xml): surface_create gives a surface
 * the ivi role with a numeric ivi id, unique in the display. There is no
 * configure handshake: the surface maps with its first buffer. A consumer's
 * `configure` becomes ivi_surface.configure(width, height).
 *
 * Errors: `role` (the surface has another role), `ivi_id` (the id is taken).
 */
import type { IviRole } from '../../shared/scene/scene.js';
import { IviApplicationError, IviApplicationResource, IviSurfaceResource } from '../../shared/generated/wayland/index.js';
import { Surface, type SurfaceRoleHandler } from './compositor.js';
import type { DisplayContext } from './context.js';
import { surfaceUnmapped } from './output.js';

export class IviSurface implements SurfaceRoleHandler {
  readonly role: IviRole;

  constructor(
    private readonly ctx: DisplayContext,
    readonly resource: IviSurfaceResource,
    readonly surface: Surface,
    readonly iviId: number,
  ) {
    this.role = { kind: 'ivi', iviId };
    surface.handler = this;
    surface.scene.role = this.role;
    ctx.iviIds.set(iviId, this);
    iviSurfaces.set(surface, this);
    resource.listen({ destroy: () => {} });
    resource.onDestroy(() => this.gone());
  }

  committed(wasMapped: boolean): void {
    if (this.surface.scene.mapped && !wasMapped) this.ctx.seat.rootMapped(this.surface);
  }

  configure(width: number, height: number): void {
    if (!this.resource.destroyed) this.resource.sendConfigure(Math.max(0, width | 0), Math.max(0, height | 0));
  }

  surfaceDestroyed(): void {
    this.release();
  }

  private release(): void {
    if (this.ctx.iviIds.get(this.iviId) === this) this.ctx.iviIds.delete(this.iviId);
    iviSurfaces.delete(this.surface);
  }

  private gone(): void {
    this.release();
    const surface = this.surface;
    if (surface.handler === this) surface.handler = null;
    if (surface.isDestroyed || surface.scene.role !== this.role) return;
    if (surface.scene.mapped) {
      surfaceUnmapped(this.ctx, surface);
      this.ctx.seat.surfaceUnmapped(surface);
    }
    surface.scene.role = null;
    surface.scene.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
  }
}

const iviSurfaces = new WeakMap<Surface, IviSurface>();

export function iviSurfaceOf(surface: Surface): IviSurface | undefined {
  return iviSurfaces.get(surface);
}

export function registerIvi(ctx: DisplayContext): void {
  ctx.server.addGlobal(IviApplicationResource, 1, (app) => {
    app.listen({
      surfaceCreate: (iviId, surfaceResource, id) => {
        const surface = Surface.fromResource(surfaceResource);
        if (surface === undefined) return;
        const current = surface.roleType;
        if ((current !== null && current !== 'ivi_surface') || iviSurfaces.has(surface)) {
          app.postError(IviApplicationError.Role, `${surfaceResource.toString()} already has a role`);
          return;
        }
        if (ctx.iviIds.has(iviId >>> 0)) {
          app.postError(IviApplicationError.IviId, `ivi_id ${iviId >>> 0} is already assigned to another surface`);
          return;
        }
        surface.setRoleType('ivi_surface');
        new IviSurface(ctx, id, surface, iviId >>> 0);
      },
    });
  });
}
