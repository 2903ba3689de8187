/**
 * Server-side decorations from the local compositor (xdg-decoration): a
 * toplevel whose producer asked for a decoration mode
 * (`ToplevelRole.decoration`) gets a zxdg_toplevel_decoration_v1 with that
 * mode, created with the xdg_toplevel (before any buffer, as the protocol
 * requires); the mode the compositor configures is reported to the producer
 * (`feedback.decorationMode`).
 */
import { ZxdgToplevelDecorationV1Mode, type XdgToplevelProxy, type ZxdgToplevelDecorationV1Proxy } from '../generated/wayland/index.js';
import type { DecorationMode } from '../scene/scene.js';
import type { Mirror } from './mirror.js';
import type { DisplayState } from './state.js';

const decorations = new WeakMap<Mirror, { proxy: ZxdgToplevelDecorationV1Proxy; sent: DecorationMode }>();

function wish(m: Mirror): DecorationMode | undefined {
  const role = m.scene.role;
  return role !== null && role.kind === 'toplevel' ? role.decoration : undefined;
}

/** A new local toplevel for `m`: ask for the producer's decoration mode. */
export function createDecoration(d: DisplayState, m: Mirror, toplevel: XdgToplevelProxy): void {
  const mode = wish(m);
  if (d.decorationManager === null || mode === undefined) return;
  const proxy = d.decorationManager.getToplevelDecoration(toplevel);
  const s = m.scene;
  proxy.listen({
    configure: (chosen) => {
      const value: DecorationMode = chosen === ZxdgToplevelDecorationV1Mode.ServerSide ? 'server' : 'client';
      d.logger.debug({ surface: s.id, mode: value }, `surface ${s.id}: the compositor decorates it ${value}-side`);
      d.feedback(s, 'decorationMode', (f) => f.decorationMode?.(s, value));
    },
  });
  proxy.setMode(mode === 'server' ? ZxdgToplevelDecorationV1Mode.ServerSide : ZxdgToplevelDecorationV1Mode.ClientSide);
  decorations.set(m, { proxy, sent: mode });
}

/** The producer changed its wish after the window was created. */
export function updateDecoration(m: Mirror): void {
  const known = decorations.get(m);
  const mode = wish(m);
  if (known === undefined || mode === undefined || known.sent === mode || known.proxy.destroyed) return;
  known.proxy.setMode(mode === 'server' ? ZxdgToplevelDecorationV1Mode.ServerSide : ZxdgToplevelDecorationV1Mode.ClientSide);
  known.sent = mode;
}

/** The local toplevel of `m` goes: its decoration object first (the protocol's order). */
export function destroyDecoration(m: Mirror): void {
  const known = decorations.get(m);
  decorations.delete(m);
  if (known !== undefined && !known.proxy.destroyed) known.proxy.destroy();
}
