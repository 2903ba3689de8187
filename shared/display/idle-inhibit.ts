/**
 * Idle inhibition on the local compositor: a scene surface with
 * `idleInhibit` holds a zwp_idle_inhibitor_v1 on the local surface that
 * shows it (the compositor honours it while that surface is visible).
 */
import type { ZwpIdleInhibitorV1Proxy } from '../generated/wayland/index.js';
import type { Mirror } from './mirror.js';
import type { DisplayState } from './state.js';

const held = new WeakMap<Mirror, ZwpIdleInhibitorV1Proxy>();

export function updateIdleInhibit(d: DisplayState, m: Mirror): void {
  if (d.idleInhibitManager === null || d.isClosed) return;
  const have = held.get(m);
  const want = m.scene.idleInhibit;
  if (want === (have !== undefined)) return;
  if (have !== undefined) {
    dropIdleInhibit(m);
    return;
  }
  held.set(m, d.idleInhibitManager.createInhibitor(m.wl));
  d.logger.debug({ surface: m.scene.id }, `surface ${m.scene.id} inhibits idle`);
}

export function dropIdleInhibit(m: Mirror): void {
  const have = held.get(m);
  held.delete(m);
  if (have !== undefined && !have.destroyed) have.destroy();
}
