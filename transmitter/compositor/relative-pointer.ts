/**
 * zwp_relative_pointer_manager_v1 v1: relative motion for the client that
 * has the pointer, on every zwp_relative_pointer_v1 of its wl_pointers.
 *
 * The motion is the pointer's movement as consumers report it (the change of
 * its surface-local position), accelerated and unaccelerated alike; while a
 * lock holds the pointer still, consumers that carry the display's own
 * relative motion (`relativeMotion`) give it instead.
 */
import { ZwpRelativePointerManagerV1Resource, type ZwpRelativePointerV1Resource } from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import type { DisplayContext } from './context.js';

const byClient = new WeakMap<ClientState, Set<ZwpRelativePointerV1Resource>>();

/** Send relative motion (surface-local units) to `client`'s relative pointers; time in microseconds. */
export function sendRelativeMotion(client: ClientState, usec: bigint, dx: number, dy: number, dxUnaccel = dx, dyUnaccel = dy): void {
  const set = byClient.get(client);
  if (set === undefined || set.size === 0 || (dx === 0 && dy === 0 && dxUnaccel === 0 && dyUnaccel === 0)) return;
  const hi = Number(usec >> 32n) >>> 0;
  const lo = Number(usec & 0xffffffffn) >>> 0;
  for (const r of set) if (!r.destroyed) r.sendRelativeMotion(hi, lo, dx, dy, dxUnaccel, dyUnaccel);
}

export function registerRelativePointer(ctx: DisplayContext): void {
  ctx.server.addGlobal(ZwpRelativePointerManagerV1Resource, 1, (manager, wsClient) => {
    const client = ctx.clientOf(wsClient);
    manager.listen({
      destroy: () => {},
      getRelativePointer: (id) => {
        let set = byClient.get(client);
        if (set === undefined) {
          set = new Set();
          byClient.set(client, set);
        }
        const mine = set;
        mine.add(id);
        id.listen({ destroy: () => {} });
        id.onDestroy(() => mine.delete(id));
      },
    });
  });
  ctx.seat.on('pointer-motion', (focus, timeMs, dx, dy) => sendRelativeMotion(focus.client, BigInt(Math.max(0, Math.trunc(timeMs))) * 1000n, dx, dy));
}
