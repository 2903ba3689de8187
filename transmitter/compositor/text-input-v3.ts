/**
 * zwp_text_input_manager_v3 v1: text inputs follow keyboard focus (enter
 * when a surface of their client gets it, leave when it goes), and accept
 * every request with the protocol's double-buffered commit. No input
 * method of the receiving display composes text for them yet: typing
 * reaches applications as key events through wl_keyboard (see the README).
 */
import { ZwpTextInputManagerV3Resource, type ZwpTextInputV3Resource } from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import type { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

export function registerTextInputV3(ctx: DisplayContext): void {
  const inputs = new Map<ClientState, Set<ZwpTextInputV3Resource>>();
  /** The surface each text input was entered on. */
  const entered = new Map<ZwpTextInputV3Resource, Surface>();

  const enter = (ti: ZwpTextInputV3Resource, surface: Surface | null): void => {
    const was = entered.get(ti);
    if (was === surface) return;
    if (was !== undefined) {
      entered.delete(ti);
      if (!was.isDestroyed) ti.sendLeave(was.resource);
    }
    // After wl_keyboard.enter, as clients expect: a client without a keyboard gets no enter.
    if (surface !== null && !surface.isDestroyed && surface.client === clientOf.get(ti) && surface.client.keyboards.size > 0) {
      entered.set(ti, surface);
      ti.sendEnter(surface.resource);
    }
  };
  const clientOf = new Map<ZwpTextInputV3Resource, ClientState>();

  ctx.seat.on('keyboard-focus', (_previous, current) => {
    for (const [client, set] of inputs) for (const ti of set) enter(ti, current !== null && current.client === client ? current : null);
  });

  ctx.server.addGlobal(ZwpTextInputManagerV3Resource, 1, (manager, wsClient) => {
    const client = ctx.clientOf(wsClient);
    manager.listen({
      destroy: () => {},
      getTextInput: (ti) => {
        let set = inputs.get(client);
        if (set === undefined) {
          set = new Set();
          inputs.set(client, set);
        }
        const mine = set;
        mine.add(ti);
        clientOf.set(ti, client);
        let commits = 0;
        ti.listen({
          destroy: () => {},
          enable: () => {},
          disable: () => {},
          setSurroundingText: () => {},
          setTextChangeCause: () => {},
          setContentType: () => {},
          setCursorRectangle: () => {},
          commit: () => {
            // done carries the number of commits seen so far (text-input-v3's serial).
            commits++;
            if (entered.has(ti)) ti.sendDone(commits >>> 0);
          },
        });
        ti.onDestroy(() => {
          mine.delete(ti);
          if (mine.size === 0) inputs.delete(client);
          entered.delete(ti);
          clientOf.delete(ti);
        });
        const focus = ctx.seat.keyboardFocus;
        if (focus !== null && focus.client === client) enter(ti, focus);
      },
    });
  });
}
