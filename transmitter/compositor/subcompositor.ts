/**
 * wl_subcompositor v1 / wl_subsurface (wayland.xml).
 *
 * - Position and stacking order (place_above / place_below) are state of the
 *   parent: they take effect when the parent's state is applied.
 * - A sync subsurface (the default) caches its commits; the cache is applied
 *   right after its parent's state is applied. A desync subsurface applies its
 *   commits at once, unless an ancestor is synchronized ("effectively
 *   synchronized"). set_desync applies a pending cache.
 * - A new subsurface goes on top of its siblings at once; destroying the
 *   wl_subsurface removes it from the parent at once (weston's behaviour).
 *
 * In the scene, a parent's commit reports `stackingChanged` when the order or
 * the positions of its subsurfaces changed; `SubsurfaceRole.x/y/sync` hold
 * the applied values.
 */
import type { SubsurfaceRole } from '../../shared/scene/scene.js';
import {
  WlSubcompositorError,
  WlSubcompositorResource,
  WlSubsurfaceError,
  WlSubsurfaceResource,
  WlSurfaceResource,
} from '../../shared/generated/wayland/index.js';
import { Surface, type SubsurfaceLink, type SurfaceRoleHandler } from './compositor.js';
import type { DisplayContext } from './context.js';

class Subsurface implements SubsurfaceLink, SurfaceRoleHandler {
  parent: Surface | null;
  sync = true;
  private pendingPosition: { x: number; y: number } | null = null;
  private readonly role: SubsurfaceRole;

  constructor(
    private readonly resource: WlSubsurfaceResource,
    private readonly surface: Surface,
    parent: Surface,
  ) {
    this.parent = parent;
    this.role = { kind: 'subsurface', parent: parent.scene, x: 0, y: 0, sync: true };
    surface.subsurface = this;
    surface.handler = this;
    surface.scene.role = this.role;
    parent.addChild(surface);
    resource.listen({
      destroy: () => {},
      setPosition: (x, y) => {
        this.pendingPosition = { x, y };
      },
      placeAbove: (sibling) => this.place(sibling, 'above'),
      placeBelow: (sibling) => this.place(sibling, 'below'),
      setSync: () => {
        this.sync = true;
        this.role.sync = true;
      },
      setDesync: () => {
        if (!this.sync) return;
        this.sync = false;
        this.role.sync = false;
        this.surface.flushDesynchronized();
      },
    });
    resource.onDestroy(() => this.detach());
  }

  private place(siblingResource: WlSurfaceResource, where: 'above' | 'below'): void {
    const parent = this.parent;
    if (parent === null) return;
    const sibling = Surface.fromResource(siblingResource);
    if (sibling === undefined || sibling === this.surface || !parent.pendingStack.includes(sibling)) {
      this.resource.postError(WlSubsurfaceError.BadSurface, `${siblingResource.toString()} is not a parent or sibling`);
      return;
    }
    const stack = parent.pendingStack.filter((s) => s !== this.surface);
    const i = stack.indexOf(sibling);
    stack.splice(where === 'above' ? i + 1 : i, 0, this.surface);
    parent.pendingStack = stack;
  }

  applyPosition(): boolean {
    const p = this.pendingPosition;
    if (p === null) return false;
    this.pendingPosition = null;
    if (p.x === this.role.x && p.y === this.role.y) return false;
    this.role.x = p.x;
    this.role.y = p.y;
    return true;
  }

  parentGone(): void {
    if (this.parent === null) return;
    this.parent = null;
    this.unmapSurface();
  }

  /** The wl_subsurface is destroyed: the surface leaves its parent and has no role any more. */
  private detach(): void {
    const parent = this.parent;
    this.parent = null;
    if (this.surface.subsurface === this) this.surface.subsurface = null;
    if (this.surface.handler === this) this.surface.handler = null;
    parent?.removeChild(this.surface);
    this.unmapSurface();
  }

  private unmapSurface(): void {
    if (this.surface.isDestroyed || this.surface.scene.role !== this.role) return;
    this.surface.scene.role = null;
    this.surface.scene.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
  }

  surfaceDestroyed(): void {
    const parent = this.parent;
    this.parent = null;
    parent?.removeChild(this.surface);
  }
}

export function registerSubcompositor(ctx: DisplayContext): void {
  ctx.server.addGlobal(WlSubcompositorResource, 1, (subcompositor) => {
    subcompositor.listen({
      destroy: () => {},
      getSubsurface: (id, surfaceResource, parentResource) => {
        const surface = Surface.fromResource(surfaceResource);
        const parent = Surface.fromResource(parentResource);
        if (surface === undefined || parent === undefined) return;
        if (surface === parent) {
          subcompositor.postError(WlSubcompositorError.BadSurface, `${surfaceResource.toString()} cannot be its own parent`);
          return;
        }
        if (surface.subsurface !== null) {
          subcompositor.postError(WlSubcompositorError.BadSurface, `${surfaceResource.toString()} is already a sub-surface`);
          return;
        }
        for (let p: Surface | null = parent; p !== null; p = p.subsurface?.parent ?? null) {
          if (p === surface) {
            subcompositor.postError(WlSubcompositorError.BadSurface, `${surfaceResource.toString()} is an ancestor of parent`);
            return;
          }
        }
        if (!surface.setRoleType('wl_subsurface')) {
          subcompositor.postError(WlSubcompositorError.BadSurface, `${surfaceResource.toString()} already has the ${surface.roleType} role`);
          return;
        }
        new Subsurface(id, surface, parent);
        ctx.logger.trace({ client: surface.client.name }, `${surfaceResource.toString()} is a subsurface of ${parentResource.toString()}`);
      },
    });
  });
}
