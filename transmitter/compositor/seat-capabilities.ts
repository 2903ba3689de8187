/**
 * wl_seat capabilities follow the seats of the consumers' compositors (the
 * receiver's display, the local display): pointer, keyboard and touch each
 * when some consumer's seat has it, and they change when those do. Before
 * any consumer said what it has, the seat offers pointer and keyboard (no
 * touch: applications must not expect touch a display may not have).
 */
import { WlSeatCapability } from '../../shared/generated/wayland/index.js';
import type { Scene } from '../../shared/scene/scene.js';
import type { DisplayContext } from './context.js';

export function seatCapabilities(scene: Scene): number {
  const pointer = scene.offered('seat:pointer');
  if (pointer === null) return WlSeatCapability.Pointer | WlSeatCapability.Keyboard;
  return (
    (pointer ? WlSeatCapability.Pointer : 0) |
    (scene.offered('seat:keyboard') === true ? WlSeatCapability.Keyboard : 0) |
    (scene.offered('seat:touch') === true ? WlSeatCapability.Touch : 0)
  );
}

export function registerSeatCapabilities(ctx: DisplayContext): void {
  let last = seatCapabilities(ctx.scene);
  ctx.scene.on('offers', () => {
    const caps = seatCapabilities(ctx.scene);
    if (caps === last) return;
    last = caps;
    ctx.logger.info({ capabilities: caps }, `seat capabilities now ${caps} (pointer 1, keyboard 2, touch 4)`);
    for (const seat of ctx.seat.seatResources) if (!seat.destroyed) seat.sendCapabilities(caps);
  });
}
