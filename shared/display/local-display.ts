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
 *
 * Parts: scenes.ts (attached scenes), show.ts (deciding what to show),
 * objects.ts (creating and destroying local objects), roles.ts (role state),
 * frames.ts (commits and pacing) with shm-content.ts (pixels into wl_shm),
 * cursor.ts, seat.ts (input), outputs.ts; state.ts holds what they share.
 */
import { SharedBuffers } from './shared-buffers.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { Scene, SceneSurface } from '../scene/scene.js';
import type { OutputInfo } from '../scene/output.js';
import {
  IviApplicationProxy,
  WlCompositorProxy,
  WlShmProxy,
  WlSubcompositorProxy,
  XdgWmBaseProxy,
  WpPresentationProxy,
  ZxdgDecorationManagerV1Proxy,
  ZxdgOutputManagerV1Proxy,
  ZwpPointerConstraintsV1Proxy,
  ZwpRelativePointerManagerV1Proxy,
  ZwpIdleInhibitManagerV1Proxy,
  ZwpTextInputManagerV3Proxy,
  WpViewporterProxy,
  WpFractionalScaleManagerV1Proxy,
} from '../generated/wayland/index.js';
import { Emitter } from '../wayland/emitter.js';
import { WaylandClient, type Global, type Registry } from '../wayland/client.js';
import { CursorImage } from './cursor.js';
import { Frames } from './frames.js';
import { DisplayPresentation } from './presentation.js';
import { LocalObjects } from './objects.js';
import { RoleState } from './roles.js';
import { SceneBindings } from './scenes.js';
import { Seat } from './seat.js';
import { announceDisplayOffers, displayOffers } from './offers.js';
import { DisplaySelection } from './selection.js';
import { Chooser } from './show.js';
import { DisplaySteady } from './steady.js';
import { DisplayState, type DisplayParts } from './state.js';

export { readKeymap } from './seat.js';

export type LocalShell = 'xdg' | 'ivi' | 'fullscreen';

export interface LocalDisplayOptions {
  /** Socket name or absolute path; default `$WAYLAND_DISPLAY` (libwayland's rules). */
  readonly display?: string;
  readonly shell: LocalShell;
  /** Shell 'ivi': the ivi id for a toplevel; null = show it as an xdg_toplevel instead. */
  readonly iviIdFor?: (appId: string, surface: SceneSurface) => number | null;
  /** The local ivi id of an ivi surface (its own id unless this says otherwise). */
  readonly localIviId?: (iviId: number) => number;
  /** Shell 'fullscreen': the name of the output (wl_output / xdg_output name); default: let the compositor choose. */
  readonly output?: string;
  /** Which root surfaces (toplevel or ivi role) to show; default all. Re-evaluated when their role changes. */
  readonly filter?: (surface: SceneSurface) => boolean;
  readonly logger?: Logger;
  /**
   * Set crop and scale (wp_viewporter) on the local surfaces when the
   * compositor has it (default true); false: show surfaces scaled here.
   */
  readonly viewporter?: boolean;
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
  /** Real presentation feedbacks asked of the compositor (wp_presentation.feedback). */
  readonly presentationFeedbacks: number;
}

export interface LocalDisplayEvents extends Record<string, unknown[]> {
  /** A protocol error from or with the compositor; 'close' follows. */
  error: [error: Error];
  /** The connection to the compositor is gone (compositor exit or `close()`). */
  close: [reason: Error | undefined];
  /** The local seat's capabilities changed (wl_seat.capabilities: pointer 1, keyboard 2, touch 4). */
  'seat-capabilities': [caps: number];
}

export class LocalDisplay extends Emitter<LocalDisplayEvents> {
  private readonly logger: Logger;
  private readonly d: DisplayState;
  private readonly p: DisplayParts;
  private started = false;
  /** Handing steadily shown surfaces to a native path and taking them back (steady.ts). */
  readonly steady: DisplaySteady;

  constructor(readonly options: LocalDisplayOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    const d = new DisplayState(options, this.logger);
    const p = {} as { -readonly [K in keyof DisplayParts]: DisplayParts[K] };
    p.scenes = new SceneBindings(d, p);
    p.show = new Chooser(d, p);
    p.objects = new LocalObjects(d, p);
    p.roles = new RoleState(d, p);
    p.frames = new Frames(d, p);
    p.cursor = new CursorImage(d, p);
    p.seat = new Seat(d, p);
    p.selection = new DisplaySelection(this.logger);
    this.d = d;
    this.p = p;
    this.steady = new DisplaySteady(d, p);
    d.onSeatCapabilities = (caps) => {
      announceDisplayOffers(d, this);
      this.emit('seat-capabilities', caps);
    };
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
    this.d.client = client;
    client.on('error', (error) => {
      this.logger.warn({ err: error }, `local display: ${error.message}`);
      this.emit('error', error);
    });
    client.on('close', (reason) => this.onConnectionClosed(reason));
    try {
      const registry = await client.registry();
      this.d.registry = registry;
      this.bindGlobals(registry);
      registry.on('global', (g) => this.onGlobal(g));
      registry.on('global-remove', (g) => this.d.outputs.remove(g.name));
      await client.roundtrip(); // output and seat details
    } catch (error) {
      client.close();
      throw error;
    }
  }

  private bindGlobals(registry: Registry): void {
    const d = this.d;
    const need = (iface: string): Global => {
      const g = registry.find(iface);
      if (g === undefined) throw new Error(`the compositor has no ${iface}`);
      return g;
    };
    d.compositor = registry.bind(WlCompositorProxy, need('wl_compositor'), Math.min(4, need('wl_compositor').version));
    d.shm = registry.bind(WlShmProxy, need('wl_shm'), 1);
    d.sharedBuffers = new SharedBuffers(d.shm);
    const sub = registry.find('wl_subcompositor');
    if (sub !== undefined) d.subcompositor = registry.bind(WlSubcompositorProxy, sub, 1);
    const wm = registry.find('xdg_wm_base');
    if (wm !== undefined) {
      d.wmBase = registry.bind(XdgWmBaseProxy, wm, Math.min(wm.version, XdgWmBaseProxy.spec.version, 5));
      d.wmBase.listen({ ping: (serial) => d.wmBase?.pong(serial) });
    }
    const ivi = registry.find('ivi_application');
    if (ivi !== undefined) d.iviApplication = registry.bind(IviApplicationProxy, ivi, 1);
    if (this.options.shell === 'ivi' && d.iviApplication === null) throw new Error("the compositor has no ivi_application (shell 'ivi')");
    if (this.options.shell !== 'ivi' && d.wmBase === null) throw new Error(`the compositor has no xdg_wm_base (shell '${this.options.shell}')`);
    const wp = registry.find('wp_presentation');
    if (wp !== undefined) d.presentation = new DisplayPresentation(registry.bind(WpPresentationProxy, wp, 1));
    const deco = registry.find('zxdg_decoration_manager_v1');
    if (deco !== undefined) d.decorationManager = registry.bind(ZxdgDecorationManagerV1Proxy, deco, 1);
    const constraints = registry.find('zwp_pointer_constraints_v1');
    const relative = registry.find('zwp_relative_pointer_manager_v1');
    if (constraints !== undefined && relative !== undefined) {
      d.pointerConstraints = registry.bind(ZwpPointerConstraintsV1Proxy, constraints, 1);
      d.relativePointerManager = registry.bind(ZwpRelativePointerManagerV1Proxy, relative, 1);
    }
    const fractional = registry.find('wp_fractional_scale_manager_v1');
    if (fractional !== undefined) d.fractionalScaleManager = registry.bind(WpFractionalScaleManagerV1Proxy, fractional, 1);
    const viewporter = registry.find('wp_viewporter');
    if (viewporter !== undefined && this.options.viewporter !== false) d.viewporter = registry.bind(WpViewporterProxy, viewporter, 1);
    const idle = registry.find('zwp_idle_inhibit_manager_v1');
    if (idle !== undefined) d.idleInhibitManager = registry.bind(ZwpIdleInhibitManagerV1Proxy, idle, 1);
    const textInput = registry.find('zwp_text_input_manager_v3');
    if (textInput !== undefined) d.textInputManager = registry.bind(ZwpTextInputManagerV3Proxy, textInput, 1);
    const xo = registry.find('zxdg_output_manager_v1');
    if (xo !== undefined) d.outputs.xdgOutputManager = registry.bind(ZxdgOutputManagerV1Proxy, xo, Math.min(xo.version, 3));
    for (const g of registry.findAll('wl_output')) d.outputs.add(registry, g);
    const seat = registry.find('wl_seat');
    if (seat !== undefined) this.p.seat.bindSeat(seat);
  }

  private onGlobal(g: Global): void {
    if (this.d.isClosed) return;
    if (g.interface === 'wl_output') this.d.outputs.add(this.d.registry!, g);
    else if (g.interface === 'wl_seat' && this.d.seat === null) this.p.seat.bindSeat(g);
  }

  /** The local seat's capabilities (0 when the compositor has no seat). */
  get seatCapabilities(): number {
    return this.d.seatCapabilities;
  }

  /** Whether the compositor has pointer constraints and relative pointers (both are needed to carry a lock). */
  get pointerConstraints(): boolean {
    return this.d.pointerConstraints !== null;
  }

  /** Whether the compositor has text-input v3 (zwp_text_input_manager_v3), for an input method to compose. */
  get textInput(): boolean {
    return this.d.textInputManager !== null;
  }

  /** Whether surfaces are cropped and scaled by the compositor (it has wp_viewporter and the options allow it). */
  get viewporter(): boolean {
    return this.d.viewporter !== null;
  }

  /** Whether the compositor gives surfaces a preferred fractional scale (wp_fractional_scale_manager_v1). */
  get fractionalScale(): boolean {
    return this.d.fractionalScaleManager !== null;
  }

  /** Whether the compositor has idle inhibit (zwp_idle_inhibit_manager_v1). */
  get idleInhibit(): boolean {
    return this.d.idleInhibitManager !== null;
  }

  /** Whether the compositor offers server-side decorations (xdg-decoration). */
  get serverSideDecorations(): boolean {
    return this.d.decorationManager !== null;
  }

  /** The output shown to remote peers: the one named by `options.output`, else the first; null if none. */
  outputInfo(): OutputInfo | null {
    return this.d.findOutput(this.options.output)?.info() ?? null;
  }

  /** The local compositor's clipboard and primary selection. */
  get selection(): DisplaySelection {
    return this.p.selection;
  }

  /** Every output of the local compositor. */
  outputsInfo(): OutputInfo[] {
    return this.d.outputs.infos();
  }

  /**
   * Resolves once the compositor has handled everything sent so far (a
   * wl_display.sync round trip); rejects when not connected.
   */
  async roundtrip(): Promise<void> {
    if (this.d.client === null) throw new Error('not connected to the compositor');
    await this.d.client.roundtrip();
  }

  stats(): LocalDisplayStats {
    const c = this.d.counters;
    const live = this.steady.liveCounters?.() ?? { commits: 0, presented: 0 };
    return {
      surfaces: this.d.mirrors.size,
      ...c,
      contentCommits: c.contentCommits + live.commits,
      presented: c.presented + live.presented,
      presentationFeedbacks: this.d.presentation?.feedbacks ?? 0,
    };
  }

  /** Disconnect; every local window goes away. Emits 'close'. */
  close(): void {
    if (this.d.isClosed) return;
    for (const scene of [...this.d.bindings.keys()]) this.detach(scene);
    this.d.client?.close();
    if (this.d.client === null) this.onConnectionClosed(undefined);
  }

  get closed(): boolean {
    return this.d.isClosed;
  }

  private onConnectionClosed(reason: Error | undefined): void {
    const d = this.d;
    if (d.isClosed) return;
    // Surfaces handed to a native path come back first (their frames will never be done).
    for (const scene of [...d.mirrors.keys()]) d.onMirrorGone?.(scene);
    d.isClosed = true;
    // Local objects are gone with the connection: drop our state without sending anything.
    d.sharedBuffers?.forget();
    for (const m of d.mirrors.values()) {
      m.buffers?.destroy(); // only unmaps: the protocol objects died with the connection
      m.buffers = null;
      m.frame = null;
      m.pacer.dispose();
    }
    d.mirrors.clear();
    d.byProxy.clear();
    d.iviIds.clear();
    for (const scene of [...d.bindings.keys()]) {
      scene.setConsumerOffers(this, null);
      this.p.scenes.unbind(scene);
    }
    d.input.dropPointer();
    d.input.dropKeyboard();
    d.input.dropTouch();
    if (reason !== undefined) this.logger.warn({ err: reason }, `local display closed: ${reason.message}`);
    this.emit('close', reason);
  }

  // ---- scenes ---------------------------------------------------------------

  /** Show every current and future surface of `scene` that passes the filter. */
  attach(scene: Scene): void {
    this.p.scenes.attach(scene);
    if (!this.d.isClosed) scene.setConsumerOffers(this, displayOffers(this.d));
  }

  /** Stop showing `scene`: its windows go away. */
  detach(scene: Scene): void {
    this.p.scenes.detach(scene);
    scene.setConsumerOffers(this, null);
  }
}
