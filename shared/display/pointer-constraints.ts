/**
 * Pointer constraints from the local compositor: a scene surface with a
 * `pointerConstraint` gets a persistent zwp_locked_pointer_v1 or
 * zwp_confined_pointer_v1 on its local surface (for the local pointer); the
 * compositor's locked/unlocked (confined/unconfined) go to the surface's
 * producer, and so does the relative motion of the local pointer
 * (zwp_relative_pointer_v1) while the constraint is active.
 */
import {
  ZwpPointerConstraintsV1Lifetime,
  type ZwpConfinedPointerV1Proxy,
  type ZwpLockedPointerV1Proxy,
  type ZwpRelativePointerV1Proxy,
} from '../generated/wayland/index.js';
import type { Mirror } from './mirror.js';
import type { DisplayState } from './state.js';

interface Held {
  readonly kind: 'lock' | 'confine';
  readonly proxy: ZwpLockedPointerV1Proxy | ZwpConfinedPointerV1Proxy;
  active: boolean;
}

const held = new WeakMap<Mirror, Held>();
const relative = new WeakMap<DisplayState, { pointer: object; proxy: ZwpRelativePointerV1Proxy }>();
/** The mirror whose constraint the compositor has activated, per display. */
const activeOn = new WeakMap<DisplayState, Mirror>();

function listenRelative(d: DisplayState): void {
  const pointer = d.pointer;
  if (pointer === null || d.relativePointerManager === null) return;
  const known = relative.get(d);
  if (known !== undefined && known.pointer === pointer && !known.proxy.destroyed) return;
  const proxy = d.relativePointerManager.getRelativePointer(pointer);
  relative.set(d, { pointer, proxy });
  proxy.listen({
    relativeMotion: (hi, lo, dx, dy, dxu, dyu) => {
      const m = activeOn.get(d);
      if (m === undefined || d.mirrors.get(m.scene) !== m) return;
      const s = m.scene;
      const us = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      d.feedback(s, 'pointerRelativeMotion', (f) => f.pointerRelativeMotion?.(s, us, dx, dy, dxu, dyu));
    },
  });
}

/** Ask the compositor for the constraint `m`'s scene surface holds (or drop it). */
export function updatePointerConstraint(d: DisplayState, m: Mirror): void {
  if (d.pointerConstraints === null || d.isClosed) return;
  const want = m.scene.pointerConstraint;
  const have = held.get(m);
  if (have !== undefined && have.kind === want && !have.proxy.destroyed) return;
  if (have !== undefined) dropPointerConstraint(d, m);
  const pointer = d.pointer;
  if (want === null) return;
  if (pointer === null) {
    d.logger.debug({ surface: m.scene.id }, `surface ${m.scene.id}: pointer ${want} waits for a pointer`);
    return;
  }
  d.logger.debug({ surface: m.scene.id }, `surface ${m.scene.id}: asking the compositor for a pointer ${want}`);
  listenRelative(d);
  const s = m.scene;
  const h: Held = { kind: want, proxy: null as unknown as Held['proxy'], active: false };
  const set = (on: boolean): void => {
    if (h.active === on) return;
    h.active = on;
    if (on) activeOn.set(d, m);
    else if (activeOn.get(d) === m) activeOn.delete(d);
    d.logger.info({ surface: s.id }, `surface ${s.id}: the compositor ${on ? 'activated' : 'deactivated'} the pointer ${want}`);
    d.feedback(s, 'pointerConstraintActive', (f) => f.pointerConstraintActive?.(s, on));
  };
  const lifetime = ZwpPointerConstraintsV1Lifetime.Persistent;
  if (want === 'lock') {
    (h as { proxy: Held['proxy'] }).proxy = d.pointerConstraints.lockPointer(m.wl, pointer, null, lifetime).listen({ locked: () => set(true), unlocked: () => set(false) });
  } else {
    (h as { proxy: Held['proxy'] }).proxy = d.pointerConstraints.confinePointer(m.wl, pointer, null, lifetime).listen({ confined: () => set(true), unconfined: () => set(false) });
  }
  held.set(m, h);
}

/** `m` goes (or its constraint does): destroy the local constraint object. */
export function dropPointerConstraint(d: DisplayState, m: Mirror): void {
  const h = held.get(m);
  held.delete(m);
  if (activeOn.get(d) === m) activeOn.delete(d);
  if (h !== undefined && !h.proxy.destroyed) h.proxy.destroy();
}
