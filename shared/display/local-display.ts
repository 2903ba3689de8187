/**
 * LocalDisplay: shows the surfaces of one or more `Scene`s on a real
 * compositor, as a Wayland client of it, and sends what happens there
 * (configures, frame presentation, input) back to each surface's owner
 * through its `SceneFeedback`.
 *
 * The receiver uses it to show remote surfaces as local windows; the
 * transmitter's `--display` uses it to show local applications on the
 * sending ECU's own compositor.
 *
 * Mapping of scene roles to local objects:
 * - toplevel: an xdg_toplevel (title, app_id, min/max size, parent,
 *   fullscreen/maximized requests, window geometry). With shell 'ivi', an
 *   ivi_application surface with `iviIdFor(appId)` (no configure
 *   handshake); when that gives no id, an xdg_toplevel (weston's ivi-shell
 *   accepts those as desktop surfaces). With shell 'fullscreen', an
 *   xdg_toplevel made fullscreen on the output named by `output`.
 * - ivi: an ivi_application surface with the surface's own ivi id (shell
 *   'ivi'), else an xdg_toplevel.
 * - popup: an xdg_popup placed with a positioner whose anchor rectangle is
 *   the popup rectangle relative to the parent's window geometry origin,
 *   anchor top_left and gravity bottom_right, so the compositor puts it
 *   exactly there unless it has to constrain it.
 * - subsurface: a wl_subsurface with position, sync mode and the parent's
 *   `stack` order.
 * - cursor: the local pointer image (wl_pointer.set_cursor) while the pointer
 *   is over one of the owner's surfaces.
 *
 * Content: every local surface has its own wl_shm pool (see buffers.ts);
 * only damaged rectangles are copied. One frame is in flight per surface:
 * each content commit asks for a frame callback; commits that arrive before
 * it is done are coalesced (newest content, union of damage), and
 * `feedback.presented` is called when the compositor reports the newest
 * content as shown.
 *
 * Errors thrown by a producer's feedback are logged and contained: one owner
 * cannot break the display of the others, and no exception reaches the
 * Wayland connection (whose handlers must not throw).
 */
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import {
  Scene,
  SceneSurface,
  type CommitInfo,
  type Content,
  type PopupRole,
  type Rect,
  type SceneFeedback,
  type SceneOwner,
  type ToplevelRole,
  type ToplevelState,
} from '../scene/scene.js';
import type { OutputInfo } from '../scene/output.js';
import { decodeXdgStates } from '../scene/xdg-states.js';
import { closeFd, ShmMapping } from '../native.js';
import {
  IviApplicationProxy,
  IviSurfaceProxy,
  WlCallbackProxy,
  WlCompositorProxy,
  WlKeyboardKeyState,
  WlKeyboardKeymapFormat,
  WlKeyboardProxy,
  WlOutputMode,
  WlOutputProxy,
  WlPointerButtonState,
  WlPointerProxy,
  WlRegionProxy,
  WlSeatCapability,
  WlSeatProxy,
  WlShmProxy,
  WlSubcompositorProxy,
  WlSubsurfaceProxy,
  WlSurfaceProxy,
  WlTouchProxy,
  XdgPopupProxy,
  XdgPositionerAnchor,
  XdgPositionerGravity,
  XdgPositionerProxy,
  XdgSurfaceProxy,
  XdgToplevelProxy,
  XdgWmBaseProxy,
  ZxdgOutputManagerV1Proxy,
  ZxdgOutputV1Proxy,
} from '../generated/wayland/index.js';
import { Emitter } from '../wayland/emitter.js';
import { WaylandClient, type Global, type Registry } from '../wayland/client.js';
import { ShmBufferSet } from './buffers.js';
import { Damage } from './damage.js';
import { FramePacer, type FramePacerHooks } from '../scene/frame-pacer.js';
import { InputRelay } from '../scene/input-relay.js';
import { guardFeedback } from '../remote/guard.js';

export type LocalShell = 'xdg' | 'ivi' | 'fullscreen';

export interface LocalDisplayOptions {
  /** Socket name or absolute path; default `$WAYLAND_DISPLAY` (libwayland's rules). */
  readonly display?: string;
  readonly shell: LocalShell;
  /** Shell 'ivi': the ivi id for a toplevel; null = show it as an xdg_toplevel instead. */
  readonly iviIdFor?: (appId: string, surface: SceneSurface) => number | null;
  /** Shell 'fullscreen': the name of the output (wl_output / xdg_output name); default: let the compositor choose. */
  readonly output?: string;
  /** Which root surfaces (toplevel or ivi role) to show; default all. Re-evaluated when their role changes. */
  readonly filter?: (surface: SceneSurface) => boolean;
  readonly logger?: Logger;
  /** Environment for finding the compositor (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Counters since `start()`, for `--stats` and tests. */
export interface LocalDisplayStats {
  /** Scene surfaces shown now (local wl_surfaces). */
  readonly surfaces: number;
  /** Commits that attached new content. */
  readonly contentCommits: number;
  /** Producer commits with new content folded into a later local commit (a frame was in flight). */
  readonly coalesced: number;
  /** `feedback.presented` calls. */
  readonly presented: number;
  /** Bytes copied into shm buffers. */
  readonly bytesCopied: number;
}

export interface LocalDisplayEvents extends Record<string, unknown[]> {
  /** A protocol error from or with the compositor; 'close' follows. */
  error: [error: Error];
  /** The connection to the compositor is gone (compositor exit or `close()`). */
  close: [reason: Error | undefined];
}

type MirrorKind = 'toplevel' | 'ivi' | 'popup' | 'subsurface' | 'cursor';

/** Times the newest frame's presentation may be deferred for a newer commit before `presented` is sent anyway. */
const MAX_DEFERRED_PRESENTS = 3;
/** Frames in flight per local surface. */
const MAX_FRAMES_IN_FLIGHT = 1;

/** The binding of one attached scene. */
interface Binding {
  readonly scene: Scene;
  readonly onSurface: (s: SceneSurface) => void;
  readonly onCursor: (owner: SceneOwner, cursor: SceneSurface | null) => void;
}

/** Listeners installed on a tracked scene surface. */
interface Tracked {
  readonly binding: Binding;
  readonly onCommit: (info: CommitInfo) => void;
  readonly onDestroy: () => void;
}

/** The local objects that show one scene surface. */
class Mirror {
  xdgSurface: XdgSurfaceProxy | null = null;
  toplevel: XdgToplevelProxy | null = null;
  popup: XdgPopupProxy | null = null;
  ivi: IviSurfaceProxy | null = null;
  iviId: number | null = null;
  subsurface: WlSubsurfaceProxy | null = null;
  /** xdg: the first configure has been acked (buffers may be attached); ivi, subsurface, cursor: always. */
  configured = false;
  /** xdg_popup dismissed by the compositor (popup_done): shown no more until the role changes. */
  dismissed = false;
  buffers: ShmBufferSet | null = null;
  /** New content to commit (`pending`), its damage (buffer pixels of the current content) and the frames in flight. */
  readonly pacer: FramePacer<Damage>;
  /** A commit is needed for state (position, stacking, sizes, ack...) even without new content. */
  stateDirty = false;
  /** A buffer is attached locally (the surface is mapped). */
  attached = false;
  /** The frame callback in flight (its handlers are dropped when the mirror goes). */
  frame: WlCallbackProxy | null = null;
  /** What was last sent, to send only changes. */
  sent: {
    title?: string;
    appId?: string;
    minSize?: string;
    maxSize?: string;
    parent?: XdgToplevelProxy | null;
    fullscreen?: boolean;
    maximized?: boolean;
    geometry?: string;
    scale?: number;
    transform?: number;
    opaque?: readonly Rect[];
    input?: readonly Rect[] | null;
    position?: string;
    sync?: boolean;
  } = {};
  /** Pending xdg configure values until xdg_surface.configure. */
  pendingSize: { width: number; height: number; states: ToplevelState[] } | null = null;
  pendingPopupRect: Rect | null = null;
  /** Window geometry origin used for child popups (surface-local). */
  geometryOrigin = { x: 0, y: 0 };
  /** The role object this mirror was made for (a new role object means a new mirror). */
  readonly role: object | null;

  constructor(
    readonly scene: SceneSurface,
    readonly kind: MirrorKind,
    readonly wl: WlSurfaceProxy,
    readonly binding: Binding,
    readonly parent: Mirror | null,
    pacing: FramePacerHooks,
  ) {
    this.role = scene.role;
    this.pacer = new FramePacer(new Damage(0, 0), pacing, { maxInFlight: MAX_FRAMES_IN_FLIGHT, maxDeferredPresents: MAX_DEFERRED_PRESENTS });
  }
}

function rectKey(r: Rect | null): string {
  return r === null ? '' : `${r.x},${r.y},${r.width},${r.height}`;
}

class OutputState {
  name = '';
  description = '';
  make = '';
  model = '';
  x = 0;
  y = 0;
  width = 0;
  height = 0;
  refresh = 0;
  scale = 1;
  physicalWidth = 0;
  physicalHeight = 0;
  subpixel = 0;
  transform = 0;
  xdg: ZxdgOutputV1Proxy | null = null;

  constructor(
    readonly global: Global,
    readonly proxy: WlOutputProxy,
  ) {}

  info(): OutputInfo {
    const { name, description, make, model, x, y, width, height, refresh, scale, physicalWidth, physicalHeight, subpixel, transform } = this;
    return { name, description, make, model, x, y, width, height, refresh, scale, physicalWidth, physicalHeight, subpixel, transform };
  }
}

export class LocalDisplay extends Emitter<LocalDisplayEvents> {
  private readonly logger: Logger;
  private client: WaylandClient | null = null;
  private registry: Registry | null = null;
  private compositor: WlCompositorProxy | null = null;
  private shm: WlShmProxy | null = null;
  private subcompositor: WlSubcompositorProxy | null = null;
  private wmBase: XdgWmBaseProxy | null = null;
  private iviApplication: IviApplicationProxy | null = null;
  private xdgOutputManager: ZxdgOutputManagerV1Proxy | null = null;
  private readonly outputs = new Map<number, OutputState>();

  private seat: WlSeatProxy | null = null;
  private pointer: WlPointerProxy | null = null;
  private keyboard: WlKeyboardProxy | null = null;
  private touch: WlTouchProxy | null = null;
  /** Focus, serials and keyboard setup of the local seat; the keymap goes to the owner in keyboard focus. */
  private readonly input: InputRelay = new InputRelay({
    feedbackFor: (s) => this.feedbackOf(s),
    keyboardAudience: () => {
      const s = this.input.keyboardFocus;
      return s === null ? [] : [this.feedbackOf(s)];
    },
  });

  private readonly bindings = new Map<Scene, Binding>();
  private readonly tracked = new Map<SceneSurface, Tracked>();
  private readonly mirrors = new Map<SceneSurface, Mirror>();
  private readonly byProxy = new Map<WlSurfaceProxy, Mirror>();
  private readonly iviIds = new Map<number, Mirror>();
  private started = false;
  private isClosed = false;
  private counters = { contentCommits: 0, coalesced: 0, presented: 0, bytesCopied: 0 };

  constructor(readonly options: LocalDisplayOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Connect to the compositor and bind its globals. Throws when there is none or it lacks what the shell needs. */
  async start(): Promise<void> {
    if (this.started) throw new Error('LocalDisplay already started');
    this.started = true;
    const client = WaylandClient.connect(this.options.display, {
      logger: this.logger,
      ...(this.options.env !== undefined ? { env: this.options.env } : {}),
    });
    this.client = client;
    client.on('error', (error) => {
      this.logger.warn({ err: error }, `local display: ${error.message}`);
      this.emit('error', error);
    });
    client.on('close', (reason) => this.onConnectionClosed(reason));
    try {
      const registry = await client.registry();
      this.registry = registry;
      this.bindGlobals(registry);
      registry.on('global', (g) => this.onGlobal(g));
      registry.on('global-remove', (g) => this.onGlobalRemove(g));
      await client.roundtrip(); // output and seat details
    } catch (error) {
      client.close();
      throw error;
    }
  }

  private bindGlobals(registry: Registry): void {
    const need = (iface: string): Global => {
      const g = registry.find(iface);
      if (g === undefined) throw new Error(`the compositor has no ${iface}`);
      return g;
    };
    this.compositor = registry.bind(WlCompositorProxy, need('wl_compositor'), Math.min(4, need('wl_compositor').version));
    this.shm = registry.bind(WlShmProxy, need('wl_shm'), 1);
    const sub = registry.find('wl_subcompositor');
    if (sub !== undefined) this.subcompositor = registry.bind(WlSubcompositorProxy, sub, 1);
    const wm = registry.find('xdg_wm_base');
    if (wm !== undefined) {
      this.wmBase = registry.bind(XdgWmBaseProxy, wm, Math.min(wm.version, XdgWmBaseProxy.spec.version, 5));
      this.wmBase.listen({ ping: (serial) => this.wmBase?.pong(serial) });
    }
    const ivi = registry.find('ivi_application');
    if (ivi !== undefined) this.iviApplication = registry.bind(IviApplicationProxy, ivi, 1);
    if (this.options.shell === 'ivi' && this.iviApplication === null) throw new Error("the compositor has no ivi_application (shell 'ivi')");
    if (this.options.shell !== 'ivi' && this.wmBase === null) throw new Error(`the compositor has no xdg_wm_base (shell '${this.options.shell}')`);
    const xo = registry.find('zxdg_output_manager_v1');
    if (xo !== undefined) this.xdgOutputManager = registry.bind(ZxdgOutputManagerV1Proxy, xo, Math.min(xo.version, 3));
    for (const g of registry.findAll('wl_output')) this.addOutput(g);
    const seat = registry.find('wl_seat');
    if (seat !== undefined) this.bindSeat(seat);
  }

  private onGlobal(g: Global): void {
    if (this.isClosed) return;
    if (g.interface === 'wl_output') this.addOutput(g);
    else if (g.interface === 'wl_seat' && this.seat === null) this.bindSeat(g);
  }

  private onGlobalRemove(g: Global): void {
    const out = this.outputs.get(g.name);
    if (out !== undefined) {
      this.outputs.delete(g.name);
      if (out.xdg !== null && !out.xdg.destroyed) out.xdg.destroy();
      if (out.proxy.version >= 3 && !out.proxy.destroyed) out.proxy.release();
    }
  }

  private addOutput(g: Global): void {
    const registry = this.registry!;
    const proxy = registry.bind(WlOutputProxy, g, Math.min(g.version, 4));
    const out = new OutputState(g, proxy);
    proxy.listen({
      geometry: (x, y, pw, ph, subpixel, make, model, transform) => {
        Object.assign(out, { x, y, physicalWidth: pw, physicalHeight: ph, subpixel, make, model, transform });
      },
      mode: (flags, width, height, refresh) => {
        if ((flags & WlOutputMode.Current) !== 0) Object.assign(out, { width, height, refresh });
      },
      scale: (factor) => {
        out.scale = factor;
      },
      name: (name) => {
        out.name = name;
      },
      description: (description) => {
        out.description = description;
      },
    });
    if (this.xdgOutputManager !== null) {
      out.xdg = this.xdgOutputManager.getXdgOutput(proxy);
      out.xdg.listen({
        name: (name) => {
          if (out.name === '') out.name = name;
        },
        description: (description) => {
          if (out.description === '') out.description = description;
        },
      });
    }
    this.outputs.set(g.name, out);
  }

  /** The output shown to remote peers: the one named by `options.output`, else the first; null if none. */
  outputInfo(): OutputInfo | null {
    return this.findOutput(this.options.output)?.info() ?? null;
  }

  /** Every output of the local compositor. */
  outputsInfo(): OutputInfo[] {
    return [...this.outputs.values()].map((o) => o.info());
  }

  private findOutput(name: string | undefined): OutputState | null {
    const all = [...this.outputs.values()];
    if (name !== undefined && name !== '') return all.find((o) => o.name === name) ?? null;
    return all[0] ?? null;
  }

  stats(): LocalDisplayStats {
    return { surfaces: this.mirrors.size, ...this.counters };
  }

  /** Disconnect; every local window goes away. Emits 'close'. */
  close(): void {
    if (this.isClosed) return;
    for (const scene of [...this.bindings.keys()]) this.detach(scene);
    this.client?.close();
    if (this.client === null) this.onConnectionClosed(undefined);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private onConnectionClosed(reason: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    // Local objects are gone with the connection: drop our state without sending anything.
    for (const m of this.mirrors.values()) {
      m.buffers?.destroy(); // only unmaps: the protocol objects died with the connection
      m.buffers = null;
      m.frame = null;
      m.pacer.dispose();
    }
    this.mirrors.clear();
    this.byProxy.clear();
    this.iviIds.clear();
    for (const scene of [...this.bindings.keys()]) this.unbind(scene);
    this.input.dropPointer();
    this.input.dropKeyboard();
    this.input.dropTouch();
    if (reason !== undefined) this.logger.warn({ err: reason }, `local display closed: ${reason.message}`);
    this.emit('close', reason);
  }

  // ---- scenes ---------------------------------------------------------------

  /** Show every current and future surface of `scene` that passes the filter. */
  attach(scene: Scene): void {
    if (this.client === null) throw new Error('call start() before attach()');
    if (this.isClosed || this.bindings.has(scene)) return;
    const binding: Binding = {
      scene,
      onSurface: (s) => {
        this.track(s, binding);
        this.sync(s);
      },
      onCursor: (owner, cursor) => this.onCursor(binding, owner, cursor),
    };
    this.bindings.set(scene, binding);
    scene.on('surface', binding.onSurface);
    scene.on('cursor', binding.onCursor);
    for (const s of scene.surfaces) this.track(s, binding);
    for (const c of scene.cursors.values()) if (c !== null) this.track(c, binding);
    // Parents before children: roots first, then the rest in creation order.
    const order = [...this.tracked.keys()].filter((s) => this.tracked.get(s)!.binding === binding);
    order.sort((a, b) => depth(a) - depth(b) || a.id - b.id);
    for (const s of order) this.sync(s);
  }

  /** Stop showing `scene`: its windows go away. */
  detach(scene: Scene): void {
    const binding = this.bindings.get(scene);
    if (binding === undefined) return;
    for (const m of [...this.mirrors.values()]) if (m.binding === binding && m.parent === null) this.destroyMirror(m);
    for (const m of [...this.mirrors.values()]) if (m.binding === binding) this.destroyMirror(m);
    this.unbind(scene);
  }

  private unbind(scene: Scene): void {
    const binding = this.bindings.get(scene);
    if (binding === undefined) return;
    scene.off('surface', binding.onSurface);
    scene.off('cursor', binding.onCursor);
    for (const [s, t] of [...this.tracked]) {
      if (t.binding !== binding) continue;
      s.off('commit', t.onCommit);
      s.off('destroy', t.onDestroy);
      this.tracked.delete(s);
    }
    this.bindings.delete(scene);
  }

  private track(s: SceneSurface, binding: Binding): void {
    if (this.tracked.has(s) || s.destroyed) return;
    const t: Tracked = {
      binding,
      onCommit: (info) => this.onCommit(s, info),
      onDestroy: () => this.onSceneDestroy(s),
    };
    s.on('commit', t.onCommit);
    s.on('destroy', t.onDestroy);
    this.tracked.set(s, t);
  }

  private onSceneDestroy(s: SceneSurface): void {
    const m = this.mirrors.get(s);
    if (m !== undefined) this.destroyMirror(m);
    this.tracked.delete(s);
  }

  private onCommit(s: SceneSurface, info: CommitInfo): void {
    if (this.isClosed) return;
    const m = this.mirrors.get(s);
    if (m !== undefined) {
      if (info.damage.length > 0 || info.resized) {
        if (m.pacer.commit(info.resized ? null : info.damage) && m.attached) this.counters.coalesced++;
      }
      if (info.roleChanged || info.stackingChanged) m.stateDirty = true;
    }
    this.sync(s, info);
  }

  // ---- deciding what to show --------------------------------------------------

  /** What `s` should be locally now, or null for nothing. */
  private wanted(s: SceneSurface): MirrorKind | null {
    const role = s.role;
    if (role === null || s.destroyed) return null;
    switch (role.kind) {
      case 'toplevel':
      case 'ivi': {
        const filter = this.options.filter;
        if (filter !== undefined && !this.safely(s.owner, 'filter', () => filter(s), false)) return null;
        const ivi = this.options.shell === 'ivi' && this.iviIdOf(s) !== null;
        // An ivi surface shows as soon as it has content (no configure handshake); an
        // xdg_toplevel is created with its role so the compositor configures it early.
        if (ivi) return s.content !== null ? 'ivi' : null;
        return this.wmBase !== null ? 'toplevel' : null;
      }
      case 'popup': {
        const parent = this.xdgParent(role.parent);
        if (parent === null || this.wmBase === null) return null;
        const existing = this.mirrors.get(s);
        if (existing?.dismissed === true && existing.role === role) return 'popup';
        return s.content !== null ? 'popup' : null;
      }
      case 'subsurface':
        return this.subcompositor !== null && this.mirrors.has(role.parent) ? 'subsurface' : null;
      case 'cursor':
        return s.content !== null && this.isCurrentCursor(s) ? 'cursor' : null;
    }
  }

  private iviIdOf(s: SceneSurface): number | null {
    const role = s.role;
    if (role === null || this.iviApplication === null) return null;
    if (role.kind === 'ivi') return role.iviId;
    if (role.kind !== 'toplevel' || this.options.iviIdFor === undefined) return null;
    const fn = this.options.iviIdFor;
    return this.safely(s.owner, 'iviIdFor', () => fn(role.appId, s), null);
  }

  /** The nearest mirror with an xdg_surface at or above `s` (through subsurfaces), with the offset of `s` in it. */
  private xdgParent(s: SceneSurface): { mirror: Mirror; dx: number; dy: number } | null {
    let dx = 0;
    let dy = 0;
    let cur: SceneSurface = s;
    for (let i = 0; i < 64; i++) {
      const m = this.mirrors.get(cur);
      if (m === undefined) return null;
      if (m.xdgSurface !== null && !m.dismissed) return { mirror: m, dx, dy };
      const role = cur.role;
      if (role === null || role.kind !== 'subsurface') return null;
      dx += role.x;
      dy += role.y;
      cur = role.parent;
    }
    return null;
  }

  private isCurrentCursor(s: SceneSurface): boolean {
    for (const b of this.bindings.values()) for (const c of b.scene.cursors.values()) if (c === s) return true;
    return false;
  }

  /** Bring the local objects of `s` in line with its state, then its children. */
  private sync(s: SceneSurface, info?: CommitInfo): void {
    if (this.isClosed || this.client === null) return;
    const want = this.wanted(s);
    let m = this.mirrors.get(s);
    if (m !== undefined && (want !== m.kind || m.role !== s.role)) {
      this.destroyMirror(m);
      m = undefined;
    }
    // An xdg window whose content went away is unmapped: start it over, so the
    // compositor configures it afresh when content comes back (xdg-shell "Unmapping").
    if (m !== undefined && m.attached && s.content === null && (m.kind === 'toplevel' || m.kind === 'popup' || m.kind === 'ivi')) {
      this.destroyMirror(m);
      m = undefined;
      if (want === 'ivi' || want === 'popup') return;
    }
    let created = false;
    if (m === undefined && want !== null) {
      m = this.createMirror(s, want);
      created = m !== undefined;
    }
    if (m === undefined) return;
    if (created || info?.roleChanged === true) this.applyRole(m);
    if (created || info?.stackingChanged === true) this.restack(m);
    if (created && m.kind === 'subsurface' && m.parent !== null) this.restack(m.parent);
    if (created && s.content !== null) m.pacer.invalidate();
    this.flush(m);
    this.flushAncestors(m);
    if (created) this.syncChildren(s);
    if (m.kind === 'cursor' && (created || info?.roleChanged === true)) this.applyCursor();
  }

  /** Re-examine the surfaces whose parent is `s` (after `s` got local objects). */
  private syncChildren(s: SceneSurface): void {
    for (const child of [...this.tracked.keys()]) {
      const role = child.role;
      if (role === null || !('parent' in role) || role.parent !== s) continue;
      if (role.kind === 'toplevel') {
        // A dialog shown before its parent: set its xdg parent now.
        const m = this.mirrors.get(child);
        if (m !== undefined) this.applyRole(m);
      } else if (!this.mirrors.has(child)) {
        this.sync(child);
      }
    }
  }

  // ---- creating and destroying local objects ---------------------------------

  private createMirror(s: SceneSurface, kind: MirrorKind): Mirror | undefined {
    const binding = this.tracked.get(s)?.binding;
    if (binding === undefined) return undefined;
    const compositor = this.compositor!;
    let parent: Mirror | null = null;
    if (kind === 'subsurface' || kind === 'popup') {
      const role = s.role as { parent: SceneSurface };
      parent = this.mirrors.get(role.parent) ?? null;
      if (parent === null) return undefined;
    }
    if (kind === 'ivi') {
      const id = this.iviIdOf(s)!;
      const holder = this.iviIds.get(id);
      if (holder !== undefined) {
        // A second surface with a taken id would be a fatal protocol error (ivi_application.error.ivi_id).
        this.logger.warn({ surface: s.id, iviId: id }, `ivi id ${id} is already shown for another surface; not showing surface ${s.id}`);
        return undefined;
      }
    }
    const wl = compositor.createSurface();
    const m: Mirror = new Mirror(s, kind, wl, binding, parent, {
      flush: () => {
        this.flush(m);
        return false;
      },
      presented: (time) => {
        this.counters.presented++;
        this.feedback(s, 'presented', (f) => f.presented(s, time));
      },
    });
    this.mirrors.set(s, m);
    this.byProxy.set(wl, m);
    switch (kind) {
      case 'toplevel':
        this.createToplevel(m);
        break;
      case 'ivi': {
        const id = this.iviIdOf(s)!;
        m.iviId = id;
        this.iviIds.set(id, m);
        m.ivi = this.iviApplication!.surfaceCreate(id, wl);
        m.ivi.listen({
          configure: (width, height) => this.feedback(s, 'configure', (f) => f.configure(s, width, height, [])),
        });
        m.configured = true;
        break;
      }
      case 'popup':
        this.createPopup(m);
        break;
      case 'subsurface': {
        m.subsurface = this.subcompositor!.getSubsurface(wl, parent!.wl);
        m.configured = true;
        break;
      }
      case 'cursor':
        m.configured = true;
        break;
    }
    this.logger.debug({ surface: s.id, kind, owner: s.owner.name }, `showing surface ${s.id} as ${kind}`);
    return m;
  }

  private createToplevel(m: Mirror): void {
    const s = m.scene;
    const xdgSurface = this.wmBase!.getXdgSurface(m.wl);
    const toplevel = xdgSurface.getToplevel();
    m.xdgSurface = xdgSurface;
    m.toplevel = toplevel;
    toplevel.listen({
      configure: (width, height, states) => {
        m.pendingSize = { width, height, states: decodeXdgStates(states) };
      },
      close: () => this.feedback(s, 'close', (f) => f.close(s)),
    });
    xdgSurface.listen({
      configure: (serial) => {
        if (xdgSurface.destroyed) return;
        xdgSurface.ackConfigure(serial);
        const first = !m.configured;
        m.configured = true;
        const size = m.pendingSize ?? { width: 0, height: 0, states: [] };
        m.pendingSize = null;
        this.feedback(s, 'configure', (f) => f.configure(s, size.width, size.height, size.states));
        if (first || m.pacer.pending) this.flush(m);
      },
    });
    if (this.options.shell === 'fullscreen') {
      toplevel.setFullscreen(this.findOutput(this.options.output)?.proxy ?? null);
      m.sent.fullscreen = true;
    }
    // The initial commit, without a buffer: the compositor answers with a configure.
    this.applyRole(m);
    m.wl.commit();
  }

  /**
   * A positioner that puts the popup's window geometry exactly at `role.rect`
   * (relative to the parent surface's origin): anchor rectangle = that rect
   * relative to the parent's window geometry, anchor top_left, gravity
   * bottom_right. Also returns the offset from parent-surface coordinates to
   * parent-geometry coordinates, to translate xdg_popup.configure back.
   */
  private positionerFor(m: Mirror): { positioner: XdgPositionerProxy; host: Mirror; offX: number; offY: number } | null {
    const role = m.scene.role;
    if (role === null || role.kind !== 'popup') return null;
    const host = this.xdgParent(role.parent);
    if (host === null) return null;
    const origin = host.mirror.geometryOrigin;
    const offX = host.dx - origin.x;
    const offY = host.dy - origin.y;
    const size = m.scene.size;
    const width = Math.max(1, role.rect.width > 0 ? role.rect.width : size.width);
    const height = Math.max(1, role.rect.height > 0 ? role.rect.height : size.height);
    const positioner = this.wmBase!.createPositioner();
    positioner.setSize(width, height);
    positioner.setAnchorRect(role.rect.x + offX, role.rect.y + offY, width, height);
    positioner.setAnchor(XdgPositionerAnchor.TopLeft);
    positioner.setGravity(XdgPositionerGravity.BottomRight);
    return { positioner, host: host.mirror, offX, offY };
  }

  private createPopup(m: Mirror): void {
    const s = m.scene;
    const role = s.role as PopupRole;
    const placed = this.positionerFor(m)!;
    const { positioner, offX, offY } = placed;
    const xdgSurface = this.wmBase!.getXdgSurface(m.wl);
    const popup = xdgSurface.getPopup(placed.host.xdgSurface, positioner);
    positioner.destroy();
    m.xdgSurface = xdgSurface;
    m.popup = popup;
    popup.listen({
      configure: (x, y, w, h) => {
        m.pendingPopupRect = { x: x - offX, y: y - offY, width: w, height: h };
      },
      popupDone: () => {
        this.feedback(s, 'popupDone', (f) => f.popupDone(s));
        this.dismissPopup(m);
      },
    });
    xdgSurface.listen({
      configure: (serial) => {
        if (xdgSurface.destroyed) return;
        xdgSurface.ackConfigure(serial);
        const first = !m.configured;
        m.configured = true;
        const rect = m.pendingPopupRect;
        m.pendingPopupRect = null;
        if (rect !== null) this.feedback(s, 'popupConfigure', (f) => f.popupConfigure(s, rect));
        if (first || m.pacer.pending) this.flush(m);
      },
    });
    if (role.grab && this.seat !== null && this.input.pressSerial !== 0) popup.grab(this.seat, this.input.pressSerial);
    this.applyRole(m);
    m.wl.commit();
  }

  /** popup_done: the popup object is inert; destroy it (and its child popups) but remember the dismissal. */
  private dismissPopup(m: Mirror): void {
    this.destroyChildren(m);
    if (m.popup !== null && !m.popup.destroyed) m.popup.destroy();
    if (m.xdgSurface !== null && !m.xdgSurface.destroyed) m.xdgSurface.destroy();
    m.popup = null;
    m.xdgSurface = null;
    m.dismissed = true;
    m.configured = false;
    m.attached = false;
    m.buffers?.destroy();
    m.buffers = null;
  }

  private destroyChildren(m: Mirror): void {
    const children = [...this.mirrors.values()].filter((c) => c.parent === m);
    for (const c of children.reverse()) this.destroyMirror(c);
  }

  private destroyMirror(m: Mirror): void {
    if (this.mirrors.get(m.scene) !== m) return;
    // Children first: popups must go before their parent, subsurfaces with it.
    this.destroyChildren(m);
    this.mirrors.delete(m.scene);
    this.byProxy.delete(m.wl);
    if (m.iviId !== null && this.iviIds.get(m.iviId) === m) this.iviIds.delete(m.iviId);
    const s = m.scene;
    this.input.forget(s, true);
    if (this.isClosed) return;
    if (m.popup !== null && !m.popup.destroyed) m.popup.destroy();
    if (m.toplevel !== null && !m.toplevel.destroyed) m.toplevel.destroy();
    if (m.xdgSurface !== null && !m.xdgSurface.destroyed) m.xdgSurface.destroy();
    if (m.ivi !== null && !m.ivi.destroyed) m.ivi.destroy();
    if (m.subsurface !== null && !m.subsurface.destroyed) m.subsurface.destroy();
    if (m.frame !== null) m.frame.handlers = {};
    m.frame = null;
    m.pacer.dispose();
    if (!m.wl.destroyed) m.wl.destroy();
    m.buffers?.destroy();
    m.buffers = null;
    this.logger.debug({ surface: s.id, kind: m.kind }, `surface ${s.id} no longer shown`);
  }

  // ---- role state -------------------------------------------------------------

  private applyRole(m: Mirror): void {
    const role = m.scene.role;
    if (role === null || this.isClosed) return;
    if (m.toplevel !== null) {
      const t = m.toplevel;
      const sent = m.sent;
      const r: Partial<ToplevelRole> = role.kind === 'toplevel' ? role : {};
      const title = r.title ?? '';
      const appId = r.appId ?? '';
      if (sent.title !== title) t.setTitle((sent.title = title));
      if (sent.appId !== appId) t.setAppId((sent.appId = appId));
      const min = r.minSize ?? { width: 0, height: 0 };
      const max = r.maxSize ?? { width: 0, height: 0 };
      const minKey = `${min.width}x${min.height}`;
      const maxKey = `${max.width}x${max.height}`;
      if (sent.minSize !== minKey) {
        t.setMinSize(Math.max(0, min.width), Math.max(0, min.height));
        sent.minSize = minKey;
        m.stateDirty = true;
      }
      if (sent.maxSize !== maxKey) {
        t.setMaxSize(Math.max(0, max.width), Math.max(0, max.height));
        sent.maxSize = maxKey;
        m.stateDirty = true;
      }
      const parent = r.parent !== undefined && r.parent !== null ? (this.mirrors.get(r.parent)?.toplevel ?? null) : null;
      if (sent.parent !== parent && !(sent.parent === undefined && parent === null)) t.setParent(parent);
      sent.parent = parent;
      if (this.options.shell !== 'fullscreen') {
        const fullscreen = r.fullscreen === true;
        if (sent.fullscreen !== fullscreen && !(sent.fullscreen === undefined && !fullscreen)) {
          if (fullscreen) t.setFullscreen(null);
          else t.unsetFullscreen();
        }
        sent.fullscreen = fullscreen;
        const maximized = r.maximized === true;
        if (sent.maximized !== maximized && !(sent.maximized === undefined && !maximized)) {
          if (maximized) t.setMaximized();
          else t.unsetMaximized();
        }
        sent.maximized = maximized;
      }
      const geometry = r.geometry ?? null;
      const gKey = rectKey(geometry);
      if (sent.geometry !== gKey && geometry !== null && geometry.width > 0 && geometry.height > 0) {
        m.xdgSurface!.setWindowGeometry(geometry.x, geometry.y, geometry.width, geometry.height);
        m.stateDirty = true;
      }
      sent.geometry = gKey;
      m.geometryOrigin = geometry === null ? { x: 0, y: 0 } : { x: geometry.x, y: geometry.y };
    }
    if (m.subsurface !== null && role.kind === 'subsurface') {
      const pos = `${role.x},${role.y}`;
      if (m.sent.position !== pos) {
        m.subsurface.setPosition(role.x, role.y);
        m.sent.position = pos;
        this.markParentDirty(m);
      }
      if (m.sent.sync !== role.sync) {
        if (role.sync) m.subsurface.setSync();
        else m.subsurface.setDesync();
        m.sent.sync = role.sync;
      }
    }
    if (m.popup !== null && role.kind === 'popup') {
      const geometry = role.geometry ?? null;
      const gKey = rectKey(geometry);
      if (m.sent.geometry !== gKey && geometry !== null && geometry.width > 0 && geometry.height > 0) {
        m.xdgSurface!.setWindowGeometry(geometry.x, geometry.y, geometry.width, geometry.height);
        m.stateDirty = true;
      }
      m.sent.geometry = gKey;
      m.geometryOrigin = geometry === null ? { x: 0, y: 0 } : { x: geometry.x, y: geometry.y };
      // A moved popup: xdg_popup.reposition needs v3; older compositors keep the first place.
      const key = rectKey(role.rect);
      if (m.sent.position !== undefined && m.sent.position !== key && m.popup.version >= 3) this.repositionPopup(m);
      m.sent.position = key;
    }
  }

  private repositionPopup(m: Mirror): void {
    const placed = this.positionerFor(m);
    if (placed === null || m.popup === null) return;
    m.popup.reposition(placed.positioner, 0);
    placed.positioner.destroy();
  }

  /** Subsurface state applies on the parent's commit: have the parent chain commit too. */
  private markParentDirty(m: Mirror): void {
    let p = m.parent;
    while (p !== null) {
      p.stateDirty = true;
      if (p.kind !== 'subsurface') break;
      p = p.parent;
    }
  }

  /** Apply the `stack` order of `m`'s scene surface, and the positions of its subsurfaces, to the local subsurfaces. */
  private restack(m: Mirror): void {
    if (this.isClosed) return;
    const stack = m.scene.stack.filter((s) => s === m.scene || this.mirrors.get(s)?.subsurface != null);
    for (const s of stack) if (s !== m.scene) this.applyRole(this.mirrors.get(s)!);
    const self = stack.indexOf(m.scene);
    if (self < 0 || stack.length < 2) return;
    for (let i = self - 1; i >= 0; i--) {
      const below = this.mirrors.get(stack[i]!)!;
      const above = i + 1 === self ? m.wl : this.mirrors.get(stack[i + 1]!)!.wl;
      below.subsurface!.placeBelow(above);
    }
    for (let i = self + 1; i < stack.length; i++) {
      const over = this.mirrors.get(stack[i]!)!;
      const under = i - 1 === self ? m.wl : this.mirrors.get(stack[i - 1]!)!.wl;
      over.subsurface!.placeAbove(under);
    }
    m.stateDirty = true;
  }

  // ---- content and frames ---------------------------------------------------

  /** Commit what is pending for `m` if the compositor is ready for it. */
  private flush(m: Mirror): void {
    if (this.isClosed || this.mirrors.get(m.scene) !== m || !m.configured || m.dismissed) return;
    const s = m.scene;
    const content = s.content;
    if (m.pacer.pending && m.pacer.blocked) {
      // A frame is in flight: coalesce; the newest content goes out when it is done.
      if (m.stateDirty) this.commitState(m);
      return;
    }
    if (m.pacer.pending) {
      if (content === null) {
        m.wl.attach(null, 0, 0);
        m.attached = false;
        m.pacer.sent();
        m.pacer.damage.clear();
        this.commitState(m);
        return;
      }
      if (!this.commitContent(m, content)) {
        if (m.stateDirty) this.commitState(m);
      }
      return;
    }
    if (m.stateDirty) this.commitState(m);
  }

  /** A commit for state only (no new buffer): acks, positions, stacking, sizes. */
  private commitState(m: Mirror): void {
    m.stateDirty = false;
    m.wl.commit();
    this.afterSubsurfaceCommit(m);
  }

  /** A sync subsurface's commit applies with its parent's: have the parent chain commit too. */
  private afterSubsurfaceCommit(m: Mirror): void {
    if (m.kind !== 'subsurface') return;
    const role = m.scene.role;
    if (role !== null && role.kind === 'subsurface' && role.sync) this.markParentDirty(m);
    this.flushAncestors(m);
  }

  /** Flush the ancestors of `m` that have state to commit (subsurface positions and stacking apply on the parent's commit). */
  private flushAncestors(m: Mirror): void {
    for (let p = m.parent; p !== null; p = p.parent) {
      if (this.mirrors.get(p.scene) !== p) return;
      if (p.stateDirty) this.flush(p);
      if (p.kind !== 'subsurface') return;
    }
  }

  /** Returns false when no buffer is free (the frame waits for a release). */
  private commitContent(m: Mirror, content: Content): boolean {
    const wl = m.wl;
    let set = m.buffers;
    if (set === null || set.width !== content.width || set.height !== content.height || set.format !== content.format) {
      set?.destroy();
      set = new ShmBufferSet(this.shm!, content.width, content.height, content.format, () => {
        if (m.pacer.ready) this.flush(m);
      });
      m.buffers = set;
      m.pacer.damage.reset(content.width, content.height);
      m.pacer.damage.addFull();
    }
    set.addDamage(m.pacer.damage.rects);
    const buffer = set.acquire(content.pixels);
    if (buffer === null) return false;
    this.counters.contentCommits++;
    this.counters.bytesCopied += buffer.copied;
    wl.attach(buffer.wl, 0, 0);
    if (wl.version >= 4) {
      for (const r of m.pacer.damage.rects) wl.damageBuffer(r.x, r.y, r.width, r.height);
    } else {
      wl.damage(0, 0, 0x7fffffff, 0x7fffffff);
    }
    m.pacer.damage.clear();
    m.attached = true;
    if (wl.version >= 3 && m.sent.scale !== content.scale) {
      wl.setBufferScale(content.scale);
      m.sent.scale = content.scale;
    }
    if (wl.version >= 2 && m.sent.transform !== content.transform) {
      wl.setBufferTransform(content.transform);
      m.sent.transform = content.transform;
    }
    this.applyRegions(m);
    const frame = wl.frame();
    m.frame = frame;
    const token = m.pacer.frameSent();
    frame.listen({
      done: (time) => {
        if (m.frame === frame) m.frame = null;
        m.pacer.frameDone(token, time);
      },
    });
    m.stateDirty = false;
    wl.commit();
    this.afterSubsurfaceCommit(m);
    return true;
  }

  private applyRegions(m: Mirror): void {
    const s = m.scene;
    if (m.sent.opaque !== s.opaque) {
      this.withRegion(s.opaque.length === 0 ? null : s.opaque, (region) => m.wl.setOpaqueRegion(region));
      m.sent.opaque = s.opaque;
    }
    if (m.sent.input !== s.input) {
      this.withRegion(s.input, (region) => m.wl.setInputRegion(region));
      m.sent.input = s.input;
    }
  }

  /** Calls `set` with a wl_region holding `rects` (null: no region) and destroys it after: the surface keeps a copy. */
  private withRegion(rects: readonly Rect[] | null, set: (region: WlRegionProxy | null) => void): void {
    if (rects === null) return set(null);
    const region = this.compositor!.createRegion();
    for (const r of rects) region.add(r.x, r.y, r.width, r.height);
    set(region);
    region.destroy();
  }

  // ---- cursor -----------------------------------------------------------------

  private onCursor(binding: Binding, owner: SceneOwner, cursor: SceneSurface | null): void {
    if (this.isClosed) return;
    if (cursor !== null) {
      this.track(cursor, binding);
      this.sync(cursor);
    }
    // Cursor surfaces no longer current for anybody go away.
    for (const m of [...this.mirrors.values()]) if (m.kind === 'cursor' && !this.isCurrentCursor(m.scene)) this.destroyMirror(m);
    if (this.input.pointerFocus?.owner === owner) this.applyCursor();
  }

  /** Set the local pointer image for the owner under the pointer. */
  private applyCursor(): void {
    const focus = this.input.pointerFocus;
    const mirror = focus === null ? undefined : this.mirrors.get(focus);
    const pointer = this.pointer;
    if (mirror === undefined || pointer === null || pointer.destroyed || this.isClosed) return;
    const serial = this.input.pointerSerial;
    const owner = mirror.scene.owner;
    const cursors = mirror.binding.scene.cursors;
    if (!cursors.has(owner)) return; // never set: keep the compositor's image
    const c = cursors.get(owner) ?? null;
    if (c === null) {
      pointer.setCursor(serial, null, 0, 0);
      return;
    }
    const m = this.mirrors.get(c);
    if (m === undefined || c.role === null || c.role.kind !== 'cursor') {
      pointer.setCursor(serial, null, 0, 0);
      return;
    }
    pointer.setCursor(serial, m.wl, c.role.hotspotX, c.role.hotspotY);
  }

  // ---- input ------------------------------------------------------------------

  private bindSeat(g: Global): void {
    const seat = this.registry!.bind(WlSeatProxy, g, Math.min(7, g.version));
    this.seat = seat;
    seat.listen({ capabilities: (caps) => this.onCapabilities(caps) });
  }

  private onCapabilities(caps: number): void {
    const seat = this.seat!;
    const has = (bit: number): boolean => (caps & bit) !== 0;
    if (has(WlSeatCapability.Pointer) && this.pointer === null) this.pointer = this.listenPointer(seat.getPointer());
    else if (!has(WlSeatCapability.Pointer) && this.pointer !== null) {
      this.releaseDevice(this.pointer);
      this.pointer = null;
      this.input.dropPointer();
    }
    if (has(WlSeatCapability.Keyboard) && this.keyboard === null) this.keyboard = this.listenKeyboard(seat.getKeyboard());
    else if (!has(WlSeatCapability.Keyboard) && this.keyboard !== null) {
      this.releaseDevice(this.keyboard);
      this.keyboard = null;
      this.input.dropKeyboard();
    }
    if (has(WlSeatCapability.Touch) && this.touch === null) this.touch = this.listenTouch(seat.getTouch());
    else if (!has(WlSeatCapability.Touch) && this.touch !== null) {
      this.releaseDevice(this.touch);
      this.touch = null;
      this.input.dropTouch();
    }
  }

  private releaseDevice(device: WlPointerProxy | WlKeyboardProxy | WlTouchProxy): void {
    if (device.destroyed) return;
    if (device.version >= 3) device.release();
    else device.handlers = {};
  }

  private mirrorOf(wl: WlSurfaceProxy | null): Mirror | null {
    if (wl === null) return null;
    const m = this.byProxy.get(wl);
    return m !== undefined && this.mirrors.get(m.scene) === m ? m : null;
  }

  private listenPointer(pointer: WlPointerProxy): WlPointerProxy {
    const input = this.input;
    pointer.listen({
      enter: (serial, surface, x, y) => {
        input.pointerEnter(serial, this.mirrorOf(surface)?.scene ?? null, x, y);
        this.applyCursor();
      },
      leave: () => input.pointerLeave(),
      motion: (time, x, y) => input.pointerMotion(time, x, y),
      button: (serial, time, button, state) => input.pointerButton(serial, time, button, state === WlPointerButtonState.Pressed),
      axis: (time, axis, value) => input.pointerAxis(time, axis, value),
      axisSource: (source) => input.pointerAxisSource(source),
      axisStop: (time, axis) => input.pointerAxisStop(time, axis),
      axisDiscrete: (axis, discrete) => input.pointerAxisDiscrete(axis, discrete),
      frame: () => input.pointerFrame(),
    });
    return pointer;
  }

  private listenKeyboard(keyboard: WlKeyboardProxy): WlKeyboardProxy {
    const input = this.input;
    keyboard.listen({
      keymap: (format, fd, size) => {
        try {
          if (format !== WlKeyboardKeymapFormat.XkbV1 || size <= 0) return;
          input.keymap(readKeymap(fd, size));
        } catch (error) {
          this.logger.warn({ err: error }, `cannot read the keymap: ${(error as Error).message}`);
        } finally {
          closeFd(fd);
        }
      },
      repeatInfo: (rate, delay) => input.repeatInfo(rate, delay),
      enter: (_serial, surface, keys) => input.keyboardEnter(this.mirrorOf(surface)?.scene ?? null, keys),
      leave: () => input.keyboardLeave(),
      key: (serial, time, key, state) => input.key(serial, time, key, state === WlKeyboardKeyState.Pressed),
      modifiers: (_serial, depressed, latched, locked, group) => input.modifiers(depressed, latched, locked, group),
    });
    return keyboard;
  }

  private listenTouch(touch: WlTouchProxy): WlTouchProxy {
    const input = this.input;
    touch.listen({
      down: (serial, time, surface, id, x, y) => input.touchDown(serial, time, this.mirrorOf(surface)?.scene ?? null, id, x, y),
      up: (_serial, time, id) => input.touchUp(time, id),
      motion: (time, id, x, y) => input.touchMotion(time, id, x, y),
      frame: () => input.touchFrame(),
      cancel: () => input.touchCancel(),
    });
    return touch;
  }

  // ---- containment ---------------------------------------------------------

  /** The feedback of the owner of `s`; what it throws is logged, never propagated. */
  private feedbackOf(s: SceneSurface): SceneFeedback {
    const owner = s.owner;
    return guardFeedback(owner.feedback, (method, error) =>
      this.logger.error({ err: error, owner: owner.name }, `${owner.name}: ${method} threw: ${(error as Error)?.message ?? String(error)}`),
    );
  }

  /** Call a producer's feedback; what it throws is logged, never propagated. */
  private feedback(s: SceneSurface, what: string, fn: (f: SceneFeedback) => void): void {
    if (s.destroyed) return;
    this.safely(s.owner, what, () => fn(s.owner.feedback), undefined);
  }

  private safely<T>(owner: SceneOwner, what: string, fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (error) {
      this.logger.error({ err: error, owner: owner.name }, `${owner.name}: ${what} threw: ${(error as Error)?.message ?? String(error)}`);
      return fallback;
    }
  }
}

function depth(s: SceneSurface): number {
  let d = 0;
  let cur = s;
  while (cur.role !== null && (cur.role.kind === 'subsurface' || cur.role.kind === 'popup') && d < 64) {
    cur = cur.role.parent;
    d++;
  }
  return d;
}

/** The XKB keymap text behind a wl_keyboard.keymap fd (NUL-terminated, `size` bytes with the NUL). */
export function readKeymap(fd: number, size: number): string {
  const mapping = ShmMapping.map(fd, 0, size, false);
  try {
    const bytes = new Uint8Array(mapping.buffer, 0, size);
    let end = bytes.indexOf(0);
    if (end < 0) end = size;
    return Buffer.from(bytes.subarray(0, end)).toString('utf8');
  } finally {
    mapping.unmap();
  }
}
