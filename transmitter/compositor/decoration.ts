/**
 * zxdg_decoration_manager_v1 v1 (xdg-decoration-unstable-v1).
 *
 * The mode a toplevel gets: client-side when the application asks for it;
 * otherwise server-side when a consumer's compositor offers server-side
 * decorations (`Scene.offered('server-side-decorations')`: the receiver
 * asks its compositor for them on the window), else client-side. Once a
 * consumer reports the mode its compositor really chose for the window
 * (`feedback.decorationMode`), that mode is the one sent. Every change is a
 * configure followed by xdg_surface.configure.
 *
 * Errors: already_constructed (a second decoration for a toplevel),
 * unconfigured_buffer (the toplevel's surface already has a buffer).
 * Destroying the toplevel first is tolerated (as wlroots does).
 */
import {
  ZxdgDecorationManagerV1Resource,
  ZxdgToplevelDecorationV1Error,
  ZxdgToplevelDecorationV1Mode,
  type ZxdgToplevelDecorationV1Resource,
} from '../../shared/generated/wayland/index.js';
import type { DecorationMode } from '../../shared/scene/scene.js';
import type { DisplayContext } from './context.js';
import { toplevelOfResource, type XdgToplevel } from './xdg-shell.js';

class Decoration {
  /** What the application asked for (null: the compositor's choice). */
  wish: DecorationMode | null = null;
  /** What a consumer's compositor chose, once reported. */
  chosen: DecorationMode | null = null;
  sent: DecorationMode | null = null;

  constructor(
    private readonly ctx: DisplayContext,
    readonly toplevel: XdgToplevel,
    readonly resource: ZxdgToplevelDecorationV1Resource,
  ) {}

  get mode(): DecorationMode {
    if (this.wish === 'client') return 'client';
    if (this.chosen !== null) return this.chosen;
    return this.ctx.scene.offered('server-side-decorations') === true ? 'server' : 'client';
  }

  /** Send the mode if it changed (and always after a request: the protocol wants a configure). */
  update(force: boolean): void {
    if (this.resource.destroyed || this.toplevel.destroyed) return;
    const role = this.toplevel.role;
    const wanted: DecorationMode = this.wish ?? 'server';
    if (role.decoration !== wanted) {
      role.decoration = wanted;
      this.toplevel.xdg.surface.markRoleChanged();
    }
    const mode = this.mode;
    if (!force && mode === this.sent) return;
    this.sent = mode;
    this.ctx.logger.debug({ client: this.toplevel.xdg.surface.client.name }, `${this.resource.toString()}: ${mode}-side decorations`);
    this.resource.sendConfigure(mode === 'server' ? ZxdgToplevelDecorationV1Mode.ServerSide : ZxdgToplevelDecorationV1Mode.ClientSide);
    if (this.toplevel.xdg.initialSent) this.toplevel.xdg.scheduleConfigure();
  }
}

const decorations = new WeakMap<XdgToplevel, Decoration>();

/** A consumer reported the mode its compositor chose for `toplevel`. */
export function decorationChosen(toplevel: XdgToplevel, mode: DecorationMode): void {
  const d = decorations.get(toplevel);
  if (d === undefined || d.chosen === mode) return;
  d.chosen = mode;
  d.update(false);
}

export function registerDecoration(ctx: DisplayContext): void {
  const live = new Set<Decoration>();
  ctx.scene.on('offers', () => {
    for (const d of live) d.update(false);
  });
  ctx.server.addGlobal(ZxdgDecorationManagerV1Resource, 1, (manager) => {
    manager.listen({
      destroy: () => {},
      getToplevelDecoration: (id, toplevelResource) => {
        const toplevel = toplevelOfResource(toplevelResource);
        if (toplevel === undefined || toplevel.destroyed) return;
        const existing = decorations.get(toplevel);
        if (existing !== undefined && !existing.resource.destroyed) {
          id.postError(ZxdgToplevelDecorationV1Error.AlreadyConstructed, `${toplevelResource.toString()} already has a decoration object`);
          return;
        }
        if (toplevel.xdg.surface.hasContent) {
          id.postError(ZxdgToplevelDecorationV1Error.UnconfiguredBuffer, `${toplevelResource.toString()} already has a buffer`);
          return;
        }
        const d = new Decoration(ctx, toplevel, id);
        decorations.set(toplevel, d);
        live.add(d);
        id.listen({
          destroy: () => {},
          setMode: (mode) => {
            d.wish = mode === ZxdgToplevelDecorationV1Mode.ServerSide ? 'server' : 'client';
            d.update(true);
          },
          unsetMode: () => {
            d.wish = null;
            d.update(true);
          },
        });
        id.onDestroy(() => {
          live.delete(d);
          if (decorations.get(toplevel) === d) decorations.delete(toplevel);
          if (!toplevel.destroyed && toplevel.role.decoration !== undefined) {
            delete toplevel.role.decoration;
            toplevel.xdg.surface.markRoleChanged();
          }
        });
        d.update(true);
      },
    });
  });
}
