/**
 * The preferred scale on the local compositor: a scene surface whose
 * producer follows it (`SceneSurface.fractionalScale`) gets a
 * wp_fractional_scale_v1 on the local surface that shows it, where the
 * compositor has wp_fractional_scale_manager_v1; each preferred_scale (for
 * the output the surface is on) goes to the producer
 * (`feedback.preferredScale`).
 */
import type { WpFractionalScaleV1Proxy } from '../generated/wayland/index.js';
import type { Mirror } from './mirror.js';
import type { DisplayState } from './state.js';

const held = new WeakMap<Mirror, WpFractionalScaleV1Proxy>();

export function updateFractionalScale(d: DisplayState, m: Mirror): void {
  if (d.fractionalScaleManager === null || d.isClosed) return;
  const have = held.get(m);
  const want = m.scene.fractionalScale;
  if (want === (have !== undefined)) return;
  if (have !== undefined) {
    dropFractionalScale(m);
    return;
  }
  const s = m.scene;
  const proxy = d.fractionalScaleManager.getFractionalScale(m.wl);
  proxy.listen({
    preferredScale: (scale) => {
      d.logger.debug({ surface: s.id }, `surface ${s.id}: preferred scale ${scale}/120`);
      d.feedback(s, 'preferredScale', (f) => f.preferredScale?.(s, scale));
    },
  });
  held.set(m, proxy);
}

export function dropFractionalScale(m: Mirror): void {
  const have = held.get(m);
  held.delete(m);
  if (have !== undefined && !have.destroyed) have.destroy();
}
