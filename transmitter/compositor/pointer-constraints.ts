/**
 * zwp_pointer_constraints_v1 v1: lock and confine.
 *
 * A constraint is active while its surface has the pointer: `locked` /
 * `confined` when the pointer enters (or at once if it is there),
 * `unlocked` / `unconfined` when it leaves. A oneshot constraint is then
 * defunct; a persistent one activates again at the next enter. While a lock
 * is active the surface gets no wl_pointer.motion, only relative motion
 * (relative-pointer.ts). Confinement to a region is the consumer's
 * compositor's business (the pointer cannot leave a surface it does not
 * reach); here a confined surface simply keeps its motion. Consumers see the
 * constraint as `SceneSurface.pointerConstraint` and carry it to their
 * compositor (the receiver asks its compositor for the same constraint and
 * sends back the relative motion of its locked pointer). Regions are
 * accepted but not used to decide activation.
 *
 * A lifetime other than persistent counts as oneshot. At most one constraint per surface and wl_pointer's seat (one seat here):
 * a second one is the already_constrained error.
 */
import {
  ZwpConfinedPointerV1Resource,
  ZwpLockedPointerV1Resource,
  ZwpPointerConstraintsV1Error,
  ZwpPointerConstraintsV1Lifetime,
  ZwpPointerConstraintsV1Resource,
} from '../../shared/generated/wayland/index.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

interface Constraint {
  readonly kind: 'lock' | 'confine';
  readonly surface: Surface;
  readonly resource: ZwpLockedPointerV1Resource | ZwpConfinedPointerV1Resource;
  readonly persistent: boolean;
  active: boolean;
  defunct: boolean;
}

const constraints = new Map<Surface, Constraint>();

/** The active constraint of `surface`, if any. */
export function activeConstraint(surface: Surface): 'lock' | 'confine' | null {
  const c = constraints.get(surface);
  return c !== undefined && c.active ? c.kind : null;
}

export function registerPointerConstraints(ctx: DisplayContext): void {
  const seat = ctx.seat;

  const activate = (c: Constraint): void => {
    if (c.active || c.defunct || c.resource.destroyed || seat.pointerFocus !== c.surface) return;
    c.active = true;
    if (c.kind === 'lock') {
      seat.pointerLockedOn = c.surface;
      (c.resource as ZwpLockedPointerV1Resource).sendLocked();
    } else {
      (c.resource as ZwpConfinedPointerV1Resource).sendConfined();
    }
  };

  const deactivate = (c: Constraint): void => {
    if (!c.active) return;
    c.active = false;
    if (seat.pointerLockedOn === c.surface) seat.pointerLockedOn = null;
    if (!c.resource.destroyed) {
      if (c.kind === 'lock') (c.resource as ZwpLockedPointerV1Resource).sendUnlocked();
      else (c.resource as ZwpConfinedPointerV1Resource).sendUnconfined();
    }
    if (!c.persistent) c.defunct = true;
  };

  seat.on('pointer-enter', (surface) => {
    const c = constraints.get(surface);
    if (c !== undefined) activate(c);
  });
  seat.on('pointer-leave', (surface) => {
    const c = constraints.get(surface);
    if (c !== undefined) deactivate(c);
  });

  const create = (
    manager: ZwpPointerConstraintsV1Resource,
    kind: 'lock' | 'confine',
    resource: ZwpLockedPointerV1Resource | ZwpConfinedPointerV1Resource,
    surfaceResource: Parameters<typeof Surface.fromResource>[0],
    lifetime: number,
  ): void => {
    const surface = Surface.fromResource(surfaceResource);
    if (surface === undefined) return;
    const existing = constraints.get(surface);
    if (existing !== undefined && !existing.resource.destroyed) {
      manager.postError(ZwpPointerConstraintsV1Error.AlreadyConstrained, `${surfaceResource.toString()} already has a pointer constraint`);
      return;
    }
    const c: Constraint = { kind, surface, resource, persistent: lifetime === ZwpPointerConstraintsV1Lifetime.Persistent, active: false, defunct: false };
    constraints.set(surface, c);
    // Consumers carry it to their compositors (the receiver's pointer lock, its relative motion).
    surface.scene.pointerConstraint = kind;
    surface.markRoleChanged();
    resource.onDestroy(() => {
      if (constraints.get(surface) === c) constraints.delete(surface);
      if (!surface.isDestroyed && surface.scene.pointerConstraint !== null) {
        surface.scene.pointerConstraint = null;
        surface.markRoleChanged();
      }
      if (c.active) {
        c.active = false;
        if (seat.pointerLockedOn === surface) seat.pointerLockedOn = null;
      }
    });
    activate(c);
  };

  ctx.server.addGlobal(ZwpPointerConstraintsV1Resource, 1, (manager) => {
    manager.listen({
      destroy: () => {},
      lockPointer: (id, surface, _pointer, _region, lifetime) => {
        id.listen({ destroy: () => {}, setCursorPositionHint: () => {}, setRegion: () => {} });
        create(manager, 'lock', id, surface, lifetime);
      },
      confinePointer: (id, surface, _pointer, _region, lifetime) => {
        id.listen({ destroy: () => {}, setRegion: () => {} });
        create(manager, 'confine', id, surface, lifetime);
      },
    });
  });
}
