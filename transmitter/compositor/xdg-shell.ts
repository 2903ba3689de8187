/**
 * xdg_wm_base v3 (xdg-shell.xml): toplevels, popups, positioners, ping.
 *
 * Configure flow (wayland-client-survey.md, section 5): the initial commit of
 * an xdg_surface, without a buffer, is answered by the role's configure
 * (toplevel: size 0x0 and no state unless the client asked for maximized or
 * fullscreen; popup: the positioner's placement) and xdg_surface.configure
 * with a new serial. A buffer may be committed only after an ack_configure.
 * Later configures come from consumers (`feedback.configure`,
 * `popupConfigure`), from keyboard focus (the activated state), and from the
 * client's own maximize/fullscreen requests while no consumer has configured
 * the toplevel. Attaching a null buffer unmaps; the client then starts over
 * with an initial commit.
 *
 * Protocol errors are those libweston-desktop posts: role, defunct_surfaces,
 * not_constructed, already_constructed, unconfigured_buffer, invalid_serial,
 * invalid_size, invalid_positioner, invalid_popup_parent, invalid_grab,
 * not_the_topmost_popup, invalid_input, invalid_parent, invalid_resize_edge.
 */
import { toplevelRole, type PopupRole, type Rect, type ToplevelRole, type ToplevelState } from '../../shared/scene/scene.js';
import { encodeXdgStates, isToplevelState } from '../../shared/scene/xdg-states.js';
import { samePositioner, type PopupPositioner, type WindowRequest } from '../../shared/scene/window-requests.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  WlSurfaceResource,
  XdgPopupError,
  XdgPopupResource,
  XdgPositionerError,
  XdgPositionerResource,
  XdgSurfaceError,
  XdgSurfaceResource,
  XdgToplevelError,
  XdgToplevelResource,
  XdgWmBaseError,
  XdgWmBaseResource,
} from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import { Surface, type SurfaceRoleHandler, type SurfaceState } from './compositor.js';
import type { DisplayContext } from './context.js';
import { surfaceUnmapped } from './output.js';
import { MAX_EDGE_VALUE, constrainPopup, emptyPositioner, placePopup, positionerComplete, type PositionerState } from './positioner.js';
import { soon } from '../../shared/microtask.js';

export const XDG_WM_BASE_VERSION = 3;
/** How long a client may take to answer a ping before it is reported as unresponsive. */
const PING_TIMEOUT_MS = 5000;

class WmBase {
  readonly surfaces = new Set<XdgSurface>();
  private pingSerial: number | null = null;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: DisplayContext,
    readonly resource: XdgWmBaseResource,
    readonly client: ClientState,
  ) {
    resource.onDestroy(() => {
      if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    });
  }

  ping(): void {
    if (this.pingSerial !== null || this.resource.destroyed) return;
    const serial = this.ctx.serial();
    this.pingSerial = serial;
    this.resource.sendPing(serial);
    this.pingTimer = setTimeout(() => {
      this.pingTimer = null;
      if (this.pingSerial === serial) this.ctx.logger.warn({ client: this.client.name }, `${this.client.name} did not answer ping ${serial} within ${PING_TIMEOUT_MS} ms`);
    }, PING_TIMEOUT_MS);
    this.pingTimer.unref();
  }

  pong(serial: number): void {
    if (serial !== this.pingSerial) return;
    this.pingSerial = null;
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    this.pingTimer = null;
  }
}

const wmBasesOf = new WeakMap<ClientState, Set<WmBase>>();
const positioners = new WeakMap<XdgPositionerResource, PositionerState>();
const xdgSurfaces = new WeakMap<XdgSurfaceResource, XdgSurface>();
const xdgOfSurface = new WeakMap<Surface, XdgSurface>();
const toplevels = new WeakMap<XdgToplevelResource, XdgToplevel>();
/** Popups holding an explicit grab, per client, bottom to top. */
const grabChains = new WeakMap<ClientState, XdgPopup[]>();

function grabChain(client: ClientState): XdgPopup[] {
  let chain = grabChains.get(client);
  if (chain === undefined) {
    chain = [];
    grabChains.set(client, chain);
  }
  return chain;
}

/** The XdgToplevel behind an xdg_toplevel resource. */
export function toplevelOfResource(resource: XdgToplevelResource): XdgToplevel | undefined {
  return toplevels.get(resource);
}

/** The xdg role of a surface, if it has one. */
export function xdgRoleOf(surface: Surface): XdgToplevel | XdgPopup | null {
  return xdgOfSurface.get(surface)?.role ?? null;
}

/** The toplevel a surface belongs to (itself, or the root of its subsurface/popup tree). */
function toplevelOf(surface: Surface | null): XdgToplevel | null {
  if (surface === null) return null;
  const root = Surface.fromScene(surface.scene.root);
  const role = root === undefined ? null : xdgRoleOf(root);
  return role instanceof XdgToplevel ? role : null;
}

export class XdgSurface implements SurfaceRoleHandler {
  role: XdgToplevel | XdgPopup | null = null;
  private hadRole = false;
  /** A configure has been acknowledged since the last (re)start. */
  configured = false;
  /** The configure that answers the initial commit went out. */
  initialSent = false;
  private sentSerials: number[] = [];
  private pendingGeometry: Rect | undefined = undefined;
  geometry: Rect | null = null;
  private configureScheduled = false;
  readonly childPopups = new Set<XdgPopup>();

  constructor(
    readonly ctx: DisplayContext,
    readonly wm: WmBase,
    readonly resource: XdgSurfaceResource,
    readonly surface: Surface,
  ) {
    surface.handler = this;
    xdgSurfaces.set(resource, this);
    xdgOfSurface.set(surface, this);
    wm.surfaces.add(this);
    resource.listen({
      destroy: () => {
        if (this.role !== null) {
          resource.postError(XdgSurfaceError.DefunctRoleObject, 'xdg_surface destroyed before its role object');
        }
      },
      getToplevel: (id) => {
        if (!this.takeRole()) return;
        this.role = new XdgToplevel(ctx, this, id);
      },
      getPopup: (id, parentResource, positionerResource) => {
        const positioner = positioners.get(positionerResource);
        if (positioner === undefined || !positionerComplete(positioner)) {
          wm.resource.postError(XdgWmBaseError.InvalidPositioner, 'positioner object is not complete');
          return;
        }
        const parent = parentResource === null ? undefined : xdgSurfaces.get(parentResource);
        if (parent === undefined || parent.role === null || parent.surface.isDestroyed) {
          wm.resource.postError(XdgWmBaseError.InvalidPopupParent, 'popup parent must be an xdg_surface with a role');
          return;
        }
        if (!this.takeRole()) return;
        this.role = new XdgPopup(ctx, this, id, parent, { ...positioner });
      },
      setWindowGeometry: (x, y, width, height) => {
        if (width <= 0 || height <= 0) {
          resource.postError(XdgSurfaceError.InvalidSize, `invalid window geometry size (${width}x${height})`);
          return;
        }
        this.pendingGeometry = { x, y, width, height };
      },
      ackConfigure: (serial) => this.ack(serial),
    });
    resource.onDestroy(() => {
      wm.surfaces.delete(this);
      if (this.surface.handler === this) this.surface.handler = null;
      xdgOfSurface.delete(this.surface);
      for (const popup of [...this.childPopups]) popup.dismiss();
    });
  }

  private takeRole(): boolean {
    if (this.hadRole) {
      this.resource.postError(XdgSurfaceError.AlreadyConstructed, 'xdg_surface already has a role object');
      return false;
    }
    this.hadRole = true;
    return true;
  }

  precommit(state: SurfaceState): boolean {
    if (this.resource.destroyed) return true;
    if (this.role === null) {
      this.resource.postError(XdgSurfaceError.NotConstructed, 'xdg_surface has never been constructed');
      return false;
    }
    if (state.attach !== undefined && state.attach !== null && !this.configured) {
      this.resource.postError(XdgSurfaceError.UnconfiguredBuffer, 'buffer committed before the first configure was acknowledged');
      return false;
    }
    return this.role.precommit();
  }

  apply(): boolean {
    let changed = false;
    if (this.pendingGeometry !== undefined) {
      const g = this.pendingGeometry;
      this.pendingGeometry = undefined;
      const old = this.geometry;
      if (old === null || old.x !== g.x || old.y !== g.y || old.width !== g.width || old.height !== g.height) {
        this.geometry = g;
        changed = true;
      }
    }
    if (this.role !== null && this.role.apply(this.geometry)) changed = true;
    return changed;
  }

  committed(wasMapped: boolean): void {
    if (this.role === null) return;
    const mapped = this.surface.scene.mapped;
    if (!mapped && wasMapped) {
      // Unmapped by a null buffer: the client starts over with an initial commit.
      this.configured = false;
      this.initialSent = false;
      this.sentSerials = [];
      for (const popup of [...this.childPopups]) popup.dismiss();
      this.role.unmapped();
      return;
    }
    if (!mapped && !this.initialSent) {
      this.initialSent = true;
      this.scheduleConfigure();
      return;
    }
    if (mapped && !wasMapped) this.role.mapped();
  }

  surfaceDestroyed(): void {
    for (const popup of [...this.childPopups]) popup.dismiss();
  }

  /** Send the role's configure and xdg_surface.configure soon (changes in one tick give one configure). */
  scheduleConfigure(): void {
    if (this.configureScheduled) return;
    this.configureScheduled = true;
    soon(() => {
      this.configureScheduled = false;
      if (this.resource.destroyed || this.role === null || this.role.destroyed) return;
      this.role.sendRoleConfigure();
      const serial = this.ctx.serial();
      this.sentSerials.push(serial);
      if (this.sentSerials.length > 64) this.sentSerials.shift();
      this.resource.sendConfigure(serial);
    });
  }

  private ack(serial: number): void {
    const i = this.sentSerials.indexOf(serial);
    if (i < 0) {
      this.resource.postError(XdgSurfaceError.InvalidSerial, `wrong configure serial: ${serial}`);
      return;
    }
    this.sentSerials = this.sentSerials.slice(i + 1);
    this.configured = true;
  }
}

export class XdgToplevel {
  readonly role: ToplevelRole;
  destroyed = false;
  private pendingMin: { width: number; height: number } | undefined;
  private pendingMax: { width: number; height: number } | undefined;
  private consumer: { width: number; height: number; states: ReadonlySet<ToplevelState> } | null = null;
  activated = false;

  constructor(
    private readonly ctx: DisplayContext,
    readonly xdg: XdgSurface,
    readonly resource: XdgToplevelResource,
  ) {
    const surface = xdg.surface;
    this.role = toplevelRole();
    surface.scene.role = this.role;
    toplevels.set(resource, this);
    resource.listen({
      destroy: () => {},
      setParent: (parentResource) => this.setParent(parentResource),
      setTitle: (title) => {
        if (this.role.title === title) return;
        this.role.title = title;
        surface.markRoleChanged();
      },
      setAppId: (appId) => {
        if (this.role.appId === appId) return;
        this.role.appId = appId;
        surface.markRoleChanged();
      },
      showWindowMenu: () => {},
      move: (_seat, serial) => this.interactive({ kind: 'move', serial: serial >>> 0 }),
      resize: (_seat, serial, edges) => {
        if (edges < 0 || edges > 10 || edges === 3 || edges === 7) {
          resource.postError(XdgToplevelError.InvalidResizeEdge, `invalid resize edge ${edges}`);
          return;
        }
        this.interactive({ kind: 'resize', serial: serial >>> 0, edges });
      },
      setMaxSize: (width, height) => {
        if (width < 0 || height < 0) {
          resource.postError(XdgToplevelError.InvalidSize, `invalid max size (${width}x${height})`);
          return;
        }
        this.pendingMax = { width, height };
      },
      setMinSize: (width, height) => {
        if (width < 0 || height < 0) {
          resource.postError(XdgToplevelError.InvalidSize, `invalid min size (${width}x${height})`);
          return;
        }
        this.pendingMin = { width, height };
      },
      setMaximized: () => this.request('maximized', true),
      unsetMaximized: () => this.request('maximized', false),
      setFullscreen: () => this.request('fullscreen', true),
      unsetFullscreen: () => this.request('fullscreen', false),
      setMinimized: () => {
        if (surface.scene.mapped) surface.scene.request({ kind: 'minimize' });
      },
    });
    resource.onDestroy(() => this.gone());
    ctx.logger.debug({ client: xdg.surface.client.name }, `${resource.toString()} created for ${xdg.surface.resource.toString()}`);
  }

  private setParent(parentResource: XdgToplevelResource | null): void {
    const parent = parentResource === null ? null : (toplevels.get(parentResource) ?? null);
    for (let p: XdgToplevel | null = parent; p !== null; p = p.parentToplevel) {
      if (p === this) {
        this.resource.postError(XdgToplevelError.InvalidParent, 'parent would create a loop');
        return;
      }
    }
    const scene = parent === null || parent.destroyed ? null : parent.xdg.surface.scene;
    if (this.role.parent === scene) return;
    this.role.parent = scene;
    this.xdg.surface.markRoleChanged();
  }

  /**
   * xdg_toplevel.move/resize: the consumer that shows the window runs them on its compositor.
   * As weston does, only on the client's latest press (an older serial is ignored).
   */
  private interactive(request: Extract<WindowRequest, { kind: 'move' | 'resize' }>): void {
    const surface = this.xdg.surface;
    if (!surface.scene.mapped) return;
    if (request.serial !== surface.client.lastButtonSerial) {
      this.ctx.logger.debug({ client: surface.client.name }, `${this.resource.toString()}.${request.kind}: serial ${request.serial} is not the latest press, ignored`);
      return;
    }
    surface.scene.request(request);
  }

  private get parentToplevel(): XdgToplevel | null {
    const p = this.role.parent;
    if (p === null) return null;
    const s = Surface.fromScene(p);
    const r = s === undefined ? null : xdgRoleOf(s);
    return r instanceof XdgToplevel ? r : null;
  }

  private request(what: 'maximized' | 'fullscreen', on: boolean): void {
    if (this.role[what] === on) return;
    this.role[what] = on;
    this.xdg.surface.markRoleChanged();
    // Until a consumer takes over, the display answers these requests itself.
    if (this.consumer === null && this.xdg.initialSent) this.xdg.scheduleConfigure();
  }

  precommit(): boolean {
    const min = this.pendingMin ?? this.role.minSize;
    const max = this.pendingMax ?? this.role.maxSize;
    if ((max.width > 0 && min.width > max.width) || (max.height > 0 && min.height > max.height)) {
      this.resource.postError(XdgToplevelError.InvalidSize, `min size ${min.width}x${min.height} is larger than max size ${max.width}x${max.height}`);
      return false;
    }
    return true;
  }

  apply(geometry: Rect | null): boolean {
    let changed = false;
    if (this.role.geometry !== geometry) {
      this.role.geometry = geometry;
      changed = true;
    }
    for (const [key, pending] of [['minSize', this.pendingMin], ['maxSize', this.pendingMax]] as const) {
      if (pending === undefined) continue;
      const cur = this.role[key];
      if (cur.width !== pending.width || cur.height !== pending.height) {
        this.role[key] = pending;
        changed = true;
      }
    }
    this.pendingMin = undefined;
    this.pendingMax = undefined;
    return changed;
  }

  /** What the next configure carries. */
  configureArgs(): { width: number; height: number; states: ToplevelState[] } {
    let width = 0;
    let height = 0;
    const states = new Set<ToplevelState>();
    if (this.consumer !== null) {
      width = this.consumer.width;
      height = this.consumer.height;
      for (const s of this.consumer.states) if (isToplevelState(s)) states.add(s);
    } else if (this.role.fullscreen || this.role.maximized) {
      ({ width, height } = this.ctx.output.logicalSize);
      states.add(this.role.fullscreen ? 'fullscreen' : 'maximized');
    }
    if (this.activated) states.add('activated');
    return { width, height, states: [...states] };
  }

  sendRoleConfigure(): void {
    const { width, height, states } = this.configureArgs();
    this.resource.sendConfigure(width, height, encodeXdgStates(states));
  }

  /** A consumer's configure (size 0 = the client chooses). */
  consumerConfigure(width: number, height: number, states: readonly ToplevelState[]): void {
    this.consumer = { width: Math.max(0, width | 0), height: Math.max(0, height | 0), states: new Set(states) };
    if (this.xdg.initialSent) this.xdg.scheduleConfigure();
  }

  /** The remote output changed: toplevels the display sizes itself follow it. */
  outputChanged(): void {
    if (this.consumer === null && (this.role.fullscreen || this.role.maximized) && this.xdg.initialSent) this.xdg.scheduleConfigure();
  }

  setActivated(on: boolean): void {
    if (this.activated === on) return;
    this.activated = on;
    if (this.xdg.initialSent) this.xdg.scheduleConfigure();
  }

  close(): void {
    if (!this.destroyed) this.resource.sendClose();
  }

  mapped(): void {
    this.ctx.seat.rootMapped(this.xdg.surface);
  }

  unmapped(): void {
    this.consumer = null;
  }

  private gone(): void {
    this.destroyed = true;
    const surface = this.xdg.surface;
    if (this.xdg.role === this) this.xdg.role = null;
    if (surface.scene.role === this.role) unmapRole(this.ctx, surface);
  }
}

export class XdgPopup {
  role: PopupRole;
  destroyed = false;
  private dismissed = false;
  private placement: Rect;
  grabbed = false;

  constructor(
    private readonly ctx: DisplayContext,
    readonly xdg: XdgSurface,
    readonly resource: XdgPopupResource,
    readonly parent: XdgSurface,
    private positioner: PositionerState,
  ) {
    this.placement = this.place();
    this.role = { kind: 'popup', parent: parent.surface.scene, rect: this.sceneRect(), grab: false, geometry: null, positioner: this.scenePositioner() };
    xdg.surface.scene.role = this.role;
    parent.childPopups.add(this);
    resource.listen({
      destroy: () => {
        const chain = grabChain(this.xdg.surface.client);
        const i = chain.indexOf(this);
        if (i >= 0 && i !== chain.length - 1) {
          this.xdg.wm.resource.postError(XdgWmBaseError.NotTheTopmostPopup, 'xdg_popup was destroyed while it was not the topmost popup');
        }
      },
      grab: () => this.grab(),
      reposition: (positionerResource, token) => {
        const p = positioners.get(positionerResource);
        if (p === undefined || !positionerComplete(p)) {
          this.xdg.wm.resource.postError(XdgWmBaseError.InvalidPositioner, 'positioner object is not complete');
          return;
        }
        this.positioner = { ...p };
        this.placement = this.place();
        resource.sendRepositioned(token >>> 0);
        if (this.xdg.initialSent) this.xdg.scheduleConfigure();
      },
    });
    resource.onDestroy(() => this.gone());
  }

  /** Where the popup goes relative to the parent's window geometry: kept inside the output when the display knows where that is. */
  private place(): Rect {
    const bounds = outputBounds(this.ctx, this.parent);
    return bounds === null ? placePopup(this.positioner) : constrainPopup(this.positioner, bounds);
  }

  /** The popup's window geometry relative to its parent's. */
  get placed(): Rect {
    return this.placement;
  }

  /**
   * The positioner with its anchor rectangle moved into the parent's surface coordinates (as the
   * rect), for a consumer to adjust the popup inside its output; null when the display adjusted
   * it already (the consumer then places it exactly at the rect).
   */
  private scenePositioner(): PopupPositioner | null {
    if (outputBounds(this.ctx, this.parent) !== null) return null;
    const p = this.positioner;
    const g = this.parent.geometry;
    const a = p.anchorRect ?? { x: 0, y: 0, width: 0, height: 0 };
    return {
      width: p.width,
      height: p.height,
      anchorRect: { x: a.x + (g?.x ?? 0), y: a.y + (g?.y ?? 0), width: a.width, height: a.height },
      anchor: p.anchor,
      gravity: p.gravity,
      constraintAdjustment: p.constraintAdjustment,
      offsetX: p.offsetX,
      offsetY: p.offsetY,
    };
  }

  /** The placement moved into the parent's surface coordinates (see PopupRole.rect). */
  private sceneRect(): Rect {
    const g = this.parent.geometry;
    return { x: this.placement.x + (g?.x ?? 0), y: this.placement.y + (g?.y ?? 0), width: this.placement.width, height: this.placement.height };
  }

  private grab(): void {
    if (this.xdg.initialSent) {
      this.resource.postError(XdgPopupError.InvalidGrab, 'xdg_popup.grab after the popup was mapped');
      return;
    }
    const client = this.xdg.surface.client;
    const chain = grabChain(client);
    const top = chain.at(-1);
    const parentRole = this.parent.role;
    if (top !== undefined && parentRole instanceof XdgPopup && parentRole !== top) {
      this.xdg.wm.resource.postError(XdgWmBaseError.NotTheTopmostPopup, 'xdg_popup was not created on the topmost popup');
      return;
    }
    if (top !== undefined && !(parentRole instanceof XdgPopup)) {
      // A new grab from a toplevel replaces the open menus.
      for (const p of [...chain].reverse()) p.dismiss();
    }
    this.grabbed = true;
    this.role = { ...this.role, grab: true };
    this.xdg.surface.scene.role = this.role;
    grabChain(client).push(this);
  }

  precommit(): boolean {
    return true;
  }

  apply(geometry: Rect | null): boolean {
    const rect = this.sceneRect();
    const r = this.role.rect;
    let changed = false;
    if (r.x !== rect.x || r.y !== rect.y || r.width !== rect.width || r.height !== rect.height) {
      this.role.rect = rect;
      changed = true;
    }
    if (this.role.geometry !== geometry) {
      this.role.geometry = geometry;
      changed = true;
    }
    const positioner = this.scenePositioner();
    if (!samePositioner(this.role.positioner, positioner)) {
      this.role.positioner = positioner;
      changed = true;
    }
    return changed;
  }

  sendRoleConfigure(): void {
    const p = this.placement;
    this.resource.sendConfigure(p.x, p.y, p.width, p.height);
  }

  /** A consumer placed the popup (rect in the parent's surface coordinates, see PopupRole.rect). */
  consumerConfigure(rect: Rect): void {
    const g = this.parent.geometry;
    this.placement = { x: rect.x - (g?.x ?? 0), y: rect.y - (g?.y ?? 0), width: Math.max(1, rect.width | 0), height: Math.max(1, rect.height | 0) };
    if (this.xdg.initialSent) this.xdg.scheduleConfigure();
  }

  mapped(): void {
    const seat = this.ctx.seat;
    if (this.grabbed && seat.keyboardFocus !== null && seat.keyboardFocus.client === this.xdg.surface.client) {
      seat.setKeyboardFocus(this.xdg.surface);
    }
  }

  unmapped(): void {}

  /** Send popup_done (to child popups first); the client then destroys the popup. */
  dismiss(): void {
    if (this.dismissed || this.destroyed) return;
    this.dismissed = true;
    for (const child of [...this.xdg.childPopups]) child.dismiss();
    this.resource.sendPopupDone();
    this.leaveGrab();
  }

  private leaveGrab(): void {
    const chain = grabChain(this.xdg.surface.client);
    const i = chain.indexOf(this);
    if (i >= 0) chain.splice(i, 1);
  }

  private gone(): void {
    this.destroyed = true;
    this.leaveGrab();
    this.parent.childPopups.delete(this);
    for (const child of [...this.xdg.childPopups]) child.dismiss();
    const surface = this.xdg.surface;
    if (this.xdg.role === this) this.xdg.role = null;
    if (surface.scene.role === this.role) unmapRole(this.ctx, surface);
  }
}

/**
 * The output in the coordinates of the window geometry of `xdg`, when the display knows where
 * that is: in a popup tree whose toplevel is fullscreen (at the output's origin).
 */
function outputBounds(ctx: DisplayContext, xdg: XdgSurface): Rect | null {
  let x = 0;
  let y = 0;
  let cur: XdgSurface = xdg;
  for (let depth = 0; depth < 32; depth++) {
    const role = cur.role;
    if (role instanceof XdgToplevel) {
      if (!role.configureArgs().states.includes('fullscreen')) return null;
      const { width, height } = ctx.output.logicalSize;
      return { x: -x, y: -y, width, height };
    }
    if (!(role instanceof XdgPopup)) return null;
    x += role.placed.x;
    y += role.placed.y;
    cur = role.parent;
  }
  return null;
}

/** A role object went away: the surface is unmapped and has no role in the scene any more. */
function unmapRole(ctx: DisplayContext, surface: Surface): void {
  if (surface.isDestroyed) return;
  const wasMapped = surface.scene.mapped;
  if (wasMapped) {
    surfaceUnmapped(ctx, surface);
    ctx.seat.surfaceUnmapped(surface);
  }
  surface.scene.role = null;
  surface.scene.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
}

function createPositioner(resource: XdgPositionerResource): void {
  const p = emptyPositioner();
  positioners.set(resource, p);
  const invalid = (what: string): void => resource.postError(XdgPositionerError.InvalidInput, what);
  resource.listen({
    destroy: () => {},
    setSize: (width, height) => {
      if (width <= 0 || height <= 0) return invalid(`invalid size ${width}x${height}`);
      p.width = width;
      p.height = height;
    },
    setAnchorRect: (x, y, width, height) => {
      if (width < 0 || height < 0) return invalid(`invalid anchor rect size ${width}x${height}`);
      p.anchorRect = { x, y, width, height };
    },
    setAnchor: (anchor) => {
      if (anchor < 0 || anchor > MAX_EDGE_VALUE) return invalid(`invalid anchor ${anchor}`);
      p.anchor = anchor;
    },
    setGravity: (gravity) => {
      if (gravity < 0 || gravity > MAX_EDGE_VALUE) return invalid(`invalid gravity ${gravity}`);
      p.gravity = gravity;
    },
    setConstraintAdjustment: (adjustment) => {
      p.constraintAdjustment = adjustment >>> 0;
    },
    setOffset: (x, y) => {
      p.offsetX = x;
      p.offsetY = y;
    },
    setReactive: () => {
      p.reactive = true;
    },
    setParentSize: (width, height) => {
      p.parentWidth = width;
      p.parentHeight = height;
    },
    setParentConfigure: (serial) => {
      p.parentConfigure = serial >>> 0;
    },
  });
}

export function registerXdgShell(ctx: DisplayContext): void {
  ctx.server.addGlobal(XdgWmBaseResource, XDG_WM_BASE_VERSION, (resource, wsClient: WaylandServerClient) => {
    const client = ctx.clientOf(wsClient);
    const wm = new WmBase(ctx, resource, client);
    let set = wmBasesOf.get(client);
    if (set === undefined) {
      set = new Set();
      wmBasesOf.set(client, set);
    }
    set.add(wm);
    resource.onDestroy(() => wmBasesOf.get(client)?.delete(wm));
    resource.listen({
      destroy: () => {
        if (wm.surfaces.size > 0) {
          resource.postError(XdgWmBaseError.DefunctSurfaces, 'xdg_wm_base was destroyed before its xdg_surface objects');
        }
      },
      createPositioner: (id) => createPositioner(id),
      getXdgSurface: (id, surfaceResource: WlSurfaceResource) => {
        const surface = Surface.fromResource(surfaceResource);
        if (surface === undefined) return;
        if (xdgOfSurface.has(surface)) {
          resource.postError(XdgWmBaseError.Role, `${surfaceResource.toString()} already has an xdg_surface`);
          return;
        }
        if (!surface.setRoleType('xdg_surface')) {
          resource.postError(XdgWmBaseError.Role, `${surfaceResource.toString()} already has the ${surface.roleType} role`);
          return;
        }
        if (surface.hasContent) {
          id.postError(XdgSurfaceError.UnconfiguredBuffer, 'xdg_surface must not have a buffer at creation');
          return;
        }
        new XdgSurface(ctx, wm, id, surface);
      },
      pong: (serial) => wm.pong(serial),
    });
  });

  // The activated state follows keyboard focus.
  ctx.seat.on('keyboard-focus', (previous, current) => {
    const was = toplevelOf(previous);
    const now = toplevelOf(current);
    if (was !== now) was?.setActivated(false);
    now?.setActivated(true);
  });
  // Ping on pointer enter, as weston does; it only serves to detect hung clients.
  ctx.seat.on('pointer-enter', (surface) => {
    for (const wm of wmBasesOf.get(surface.client) ?? []) wm.ping();
  });
  // A click outside the grabbing client's surfaces dismisses its popups.
  ctx.seat.on('button-press', (focus) => {
    for (const client of ctx.clients()) {
      const chain = grabChains.get(client);
      if (chain === undefined || chain.length === 0) continue;
      if (focus !== null && focus.client === client) continue;
      for (const popup of [...chain].reverse()) popup.dismiss();
    }
  });
}

/** Every toplevel of the display follows an output change. */
export function outputChanged(ctx: DisplayContext): void {
  for (const client of ctx.clients()) {
    for (const surface of client.surfaces) {
      const role = xdgRoleOf(surface);
      if (role instanceof XdgToplevel) role.outputChanged();
    }
  }
}
