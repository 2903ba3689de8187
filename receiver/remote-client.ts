/**
 * One connected transmitter on the receiver. It owns the transmitter's
 * objects (surfaces, roles, input devices), rebuilds its surfaces in the
 * receiver's Scene, and is the SceneOwner of those surfaces: its `feedback`
 * turns what the local display reports (presentation, configures, input)
 * into Waltham events for that transmitter.
 *
 * A request that breaks the protocol or a per-peer limit is answered with
 * wth_display.error naming `iface@id.message`, and the transmitter is
 * dropped; the other transmitters are not affected.
 */
import {
  axisSourceFor,
  isAxisSource,
  SceneSurface,
  type Rect,
  type Scene,
  type SceneFeedback,
  type SceneOwner,
  toplevelRole,
} from '../shared/scene/scene.js';
import {
  WthpCallbackResource,
  WthpPresentationFeedbackResource,
  WthpRegionResource,
  WthpSurfaceResource,
  type WthpCompositorResource,
  type WthpContentResource,
  type WthpInputExtensionResource,
  type WthpIviApplicationResource,
  type WthpIviSurfaceResource,
  type WthpKeyboardResource,
  type WthpKeymapResource,
  type WthpOutputResource,
  type WthpPointerResource,
  type WthpPopupResource,
  type WthpRemoteShellResource,
  type WthpSeatResource,
  type WthpSubsurfaceResource,
  type WthpSurfaceRefusalResource,
  type WthpToplevelResource,
  type WthpTouchResource,
  type WthpWindowGeometryResource,
  type WthpPresentationResource,
  type WthpWindowManagerResource,
  type WthpDecorationManagerResource,
  type WthpToplevelDecorationResource,
  WthpToplevelDecorationMode,
  type WthpPointerConstraintsResource,
  type WthpPointerConstraintResource,
  WthpPointerConstraintKind,
  type WthpIdleInhibitManagerResource,
  type WthpTextInputManagerResource,
  type WthpViewporterResource,
  type WthpFractionalScaleManagerResource,
  WthDisplayError,
  WthpIviApplicationError,
  WthpRemoteShellError,
  WthpKeyboardKeyState,
  WthpKeyboardKeymapFormat,
  WthpPointerButtonState,
  WthpOutputMode,
} from '../shared/generated/waltham/waltham.js';
import { WlPointerError } from '../shared/generated/wayland/wayland.js';
import { RemoteTextInputs } from './text-input.js';
import { encodeU32Array } from '../shared/wire/array.js';
import type { Resource } from '../shared/wire/object.js';
import { bindViewporter } from './viewport.js';
import { ReceiverFractionalScale } from './fractional-scale.js';
import type { WalthamLogger } from '../shared/waltham/connection.js';
import type { WalthamPeer } from '../shared/waltham/display.js';
import { guardFeedback } from '../shared/remote/guard.js';
import { Region } from '../shared/scene/region.js';
import { checkBegin, codecBit, TileError, type PixelImage, type Tile } from '../shared/remote/tiles.js';
import { isLossy, LOSSY_CODECS } from '../shared/remote/lossy.js';
import type { SteadyState } from '../shared/native.js';
import type { SteadyClient, SteadyPath } from './steady.js';
import {
  KEYMAP_CHUNK,
  keymapChunks,
  statesToBits,
  wireTime,
} from '../shared/remote/protocol.js';
import type { OutputInfo } from '../shared/scene/output.js';
import { RemoteSurface, type DecodedTile, type RoleUpdate } from './remote-surface.js';
import { WorkBudget, type ProcessLimits } from './limits.js';
import { limitText } from '../shared/wire/errors.js';
import type { TotalWork, WorkShare } from './total-work.js';
import type { FocusGuard } from './focus-guard.js';
import { ReceiverPresentation } from './presentation.js';

/**
 * Per-transmitter limits (DESIGN 8): a peer past one is dropped with an
 * error. Limits over every transmitter are in limits.ts. The defaults are
 * sized for a board with 1 GiB.
 */
export interface ReceiverLimits {
  /** Live wthp_surface objects. */
  readonly maxSurfaces: number;
  readonly maxSurfaceWidth: number;
  readonly maxSurfaceHeight: number;
  /** Pixel memory over all the peer's surfaces (content, cached and pending buffers). */
  readonly maxPixelBytes: number;
  /** Unanswered frame callbacks per surface. */
  readonly maxCallbacksPerSurface: number;
  /** Rectangles per region. */
  readonly maxRegionRects: number;
}

export const DEFAULT_LIMITS: ReceiverLimits = {
  maxSurfaces: 256,
  maxSurfaceWidth: 8192,
  maxSurfaceHeight: 8192,
  maxPixelBytes: 256 * 1024 * 1024,
  maxCallbacksPerSurface: 256,
  maxRegionRects: 1024,
};

/** What the server shares with each of its clients. */
export interface ReceiverContext {
  readonly scene: Scene;
  readonly logger: WalthamLogger;
  readonly limits: ReceiverLimits & ProcessLimits;
  /** Every connected transmitter (for the limits over all of them). */
  readonly clients: ReadonlySet<RemoteClient>;
  /** Codecs announced in wthp_content.codecs (mask of 1 << codec). */
  readonly codecs: number;
  seatCapabilities(): number;
  output(): OutputInfo;
  /** ivi ids in use on this receiver, over all transmitters. */
  readonly iviIds: Map<number, RemoteSurface>;
  /** Keyboard focus between transmitters (focus-guard.ts); none: the compositor's focus is followed as is. */
  readonly focus?: FocusGuard<RemoteClient>;
  /** The identity an ivi id belongs to by configuration ([transmitter-identity]); null: whoever claims it first. */
  readonly iviOwner?: (iviId: number) => string | null;
  /** The work budget over every transmitter (total-work.ts); none: only each one's own. */
  readonly totalWork?: TotalWork;
  /** Steady frames handled natively (steady.ts); none: every frame here. */
  readonly steady?: SteadyPath;
}

/** Lossy tiles decoding at once per transmitter, and their decoded bytes, before its messages wait. */
const MAX_LOSSY_TILES = 64;
const MAX_LOSSY_BYTES = 64 * 1024 * 1024;

/** wthp_pointer declares no errors of its own: set_cursor's role error is wl_pointer's, which it mirrors. */
const POINTER_ROLE_ERROR = WlPointerError.Role;

type Fail = (message: string, code?: number) => void;

export class RemoteClient implements SceneOwner, SteadyClient {
  readonly name: string;
  readonly feedback: SceneFeedback;
  /** The transmitter's surfaces, by their scene surface. */
  readonly surfaces = new Map<SceneSurface, RemoteSurface>();
  private readonly byResource = new Map<WthpSurfaceResource, RemoteSurface>();
  private readonly resourceOf = new Map<RemoteSurface, WthpSurfaceResource>();
  private readonly toplevels = new Map<WthpToplevelResource, RemoteSurface>();
  private readonly popups = new WeakMap<WthpPopupResource, RemoteSurface>();
  private readonly decorations = new Map<RemoteSurface, WthpToplevelDecorationResource>();
  private readonly constraints = new Map<RemoteSurface, WthpPointerConstraintResource>();
  private readonly inhibitors = new Map<RemoteSurface, number>();
  private readonly roleObjects = new Map<RemoteSurface, WthpToplevelResource | WthpPopupResource | WthpIviSurfaceResource>();
  private readonly regions = new Map<WthpRegionResource, Region>();
  private readonly seats = new Set<WthpSeatResource>();
  private readonly outputs = new Set<WthpOutputResource>();
  private readonly pointers = new Set<WthpPointerResource>();
  private readonly keyboards = new Set<WthpKeyboardResource>();
  private readonly touches = new Set<WthpTouchResource>();
  private readonly keymaps = new Set<WthpKeymapResource>();
  private keymapText: string | null = null;
  /** Bound by transmitters that take a refused surface alone (wthp_surface_refusal). */
  private refusal: WthpSurfaceRefusalResource | null = null;
  private repeat: { rate: number; delay: number } | null = null;
  private cursor: SceneSurface | null = null;
  private isGone = false;
  /** Counters for stats(). */
  readonly counters = { commits: 0, tiles: 0, tileBytes: 0, presented: 0 };
  /** The lossy tiles being decoded, settled in the order they came; null when none is. */
  private lossyChain: Promise<void> | null = null;
  private lossyTiles = 0;
  private lossyBytes = 0;
  /** Pixels this transmitter may have written (limits.ts). */
  private readonly work: WorkBudget;
  /** ... and its share of the budget over every transmitter. */
  private readonly workShare: WorkShare | null;
  private readonly presentation: ReceiverPresentation;
  private readonly textInputs = new RemoteTextInputs(
    (surface) => this.surfaceOf(surface).scene,
    (resource, message) => this.failer(resource, message),
  );
  private readonly fractionalScale = new ReceiverFractionalScale();
  /** The peer's wthp_content and wthp_presentation objects (for the steady path). */
  private readonly contents = new Set<WthpContentResource>();
  private readonly presentations = new Set<WthpPresentationResource>();

  constructor(
    readonly peer: WalthamPeer,
    private readonly ctx: ReceiverContext,
  ) {
    this.name = `transmitter ${peer.label}`;
    this.work = new WorkBudget(ctx.limits.workPixelsPerSecond, ctx.limits.workBurstPixels);
    this.workShare = ctx.totalWork?.join() ?? null;
    this.presentation = new ReceiverPresentation(peer, ctx.limits.maxCallbacksPerSurface);
    // The local display calls this: a failure is logged, never thrown at it.
    this.feedback = guardFeedback(this.makeFeedback(), (method, err) =>
      ctx.logger.error({ err }, `${this.name}: ${method} failed: ${err instanceof Error ? err.message : String(err)}`),
    );
    // The steady path takes its surfaces back before the teardown.
    ctx.steady?.attach(this);
    peer.once('close', () => this.teardown());
  }

  /** Memory of the lossy tiles being decoded now (their data and decoded pixels). */
  get decodingBytes(): number {
    return this.lossyBytes;
  }

  /** Whether the transmitter is gone (torn down). */
  get gone(): boolean {
    return this.isGone;
  }

  get logger(): WalthamLogger {
    return this.ctx.logger;
  }

  /** Drop the peer with wth_display.error on `resource`, naming `iface@id.message`. */
  private failer(resource: Resource, message: string): Fail {
    return (text, code = WthDisplayError.InvalidMethod) => {
      resource.postError(code, `${resource.toString()}.${message}: ${text}`);
    };
  }

  private surfaceOf(resource: WthpSurfaceResource): RemoteSurface {
    const rs = this.byResource.get(resource);
    if (rs === undefined) throw new Error(`${resource.toString()} has no surface state`);
    return rs;
  }

  // ---- Globals ---------------------------------------------------------------------------

  bindCompositor(compositor: WthpCompositorResource): void {
    compositor.listen({
      createSurface: (resource) => this.createSurface(compositor, resource),
      createRegion: (resource) => this.createRegion(resource),
    });
  }

  bindRemoteShell(shell: WthpRemoteShellResource): void {
    shell.listen({
      destroy: () => {},
      getToplevel: (id, surface) => this.getToplevel(shell, id, surface),
      getPopup: (id, surface, parent, x, y, width, height, grab) => this.getPopup(shell, id, surface, parent, { x, y, width, height }, grab !== 0),
      getSubsurface: (id, surface, parent) => this.getSubsurface(shell, id, surface, parent),
    });
  }

  bindContent(content: WthpContentResource): void {
    const failBegin = this.failer(content, 'begin');
    const failTile = this.failer(content, 'tile');
    this.contents.add(content);
    content.onDestroy(() => this.contents.delete(content));
    content.listen({
      destroy: () => {},
      begin: (surface, width, height, format) => this.afterLossy(() => this.begin(failBegin, surface, width, height, format)),
      tile: (surface, x, y, width, height, codec, data) => {
        const tile = { x, y, width, height, codec, data };
        if (isLossy(codec)) this.tile(failTile, surface, tile);
        // Written in order after the lossy ones (its data is copied: it is a view valid during dispatch).
        else if (this.lossyChain === null) this.tile(failTile, surface, tile);
        else {
          const copy = { ...tile, data: new Uint8Array(data) };
          this.afterLossy(() => this.tile(failTile, surface, copy));
        }
      },
    });
    content.sendCodecs(this.ctx.codecs);
  }

  bindSeat(seat: WthpSeatResource): void {
    this.seats.add(seat);
    seat.onDestroy(() => this.seats.delete(seat));
    seat.listen({
      getPointer: (pointer) => this.addPointer(pointer),
      getKeyboard: (keyboard) => this.addKeyboard(keyboard),
      getTouch: (touch) => {
        this.touches.add(touch);
        touch.onDestroy(() => this.touches.delete(touch));
        touch.listen({ release: () => {} });
      },
      release: () => {},
    });
    seat.sendCapabilities(this.ctx.seatCapabilities());
    if (seat.version >= 2) seat.sendName('default');
  }

  bindOutput(output: WthpOutputResource): void {
    this.outputs.add(output);
    output.onDestroy(() => this.outputs.delete(output));
    this.describeOutput(output, this.ctx.output());
  }

  bindInputExtension(ext: WthpInputExtensionResource): void {
    ext.listen({
      destroy: () => {},
      getKeymap: (keymap) => {
        this.keymaps.add(keymap);
        keymap.onDestroy(() => this.keymaps.delete(keymap));
        keymap.listen({ destroy: () => {} });
        if (this.keymapText !== null) this.sendKeymapChunks(keymap, this.keymapText);
      },
    });
  }

  bindWindowGeometry(wg: WthpWindowGeometryResource): void {
    wg.listen({
      destroy: () => {},
      setWindowGeometry: (surface, x, y, width, height) =>
        this.surfaceOf(surface).updateRole({ geometry: width > 0 && height > 0 ? { x, y, width, height } : null }),
    });
  }

  bindSurfaceRefusal(refusal: WthpSurfaceRefusalResource): void {
    this.refusal = refusal;
    refusal.listen({ destroy: () => {} });
    refusal.onDestroy(() => {
      if (this.refusal === refusal) this.refusal = null;
    });
  }

  /**
   * A surface past a limit: refused alone when the transmitter takes that
   * (it is told, the surface shows nothing from now on), else (false) the
   * caller drops the transmitter as before.
   */
  private refuseSurface(resource: WthpSurfaceResource, rs: RemoteSurface, limit: string, text: string): boolean {
    const refusal = this.refusal;
    if (refusal === null || refusal.destroyed) return false;
    if (rs.refused) return true;
    this.ctx.logger.warn({ peer: this.peer.label, surface: resource.toString(), limit }, `${this.name}: ${resource.toString()} refused alone: ${text}`);
    const time = wireTime(Date.now());
    for (const cb of rs.allCallbacks()) {
      if (!cb.destroyed) cb.sendDone(time);
      this.dropCallback(cb);
    }
    this.dropScene(rs);
    rs.refused = true;
    refusal.sendRefused(resource, limit, limitText(limit, text));
    return true;
  }

  bindPresentation(presentation: WthpPresentationResource): void {
    this.presentations.add(presentation);
    presentation.onDestroy(() => this.presentations.delete(presentation));
    this.presentation.bind(presentation, (surface) => this.surfaceOf(surface), this.failer(presentation, 'feedback'));
  }

  /** Window management requests: at once on the scene (not on the surface's commit), except the popup positioner. */
  bindWindowManager(wm: WthpWindowManagerResource): void {
    const toplevel = (t: WthpToplevelResource): SceneSurface | null => {
      const rs = this.toplevels.get(t);
      return rs === undefined || rs.destroyed || rs.scene.role?.kind !== 'toplevel' ? null : rs.scene;
    };
    wm.listen({
      destroy: () => {},
      setMinimized: (t) => toplevel(t)?.request({ kind: 'minimize' }),
      move: (t, serial) => toplevel(t)?.request({ kind: 'move', serial: serial >>> 0 }),
      resize: (t, serial, edges) => toplevel(t)?.request({ kind: 'resize', serial: serial >>> 0, edges: edges >>> 0 }),
      setPopupPositioner: (popup, width, height, ax, ay, aw, ah, anchor, gravity, adjustment, offsetX, offsetY) => {
        const rs = this.popups.get(popup);
        if (rs === undefined || rs.destroyed) return;
        if (width <= 0 || height <= 0 || aw < 0 || ah < 0) {
          return this.failer(wm, 'set_popup_positioner')(`invalid positioner size ${width}x${height} or anchor rectangle ${aw}x${ah}`);
        }
        rs.updateRole({
          positioner: { width, height, anchorRect: { x: ax, y: ay, width: aw, height: ah }, anchor, gravity, constraintAdjustment: adjustment, offsetX, offsetY },
        });
      },
    });
  }

  bindDecorationManager(manager: WthpDecorationManagerResource): void {
    manager.listen({
      destroy: () => {},
      getToplevelDecoration: (id, toplevel) => {
        const rs = this.toplevels.get(toplevel);
        if (rs === undefined) return this.failer(manager, 'get_toplevel_decoration')(`${toplevel.toString()} is not a live toplevel`);
        this.decorations.set(rs, id);
        id.onDestroy(() => {
          if (this.decorations.get(rs) === id) this.decorations.delete(rs);
        });
        id.listen({
          destroy: () => {},
          setMode: (mode) => {
            if (mode !== WthpToplevelDecorationMode.ClientSide && mode !== WthpToplevelDecorationMode.ServerSide) {
              return this.failer(id, 'set_mode')(`unknown mode ${mode}`);
            }
            rs.updateRole({ decoration: mode === WthpToplevelDecorationMode.ServerSide ? 'server' : 'client' });
          },
        });
      },
    });
  }

  bindPointerConstraints(manager: WthpPointerConstraintsResource): void {
    manager.listen({
      destroy: () => {},
      constrainPointer: (id, surface, kind) => {
        const rs = this.surfaceOf(surface);
        if (kind !== WthpPointerConstraintKind.Lock && kind !== WthpPointerConstraintKind.Confine) {
          return this.failer(manager, 'constrain_pointer')(`unknown kind ${kind}`);
        }
        const previous = this.constraints.get(rs);
        if (previous !== undefined && !previous.destroyed) return this.failer(manager, 'constrain_pointer')(`${surface.toString()} already has a pointer constraint`);
        this.constraints.set(rs, id);
        // Applied with the surface's next commit, which the transmitter sends right after.
        const announce = (): void => rs.updateRole({});
        rs.scene.pointerConstraint = kind === WthpPointerConstraintKind.Lock ? 'lock' : 'confine';
        announce();
        id.listen({ destroy: () => {} });
        id.onDestroy(() => {
          if (this.constraints.get(rs) !== id) return;
          this.constraints.delete(rs);
          rs.scene.pointerConstraint = null;
          announce();
        });
      },
    });
  }

  bindFractionalScaleManager(manager: WthpFractionalScaleManagerResource): void {
    this.fractionalScale.bind(manager, (surface) => this.surfaceOf(surface), (resource, message) => this.failer(resource, message));
  }

  bindViewporter(manager: WthpViewporterResource): void {
    bindViewporter(manager, (surface) => this.surfaceOf(surface), (resource, message) => this.failer(resource, message));
  }

  bindIdleInhibitManager(manager: WthpIdleInhibitManagerResource): void {
    manager.listen({
      destroy: () => {},
      createInhibitor: (id, surface) => {
        const rs = this.surfaceOf(surface);
        const count = (by: number): void => {
          const n = Math.max(0, (this.inhibitors.get(rs) ?? 0) + by);
          this.inhibitors.set(rs, n);
          if (rs.scene.destroyed || rs.scene.idleInhibit === n > 0) return;
          rs.scene.idleInhibit = n > 0;
          rs.updateRole({}); // announced with the surface's next commit
        };
        id.listen({ destroy: () => {} });
        count(1);
        id.onDestroy(() => count(-1));
      },
    });
  }

  bindTextInputManager(manager: WthpTextInputManagerResource): void {
    this.textInputs.bind(manager);
  }

  bindIviApplication(ivi: WthpIviApplicationResource): void {
    ivi.listen({
      surfaceCreate: (iviId, surface, id) => this.createIviSurface(ivi, iviId, surface, id),
    });
  }

  /** The server's seat capabilities changed. */
  sendCapabilities(caps: number): void {
    for (const seat of this.seats) seat.sendCapabilities(caps);
  }

  /** The local output changed. */
  sendOutput(info: OutputInfo): void {
    for (const output of this.outputs) this.describeOutput(output, info);
  }

  private describeOutput(output: WthpOutputResource, info: OutputInfo): void {
    output.sendGeometry(info.x, info.y, info.physicalWidth, info.physicalHeight, info.subpixel, info.make, info.model, info.transform);
    output.sendMode(WthpOutputMode.Current | WthpOutputMode.Preferred, info.width, info.height, info.refresh);
    if (output.version >= 2) {
      output.sendScale(info.scale);
      output.sendDone();
    }
  }

  // ---- Surfaces ----------------------------------------------------------------------------

  private createSurface(compositor: WthpCompositorResource, resource: WthpSurfaceResource): void {
    let over: [limit: string, text: string] | null = null;
    if (this.surfaces.size >= this.ctx.limits.maxSurfaces) over = ['max-surfaces', `more than ${this.ctx.limits.maxSurfaces} surfaces`];
    else {
      let total = 0;
      for (const c of this.ctx.clients) total += c.surfaces.size;
      if (total >= this.ctx.limits.maxSurfacesTotal) over = ['max-surfaces-total', `the transmitters have ${total} surfaces`];
    }
    if (over !== null && (this.refusal === null || this.refusal.destroyed)) {
      return this.failer(compositor, 'create_surface')(limitText(...over), WthDisplayError.NoMemory);
    }
    const scene = new SceneSurface(this);
    const rs = new RemoteSurface(scene);
    this.byResource.set(resource, rs);
    this.resourceOf.set(rs, resource);
    this.surfaces.set(scene, rs);
    resource.onDestroy(() => this.destroySurface(resource, rs));
    const fail = (message: string): Fail => this.failer(resource, message);
    resource.listen({
      destroy: () => {},
      attach: (buffer) => {
        if (buffer !== null) return fail('attach')('wthp_buffer content is not supported; send pixels with wthp_content');
        this.afterLossy(() => rs.dropPendingImage());
      },
      damage: (x, y, width, height) => this.addDamage(fail('damage'), rs.pending.surfaceDamage, { x, y, width, height }),
      damageBuffer: (x, y, width, height) => this.addDamage(fail('damage_buffer'), rs.pending.bufferDamage, { x, y, width, height }),
      frame: (callback) => {
        if (rs.refused) {
          callback.sendDone(wireTime(Date.now()));
          return this.dropCallback(callback);
        }
        if (rs.callbackCount() >= this.ctx.limits.maxCallbacksPerSurface) {
          return fail('frame')(`more than ${this.ctx.limits.maxCallbacksPerSurface} unanswered frame callbacks`, WthDisplayError.NoMemory);
        }
        rs.pending.frames.push(callback);
      },
      setOpaqueRegion: (region) => {
        rs.pending.opaque = region === null ? [] : [...(this.regions.get(region)?.rects ?? [])];
      },
      setInputRegion: (region) => {
        rs.pending.input = region === null ? null : [...(this.regions.get(region)?.rects ?? [])];
      },
      commit: () =>
        this.afterLossy(() => {
          const viewport = rs.viewportProblem(this.ctx.limits.maxSurfaceWidth, this.ctx.limits.maxSurfaceHeight);
          if (viewport !== null) return fail('commit')(`viewport of ${resource.toString()}: ${viewport}`);
          this.counters.commits++;
          rs.commit();
        }),
      setBufferTransform: (transform) => {
        if (transform < 0 || transform > 7) return fail('set_buffer_transform')(`invalid transform ${transform}`);
        rs.pending.transform = transform;
      },
      setBufferScale: (scale) => {
        if (scale < 1 || scale > 16) return fail('set_buffer_scale')(`invalid scale ${scale}`);
        rs.pending.scale = scale;
      },
    });
    this.ctx.scene.add(scene);
    if (over !== null) this.refuseSurface(resource, rs, ...over);
  }

  private addDamage(fail: Fail, list: Rect[], r: Rect): void {
    if (r.width <= 0 || r.height <= 0) return;
    if (list.length >= 4096) return fail('too many damage rectangles in one commit', WthDisplayError.NoMemory);
    list.push(r);
  }

  private destroySurface(resource: WthpSurfaceResource, rs: RemoteSurface): void {
    if (rs.refused) {
      this.byResource.delete(resource);
      this.resourceOf.delete(rs);
      return;
    }
    if (rs.destroyed) return;
    this.byResource.delete(resource);
    this.resourceOf.delete(rs);
    this.dropScene(rs);
  }

  /** The surface shows nothing any more: its scene surface, role, callbacks and buffers go. */
  private dropScene(rs: RemoteSurface): void {
    this.surfaces.delete(rs.scene);
    this.releaseRole(rs);
    for (const cb of rs.allCallbacks()) this.dropCallback(cb);
    rs.pending.frames = [];
    rs.presentable = [];
    if (rs.cached !== null) rs.cached.frames = [];
    for (const child of rs.children) child.parent = null;
    if (this.cursor === rs.scene) {
      this.cursor = null;
      this.ctx.scene.setCursor(this, null);
    }
    rs.scene.destroy();
    rs.dispose();
  }

  /** Forget the role bookkeeping of a surface (its role object, its place in a parent's stack). */
  private releaseRole(rs: RemoteSurface): void {
    this.roleObjects.delete(rs);
    for (const [toplevel, owner] of this.toplevels) if (owner === rs) this.toplevels.delete(toplevel);
    const role = rs.scene.role;
    if (role !== null && role.kind === 'ivi' && this.ctx.iviIds.get(role.iviId) === rs) this.ctx.iviIds.delete(role.iviId);
    if (rs.parent !== null) {
      rs.parent.dropChild(rs);
      rs.parent = null;
    }
  }

  private dropCallback(cb: WthpCallbackResource): void {
    if (!cb.destroyed && this.peer.isOpen) this.peer.destroyObject(cb);
  }

  private createRegion(resource: WthpRegionResource): void {
    const region = new Region(this.ctx.limits.maxRegionRects, 'throw');
    this.regions.set(resource, region);
    resource.onDestroy(() => this.regions.delete(resource));
    const guarded = (name: string, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        this.failer(resource, name)((err as Error).message, WthDisplayError.NoMemory);
      }
    };
    resource.listen({
      destroy: () => {},
      add: (x, y, width, height) => guarded('add', () => region.add({ x, y, width, height })),
      subtract: (x, y, width, height) => guarded('subtract', () => region.subtract({ x, y, width, height })),
    });
  }

  // ---- Content -----------------------------------------------------------------------------

  private begin(fail: Fail, surface: WthpSurfaceResource, width: number, height: number, format: number): void {
    const rs = this.surfaceOf(surface);
    if (rs.refused) return;
    const limits = this.ctx.limits;
    let fmt;
    try {
      fmt = checkBegin(width, height, format, { maxWidth: limits.maxSurfaceWidth, maxHeight: limits.maxSurfaceHeight });
    } catch (err) {
      const e = err as TileError;
      if (e.code === 'ERR_TILE_SIZE' && this.refuseSurface(surface, rs, 'max-surface-width', `${surface.toString()}: ${e.message}`)) return;
      return fail(`${surface.toString()}: ${e.message}`, e.code === 'ERR_TILE_SIZE' ? WthDisplayError.NoMemory : WthDisplayError.InvalidMethod);
    }
    const current = rs.pending.image;
    if (current !== undefined && current !== null && current.width === width && current.height === height) {
      rs.pending.image = { ...current, format: fmt };
      return;
    }
    const bytes = rs.bytesToAllocate(width, height);
    if (bytes > 0) {
      let total = bytes;
      for (const other of this.surfaces.values()) total += other === rs ? rs.pixelBytesBefore(width, height) : other.pixelBytes();
      if (total > limits.maxPixelBytes) {
        if (this.refuseSurface(surface, rs, 'max-pixel-mib', `${surface.toString()}: ${width}x${height} buffer exceeds the pixel memory limit of ${limits.maxPixelBytes} bytes`)) return;
        return fail(limitText('max-pixel-mib', `${surface.toString()}: ${width}x${height} buffer exceeds the pixel memory limit of ${limits.maxPixelBytes} bytes`), WthDisplayError.NoMemory);
      }
      for (const c of this.ctx.clients) if (c !== this) for (const other of c.surfaces.values()) total += other.pixelBytes();
      if (total > limits.maxPixelBytesTotal) {
        if (this.refuseSurface(surface, rs, 'max-pixel-mib-total', `${surface.toString()}: ${width}x${height} buffer would bring the pixel memory of all transmitters past ${limits.maxPixelBytesTotal} bytes`)) return;
        return fail(limitText('max-pixel-mib-total', `${surface.toString()}: ${width}x${height} buffer would bring the pixel memory of all transmitters past ${limits.maxPixelBytesTotal} bytes`), WthDisplayError.NoMemory);
      }
      // A new buffer is written whole (cleared or copied).
      if (!this.charge(fail, width * height)) return;
    }
    rs.pending.image = rs.nextImage(width, height, fmt);
  }

  private tile(fail: Fail, surface: WthpSurfaceResource, tile: { x: number; y: number; width: number; height: number; codec: number; data: Uint8Array }): void {
    const rs = this.surfaceOf(surface);
    if (rs.refused) return;
    const image: PixelImage | null | undefined = rs.pending.image;
    if (image === undefined || image === null) return fail(`${surface.toString()}: tile before wthp_content.begin`);
    // Charged by the area it writes, whatever its size on the wire (a solid fill of a screen is 4 bytes).
    if (tile.width > 0 && tile.height > 0 && !this.charge(fail, Math.min(tile.width * tile.height, image.width * image.height))) return;
    if (isLossy(tile.codec) && (this.ctx.codecs & codecBit(tile.codec)) !== 0) return this.lossyTile(fail, surface, rs, tile);
    let rect: Rect;
    try {
      rect = rs.writeTile(tile, this.ctx.codecs);
    } catch (err) {
      if (!(err instanceof TileError)) throw err;
      return fail(`${surface.toString()}: ${err.message}`, err.code === 'ERR_TILE_SIZE' ? WthDisplayError.NoMemory : WthDisplayError.InvalidMethod);
    }
    this.counters.tiles++;
    this.counters.tileBytes += tile.data.byteLength;
    if (rs.pending.bufferDamage.length < 4096) rs.pending.bufferDamage.push(rect);
    else rs.pending.bufferDamage = [{ x: 0, y: 0, width: image.width, height: image.height }];
  }

  /** Take `pixels` of work from this transmitter's budget; past it the peer is dropped (false). */
  private chargeOwn(fail: Fail, pixels: number): boolean {
    if (this.work.charge(pixels)) return true;
    const { workPixelsPerSecond: rate, workBurstPixels: burst } = this.ctx.limits;
    fail(limitText('work-rate', `more than ${rate / 1e6} Mpx/s written on average (burst ${burst / 1e6} Mpx)`), WthDisplayError.NoMemory);
    return false;
  }

  /** Take `pixels` of work from this transmitter's budget, then from the total; past either the peer is dropped (false). */
  private charge(fail: Fail, pixels: number): boolean {
    if (!this.chargeOwn(fail, pixels)) return false;
    if (this.workShare === null || this.workShare.charge(pixels)) return true;
    const { workPixelsPerSecondTotal: rate, workBurstPixelsTotal: burst } = this.ctx.limits;
    fail(limitText('work-rate-total', `all transmitters together wrote more than ${rate / 1e6} Mpx/s (burst ${burst / 1e6} Mpx), and this one more than its fair share`), WthDisplayError.NoMemory);
    return false;
  }

  /**
   * A lossy tile decodes on a worker thread, in parallel with the frame's
   * other lossy tiles; the decoded tiles are written into the pending buffer
   * in the order they came. What depends on them (the commit, a new begin, a
   * lossless tile, attach) waits for them through `afterLossy`, which holds
   * back the peer's following messages meanwhile; so do too many tiles
   * decoding at once.
   */
  private lossyTile(fail: Fail, surface: WthpSurfaceResource, rs: RemoteSurface, tile: Tile): void {
    const where = surface.toString();
    const image = rs.pending.image!;
    let decoding: Promise<DecodedTile>;
    try {
      decoding = rs.decodeLossyTile(tile, this.ctx.codecs);
    } catch (err) {
      if (!(err instanceof TileError)) throw err;
      return fail(`${where}: ${err.message}`, err.code === 'ERR_TILE_SIZE' ? WthDisplayError.NoMemory : WthDisplayError.InvalidMethod);
    }
    // Handled where the chain reaches it; this keeps an early failure from counting as unhandled.
    decoding.catch(() => undefined);
    const bytes = tile.data.byteLength;
    const pixelBytes = tile.width * tile.height * 3; // decoded as packed R, G, B
    this.lossyTiles++;
    this.lossyBytes += pixelBytes;
    const step: Promise<void> = (this.lossyChain ?? Promise.resolve())
      .then(() => decoding)
      .then((decoded) => {
        if (this.isGone || !this.peer.isOpen) return;
        const rect = rs.placeLossyTile(image, decoded);
        if (rect === null) return;
        this.counters.tiles++;
        this.counters.tileBytes += bytes;
        if (rs.pending.bufferDamage.length < 4096) rs.pending.bufferDamage.push(rect);
        else rs.pending.bufferDamage = [{ x: 0, y: 0, width: image.width, height: image.height }];
      })
      .catch((err: unknown) => {
        if (this.isGone || !this.peer.isOpen) return;
        if (err instanceof TileError) {
          fail(`${where}: ${err.message}`, err.code === 'ERR_TILE_SIZE' ? WthDisplayError.NoMemory : WthDisplayError.InvalidMethod);
          return;
        }
        const text = err instanceof Error ? err.message : String(err);
        this.ctx.logger.error({ err }, `${this.name}: ${where}: lossy tile failed: ${text}`);
        fail(`${where}: implementation error: ${text}`, WthDisplayError.Implementation);
      })
      .finally(() => {
        this.lossyTiles--;
        this.lossyBytes -= pixelBytes;
        if (this.lossyChain === step) this.lossyChain = null;
      });
    this.lossyChain = step;
    if (this.lossyTiles >= MAX_LOSSY_TILES || this.lossyBytes >= MAX_LOSSY_BYTES) this.afterLossy(() => {});
  }

  /**
   * Run `fn` (a handler that reads, replaces or commits a pending buffer) once
   * the lossy tiles decoding now are written: at once when there are none,
   * else later, with the peer's following messages held back until then so
   * that they keep their order.
   */
  private afterLossy(fn: () => void): void {
    const chain = this.lossyChain;
    if (chain === null) return fn();
    this.peer.suspend();
    void chain
      .then(() => {
        if (this.isGone || !this.peer.isOpen) return;
        try {
          fn();
        } catch (err) {
          const text = err instanceof Error ? err.message : String(err);
          this.ctx.logger.error({ err }, `${this.name}: handler failed after lossy tiles: ${text}`);
          this.peer.destroy(err instanceof Error ? err : new Error(text));
        }
      })
      .finally(() => this.peer.resume());
  }

  // ---- Roles -------------------------------------------------------------------------------

  /** Whether `ancestor` is `rs` or one of the surfaces `rs` hangs from (popup or subsurface parents). */
  private isAncestor(ancestor: SceneSurface, rs: SceneSurface): boolean {
    for (let s: SceneSurface | null = rs; s !== null; ) {
      if (s === ancestor) return true;
      const role: SceneSurface['role'] = s.role;
      s = role !== null && (role.kind === 'subsurface' || role.kind === 'popup') ? role.parent : null;
    }
    return false;
  }

  private getToplevel(shell: WthpRemoteShellResource, id: WthpToplevelResource, surface: WthpSurfaceResource): void {
    const rs = this.surfaceOf(surface);
    if (rs.scene.role !== null) {
      return this.failer(shell, 'get_toplevel')(`${surface.toString()} already has the ${rs.scene.role.kind} role`, WthpRemoteShellError.Role);
    }
    const role = toplevelRole();
    rs.scene.role = role;
    this.toplevels.set(id, rs);
    this.roleObjects.set(rs, id);
    const set = (u: RoleUpdate): void => rs.updateRole(u);
    id.listen({
      destroy: () => this.unmapRole(rs),
      setTitle: (title) => set({ title }),
      setAppId: (appId) => set({ appId }),
      setParent: (parent) => {
        const p = parent === null ? null : (this.toplevels.get(parent) ?? null);
        if (p !== null && this.isAncestorToplevel(rs.scene, p.scene)) {
          return this.failer(id, 'set_parent')('the parent would be a descendant of the window', WthDisplayError.InvalidMethod);
        }
        set({ parent: p === null ? null : p.scene });
      },
      setMinSize: (width, height) => set({ minSize: { width, height } }),
      setMaxSize: (width, height) => set({ maxSize: { width, height } }),
      setWindowGeometry: (x, y, width, height) => set({ geometry: width > 0 && height > 0 ? { x, y, width, height } : null }),
      setFullscreen: (v) => set({ fullscreen: v !== 0 }),
      setMaximized: (v) => set({ maximized: v !== 0 }),
    });
  }

  private isAncestorToplevel(window: SceneSurface, candidate: SceneSurface): boolean {
    for (let s: SceneSurface | null = candidate; s !== null; ) {
      if (s === window) return true;
      const role: SceneSurface['role'] = s.role;
      s = role !== null && role.kind === 'toplevel' ? role.parent : null;
    }
    return false;
  }

  /** A role object was destroyed: the surface has no role and shows nothing (xdg_toplevel.destroy). */
  private unmapRole(rs: RemoteSurface): void {
    if (rs.destroyed) return;
    const wasMapped = rs.scene.buffer !== null;
    this.releaseRole(rs);
    rs.scene.role = null;
    rs.scene.content = null;
    rs.pending.role = undefined;
    rs.scene.commit({ damage: [], resized: wasMapped, roleChanged: true, stackingChanged: false });
  }

  private getPopup(shell: WthpRemoteShellResource, id: WthpPopupResource, surface: WthpSurfaceResource, parent: WthpSurfaceResource, rect: Rect, grab: boolean): void {
    const fail = this.failer(shell, 'get_popup');
    const rs = this.surfaceOf(surface);
    const ps = this.surfaceOf(parent);
    if (rs.scene.role !== null) return fail(`${surface.toString()} already has the ${rs.scene.role.kind} role`, WthpRemoteShellError.Role);
    if (this.isAncestor(rs.scene, ps.scene)) return fail(`${parent.toString()} cannot be the parent of ${surface.toString()}`);
    rs.scene.role = { kind: 'popup', parent: ps.scene, rect, grab };
    this.roleObjects.set(rs, id);
    this.popups.set(id, rs);
    id.listen({
      destroy: () => this.unmapRole(rs),
      reposition: (x, y, width, height) => rs.updateRole({ rect: { x, y, width, height } }),
    });
  }

  private getSubsurface(shell: WthpRemoteShellResource, id: WthpSubsurfaceResource, surface: WthpSurfaceResource, parent: WthpSurfaceResource): void {
    const fail = this.failer(shell, 'get_subsurface');
    const rs = this.surfaceOf(surface);
    const ps = this.surfaceOf(parent);
    if (rs.scene.role !== null) return fail(`${surface.toString()} already has the ${rs.scene.role.kind} role`, WthpRemoteShellError.Role);
    if (this.isAncestor(rs.scene, ps.scene)) return fail(`${parent.toString()} cannot be the parent of ${surface.toString()}`);
    rs.scene.role = { kind: 'subsurface', parent: ps.scene, x: 0, y: 0, sync: true };
    rs.parent = ps;
    ps.children.add(rs);
    // A new subsurface goes on top of its siblings when the parent's state is applied.
    ps.pendingStack = [...(ps.pendingStack ?? ps.scene.stack), rs.scene];
    const sfail = (message: string): Fail => this.failer(id, message);
    const place = (message: string, sibling: WthpSurfaceResource, above: boolean): void => {
      const sib = this.byResource.get(sibling);
      if (rs.parent === null || sib === undefined) return;
      const parentRs = rs.parent;
      if (sib !== parentRs && sib.parent !== parentRs) {
        return sfail(message)(`${sibling.toString()} is neither the parent nor a sibling`);
      }
      if (sib === rs) return sfail(message)('a subsurface cannot be placed relative to itself');
      const stack = (parentRs.pendingStack ?? parentRs.scene.stack).filter((s) => s !== rs.scene);
      const at = stack.indexOf(sib.scene);
      if (at < 0) return; // the sibling's own place is not applied yet
      stack.splice(above ? at + 1 : at, 0, rs.scene);
      parentRs.pendingStack = stack;
    };
    id.listen({
      destroy: () => this.destroySubsurfaceRole(rs),
      setPosition: (x, y) => {
        rs.pendingPosition = { x, y };
      },
      placeAbove: (sibling) => place('place_above', sibling, true),
      placeBelow: (sibling) => place('place_below', sibling, false),
      setSync: () => {
        const role = rs.scene.role;
        if (role !== null && role.kind === 'subsurface') role.sync = true;
      },
      setDesync: () => {
        const role = rs.scene.role;
        if (role !== null && role.kind === 'subsurface') role.sync = false;
        rs.flushIfDesynchronized();
      },
    });
  }

  private destroySubsurfaceRole(rs: RemoteSurface): void {
    if (rs.destroyed) return;
    this.releaseRole(rs);
    rs.scene.role = null;
    rs.scene.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
  }

  private createIviSurface(ivi: WthpIviApplicationResource, iviId: number, surface: WthpSurfaceResource, id: WthpIviSurfaceResource): void {
    const fail = this.failer(ivi, 'surface_create');
    const rs = this.surfaceOf(surface);
    if (rs.refused) {
      // Shows nothing: it takes no ivi id.
      id.listen({ destroy: () => {} });
      return;
    }
    if (rs.scene.role !== null) return fail(`${surface.toString()} already has the ${rs.scene.role.kind} role`, WthpIviApplicationError.Role);
    const owner = this.ctx.iviOwner?.(iviId) ?? null;
    if (owner !== null && owner !== this.peer.identity) {
      // Refused for this surface alone: it gets no role (never shown); the link and the other surfaces stay.
      const who = this.peer.identity === null ? 'a transmitter that proved no identity' : this.peer.identity;
      this.ctx.logger.warn({ peer: this.peer.label, iviId, owner }, `${this.name}: ivi-id ${iviId} belongs to ${owner}; refused the claim by ${who} (that surface is not shown)`);
      id.listen({ destroy: () => {} });
      return;
    }
    const holder = this.ctx.iviIds.get(iviId);
    if (holder !== undefined && !holder.destroyed) return fail(`ivi id ${iviId} is already in use`, WthpIviApplicationError.IviId);
    this.ctx.iviIds.set(iviId, rs);
    rs.scene.role = { kind: 'ivi', iviId };
    this.roleObjects.set(rs, id);
    id.listen({ destroy: () => this.unmapRole(rs) });
  }

  // ---- Input devices -----------------------------------------------------------------------

  private addPointer(pointer: WthpPointerResource): void {
    this.pointers.add(pointer);
    pointer.onDestroy(() => this.pointers.delete(pointer));
    pointer.listen({
      release: () => {},
      setCursor: (_serial, surface, hotspotX, hotspotY) => {
        if (surface === null) {
          this.cursor = null;
          this.ctx.scene.setCursor(this, null);
          return;
        }
        const rs = this.surfaceOf(surface);
        const role = rs.scene.role;
        if (role !== null && role.kind !== 'cursor') {
          return this.failer(pointer, 'set_cursor')(`${surface.toString()} already has the ${role.kind} role`, POINTER_ROLE_ERROR);
        }
        if (role === null) rs.scene.role = { kind: 'cursor', hotspotX, hotspotY };
        else {
          role.hotspotX = hotspotX;
          role.hotspotY = hotspotY;
        }
        this.cursor = rs.scene;
        this.ctx.scene.setCursor(this, rs.scene);
      },
    });
  }

  private addKeyboard(keyboard: WthpKeyboardResource): void {
    this.keyboards.add(keyboard);
    keyboard.onDestroy(() => this.keyboards.delete(keyboard));
    keyboard.listen({ release: () => {} });
    if (this.keymapText !== null) this.sendReferenceKeymap(keyboard, this.keymapText);
    if (this.repeat !== null && keyboard.version >= 4) keyboard.sendRepeatInfo(this.repeat.rate, this.repeat.delay);
  }

  /** wthp_keyboard.keymap, for transmitters without wthp_input_extension, when the keymap fits one message. */
  private sendReferenceKeymap(keyboard: WthpKeyboardResource, text: string): void {
    const { chunks, size } = keymapChunks(text);
    if (size > KEYMAP_CHUNK) return;
    keyboard.sendKeymap(WthpKeyboardKeymapFormat.XkbV1, chunks[0] ?? new Uint8Array(0));
  }

  private sendKeymapChunks(keymap: WthpKeymapResource, text: string): void {
    const { chunks, size } = keymapChunks(text);
    for (const chunk of chunks) keymap.sendChunk(chunk);
    keymap.sendDone(WthpKeyboardKeymapFormat.XkbV1, size);
  }

  // ---- Feedback: what the local display reports, as events for the transmitter ----------------

  private resource(surface: SceneSurface): WthpSurfaceResource | null {
    const rs = this.surfaces.get(surface);
    const res = rs === undefined ? undefined : this.resourceOf.get(rs);
    return res === undefined || res.destroyed ? null : res;
  }

  private makeFeedback(): SceneFeedback {
    const serial = (): number => this.peer.nextSerial();
    const live = <T extends { destroyed: boolean }>(set: Set<T>): T[] => [...set].filter((r) => !r.destroyed);
    return {
      presented: (surface, timeMs, info) => {
        const rs = this.surfaces.get(surface);
        if (rs === undefined) return;
        this.counters.presented++;
        // Presentation feedback first: the transmitter has it when the frame callbacks arrive.
        this.presentation.presented(rs, info);
        this.answerFrames(rs, wireTime(timeMs));
        this.ctx.steady?.offer(this, rs);
      },
      configure: (surface, width, height, states) => {
        const rs = this.surfaces.get(surface);
        const obj = rs === undefined ? undefined : this.roleObjects.get(rs);
        if (obj === undefined || obj.destroyed) return;
        const role = surface.role;
        const w = Math.round(width);
        const h = Math.round(height);
        if (role?.kind === 'toplevel') (obj as WthpToplevelResource).sendConfigure(w, h, statesToBits(states));
        else if (role?.kind === 'ivi') (obj as WthpIviSurfaceResource).sendConfigure(w, h);
      },
      pointerRelativeMotion: (surface, timeUs, dx, dy, dxUnaccel, dyUnaccel) => {
        const rs = this.surfaces.get(surface);
        const c = rs === undefined ? undefined : this.constraints.get(rs);
        if (c === undefined || c.destroyed) return;
        c.sendRelativeMotion(Number((timeUs >> 32n) & 0xffffffffn), Number(timeUs & 0xffffffffn), dx, dy, dxUnaccel, dyUnaccel);
      },
      textInputDone: (surface, events) => this.textInputs.done(surface, events),
      pointerConstraintActive: (surface, active) => {
        const rs = this.surfaces.get(surface);
        const c = rs === undefined ? undefined : this.constraints.get(rs);
        if (c !== undefined && !c.destroyed) c.sendActive(active ? 1 : 0);
      },
      preferredScale: (surface, scale) => {
        const rs = this.surfaces.get(surface);
        if (rs !== undefined) this.fractionalScale.preferredScale(rs, scale);
      },
      decorationMode: (surface, mode) => {
        const rs = this.surfaces.get(surface);
        const d = rs === undefined ? undefined : this.decorations.get(rs);
        if (d !== undefined && !d.destroyed) d.sendConfigure(mode === 'server' ? WthpToplevelDecorationMode.ServerSide : WthpToplevelDecorationMode.ClientSide);
      },
      close: (surface) => {
        const rs = this.surfaces.get(surface);
        const obj = rs === undefined ? undefined : this.roleObjects.get(rs);
        if (obj !== undefined && !obj.destroyed && surface.role?.kind === 'toplevel') (obj as WthpToplevelResource).sendClose();
      },
      popupConfigure: (surface, rect) => {
        const rs = this.surfaces.get(surface);
        const obj = rs === undefined ? undefined : this.roleObjects.get(rs);
        if (obj !== undefined && !obj.destroyed && surface.role?.kind === 'popup') (obj as WthpPopupResource).sendConfigure(Math.round(rect.x), Math.round(rect.y), Math.round(rect.width), Math.round(rect.height));
      },
      popupDone: (surface) => {
        const rs = this.surfaces.get(surface);
        const obj = rs === undefined ? undefined : this.roleObjects.get(rs);
        if (obj !== undefined && !obj.destroyed && surface.role?.kind === 'popup') (obj as WthpPopupResource).sendPopupDone();
      },
      pointerEnter: (surface, x, y) => {
        const res = this.resource(surface);
        if (res === null) return;
        const s = serial();
        for (const p of live(this.pointers)) p.sendEnter(s, res, x, y);
      },
      pointerLeave: (surface) => {
        const res = this.resource(surface);
        if (res === null) return;
        const s = serial();
        for (const p of live(this.pointers)) p.sendLeave(s, res);
      },
      pointerMotion: (timeMs, x, y) => {
        for (const p of live(this.pointers)) p.sendMotion(wireTime(timeMs), x, y);
      },
      pointerButton: (timeMs, button, state) => {
        if (state === 'pressed') this.ctx.focus?.press(this);
        const s = serial();
        for (const p of live(this.pointers)) p.sendButton(s, wireTime(timeMs), button, state === 'pressed' ? WthpPointerButtonState.Pressed : WthpPointerButtonState.Released);
        return s;
      },
      pointerAxis: (timeMs, axis, value) => {
        for (const p of live(this.pointers)) p.sendAxis(wireTime(timeMs), axis, value);
      },
      // axis_source, axis_stop and axis_discrete are wthp_pointer v5 (as wl_pointer): older binds get the axis alone.
      pointerAxisSource: (source) => {
        if (!isAxisSource(source)) return;
        for (const p of live(this.pointers)) if (p.version >= 5) p.sendAxisSource(axisSourceFor(p.version, source));
      },
      pointerAxisStop: (timeMs, axis) => {
        for (const p of live(this.pointers)) if (p.version >= 5) p.sendAxisStop(wireTime(timeMs), axis);
      },
      pointerAxisDiscrete: (axis, discrete) => {
        for (const p of live(this.pointers)) if (p.version >= 5) p.sendAxisDiscrete(axis, discrete | 0);
      },
      pointerFrame: () => {
        for (const p of live(this.pointers)) if (p.version >= 5) p.sendFrame();
      },
      keyboardEnter: (surface, pressed) => {
        const enter = (): void => {
          const res = this.resource(surface);
          if (res === null) return;
          const s = serial();
          const keys = encodeU32Array(pressed);
          for (const k of live(this.keyboards)) k.sendEnter(s, res, keys);
        };
        if (this.ctx.focus !== undefined && !this.ctx.focus.enter(this, enter)) {
          this.ctx.logger.info({ peer: this.peer.label }, `${this.name}: keyboard focus held back until the user presses on its surface (another transmitter had it)`);
          return;
        }
        enter();
      },
      keyboardLeave: (surface) => {
        const held = this.ctx.focus !== undefined && !this.ctx.focus.mayType(this);
        this.ctx.focus?.leave(this);
        const res = this.resource(surface);
        if (res === null || held) return;
        const s = serial();
        for (const k of live(this.keyboards)) k.sendLeave(s, res);
      },
      key: (timeMs, key, state) => {
        if (this.ctx.focus !== undefined && !this.ctx.focus.mayType(this)) return;
        const s = serial();
        for (const k of live(this.keyboards)) k.sendKey(s, wireTime(timeMs), key, state === 'pressed' ? WthpKeyboardKeyState.Pressed : WthpKeyboardKeyState.Released);
      },
      modifiers: (depressed, latched, locked, group) => {
        if (this.ctx.focus !== undefined && !this.ctx.focus.mayType(this)) return;
        const s = serial();
        for (const k of live(this.keyboards)) k.sendModifiers(s, depressed >>> 0, latched >>> 0, locked >>> 0, group >>> 0);
      },
      keymap: (text) => {
        this.keymapText = text;
        for (const k of live(this.keymaps)) this.sendKeymapChunks(k, text);
        for (const k of live(this.keyboards)) this.sendReferenceKeymap(k, text);
      },
      repeatInfo: (rate, delay) => {
        this.repeat = { rate, delay };
        for (const k of live(this.keyboards)) if (k.version >= 4) k.sendRepeatInfo(rate, delay);
      },
      touchDown: (surface, timeMs, id, x, y) => {
        this.ctx.focus?.press(this);
        const res = this.resource(surface);
        if (res === null) return;
        const s = serial();
        for (const t of live(this.touches)) t.sendDown(s, wireTime(timeMs), res, id, x, y);
        return s;
      },
      touchUp: (timeMs, id) => {
        const s = serial();
        for (const t of live(this.touches)) t.sendUp(s, wireTime(timeMs), id);
      },
      touchMotion: (timeMs, id, x, y) => {
        for (const t of live(this.touches)) t.sendMotion(wireTime(timeMs), id, x, y);
      },
      touchFrame: () => {
        for (const t of live(this.touches)) t.sendFrame();
      },
      touchCancel: () => {
        for (const t of live(this.touches)) t.sendCancel();
      },
    };
  }

  /** wthp_callback.done for the applied commits of a surface and of its subsurfaces (shown with it). */
  private answerFrames(rs: RemoteSurface, time: number): void {
    const callbacks = rs.presentable;
    rs.presentable = [];
    for (const cb of callbacks) {
      if (cb.destroyed) continue;
      cb.sendDone(time);
      this.dropCallback(cb);
    }
    for (const child of rs.children) if (!child.destroyed) this.answerFrames(child, time);
  }

  // ---- Steady frames (steady.ts) -----------------------------------------------------------

  steadyWaltham(rs: RemoteSurface): { surface: number; contents: number[]; presentations: number[]; codecs: number; maxCallbacks: number } | null {
    const resource = this.resourceOf.get(rs);
    const role = rs.scene.role;
    if (this.isGone || resource === undefined || resource.destroyed || this.lossyChain !== null || this.cursor === rs.scene) return null;
    if (role === null || (role.kind !== 'toplevel' && role.kind !== 'ivi') || !this.presentation.idle(rs)) return null;
    return {
      surface: resource.id,
      contents: [...this.contents].map((c) => c.id),
      presentations: [...this.presentations].map((p) => p.id),
      // Lossy tiles decode on a worker thread: never natively.
      codecs: this.ctx.codecs & ~LOSSY_CODECS,
      maxCallbacks: this.ctx.limits.maxCallbacksPerSurface,
    };
  }

  steadyBudget(): number {
    return this.work.available();
  }

  steadyCharge(pixels: number): boolean {
    for (const content of this.contents) return this.charge(this.failer(content, 'tile'), pixels);
    return true;
  }

  steadyRestore(rs: RemoteSurface, st: SteadyState): void {
    const peer = this.peer;
    const pendingFrames = peer.takeObjects(WthpCallbackResource, st.pendingCallbacks, 1, st.lastId);
    const flightFrames = peer.takeObjects(WthpCallbackResource, st.flightCallbacks, 1, st.lastId);
    const pendingFeedbacks = peer.takeObjects(WthpPresentationFeedbackResource, st.pendingFeedbacks, 1, st.lastId);
    const flightFeedbacks = peer.takeObjects(WthpPresentationFeedbackResource, st.flightFeedbacks, 1, st.lastId);
    this.counters.commits += st.commits;
    this.counters.tiles += st.tiles;
    this.counters.tileBytes += st.tileBytes;
    this.counters.presented += st.presented;
    // Per buffer: a count, then that many x, y, width, height.
    const stale: Rect[][] = [];
    for (let at = 0; at < st.stale.length; ) {
      const n = st.stale[at++]!;
      stale.push(quadsToRects(st.stale, at, n));
      at += 4 * n;
    }
    const damage = quadsToRects(st.pendingDamage, 0, st.pendingDamage.length >> 2);
    rs.steadyRestore(stale, st.current, st.pending, damage, pendingFrames);
    rs.presentable = flightFrames;
    this.presentation.adopt(rs, pendingFeedbacks, flightFeedbacks);
  }

  // ---- Teardown ----------------------------------------------------------------------------

  /** The transmitter is gone: its surfaces vanish from the scene. */
  teardown(): void {
    if (this.isGone) return;
    this.isGone = true;
    this.ctx.focus?.forget(this);
    this.workShare?.leave();
    const all = [...this.byResource.entries()];
    this.byResource.clear();
    for (const [resource, rs] of all) this.destroySurface(resource, rs);
    if (this.ctx.scene.cursors.has(this)) {
      this.ctx.scene.setCursor(this, null);
      this.ctx.scene.cursors.delete(this);
    }
  }

  stats(): { surfaces: number; commits: number; tiles: number; tileBytes: number; presented: number } {
    const live = this.ctx.steady?.counters(this) ?? [0, 0, 0, 0];
    const c = this.counters;
    return { surfaces: this.byResource.size, commits: c.commits + live[0]!, tiles: c.tiles + live[1]!, tileBytes: c.tileBytes + live[2]!, presented: c.presented + live[3]! };
  }
}

/** `n` rectangles from `list` at `at`, each as x, y, width, height (fewer when the list ends first). */
function quadsToRects(list: ArrayLike<number>, at: number, n: number): Rect[] {
  const rects: Rect[] = [];
  for (let i = 0; i < n && at + 4 * i + 3 < list.length; i++) {
    const q = at + 4 * i;
    rects.push({ x: list[q]!, y: list[q + 1]!, width: list[q + 2]!, height: list[q + 3]! });
  }
  return rects;
}
