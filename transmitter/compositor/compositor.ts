/**
 * wl_compositor v4: surfaces, regions and frame callbacks.
 *
 * Every wl_surface is a `SceneSurface` in the display's scene from its
 * creation. Its state is double-buffered (wayland.xml, wl_surface): requests
 * fill the pending state, wl_surface.commit applies it, or, for a surface
 * that is effectively synchronized (a sync subsurface or a child of one),
 * moves it into a cache applied when the parent's state is applied.
 *
 * Content: at the commit that applies a new buffer, its pixels are copied
 * into the scene content (only the damaged rectangles when the size and
 * format did not change) and the buffer is released: with the commit's frame
 * callbacks when it asked for any (one write and one wake-up of the client a
 * frame; the frame clock answers them in time whatever consumers do), else at
 * once. A commit that goes into the cache copies the whole buffer into the
 * cache and releases it at once.
 *
 * Frame callbacks of an applied commit wait for a consumer to call
 * `feedback.presented`; the frame clock answers them itself for surfaces no
 * consumer shows (see frame-clock.ts).
 */
import { Region, clipRects, collapse, rect } from '../../shared/scene/region.js';
import { emptyBufferedState, mergeBufferedStates, type BufferedState } from '../../shared/scene/surface-state.js';
import type { Content, PixelFormat, PresentationInfo, Rect } from '../../shared/scene/scene.js';
import { SceneSurface } from '../../shared/scene/scene.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  WlBufferResource,
  WlCallbackResource,
  WlCompositorResource,
  WlRegionResource,
  WlSurfaceError,
  WlSurfaceResource,
  WpPresentationFeedbackResource,
} from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import type { DisplayContext } from './context.js';
import { surfaceRectToBuffer } from './geometry.js';
import { surfaceGone, surfaceMapped, surfaceUnmapped } from './output.js';
import { answerFeedbacks, discardFeedbacks } from './presentation.js';
import { ShmBuffer, shmBufferOf } from './shm.js';
import type { ShmMapping } from '../../shared/native.js';
import type { WaylandConnection } from '../../shared/wayland/connection.js';
import { admitPixels, admitSurface, DEFAULT_CLIENT_LIMITS } from './client-limits.js';
import { appliedViewport, checkViewport, type ViewportState } from './viewporter.js';
import { pixelsPinned } from '../../shared/scene/pinned-pixels.js';
import { soon } from '../../shared/microtask.js';

/** Longer damage lists collapse to their bounding box: consumers only need a superset of what changed. */
const MAX_DAMAGE_RECTS = 256;
/**
 * A commit's damage is cut to what changed (shm.ts, copyChangedTo) on the grid of the link's
 * tiles, in at most this many rectangles (a link keeps 64 before it sends the whole surface).
 */
const CHANGED_GRID = 64;
const MAX_CHANGED_RECTS = 48;

/** A full copy of a buffer taken when its commit went into a subsurface cache. */
interface Snapshot {
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
  readonly pixels: Uint8Array;
}

/** One set of double-buffered wl_surface state (pending, or cached for a synchronized subsurface). */
export interface SurfaceState extends BufferedState<WlCallbackResource> {
  /** wp_presentation feedbacks of this commit. */
  feedbacks: WpPresentationFeedbackResource[];
  /** undefined: no attach in this state; null: detach (unmap). */
  attach: ShmBuffer | Snapshot | null | undefined;
  dx: number;
  dy: number;
  /** wp_viewport crop and scale (undefined: not set in this state). */
  viewport?: ViewportState | undefined;
}

function emptyState(): SurfaceState {
  return { ...emptyBufferedState<WlCallbackResource>(), feedbacks: [], attach: undefined, dx: 0, dy: 0 };
}

/** `newer` applied on top of `older` (the cache of a synchronized subsurface). */
function mergeStates(older: SurfaceState, newer: SurfaceState): SurfaceState {
  return {
    ...mergeBufferedStates(older, newer),
    feedbacks: [...older.feedbacks, ...newer.feedbacks],
    attach: newer.attach !== undefined ? newer.attach : older.attach,
    dx: older.dx + newer.dx,
    dy: older.dy + newer.dy,
    viewport: newer.viewport ?? older.viewport,
  };
}

/** Buffers of the current size a surface remembers for the steady commit path. */
const RECENT_BUFFERS = 4;

/**
 * What the transmitter's steady commit path (transmitter/remote/steady.ts) needs to take a
 * surface's next commits natively: the client's socket and ids, the buffers it attached lately
 * and the content they are copied into.
 */
export interface SteadySource {
  readonly connection: WaylandConnection;
  readonly wlSurface: number;
  /** The client's wp_presentation objects. */
  readonly presentations: number[];
  /** Ids the client may use for its next frame callbacks (those answered last). */
  readonly freeIds: number[];
  readonly buffers: { readonly id: number; readonly mapping: ShmMapping; readonly stride: number }[];
  readonly content: Content;
}

/** The frame the steady path had in flight when it gave the surface back. */
export interface SteadyFlight {
  readonly callbacks: readonly number[];
  readonly feedbacks: readonly number[];
  /** The wl_buffer held for it. */
  readonly buffer: number;
  /** How long it has been in flight. */
  readonly ageMs: number;
}

/** What a role (xdg_surface, wl_subsurface, cursor, ivi_surface) adds to the commit of its surface. */
export interface SurfaceRoleHandler {
  /** Checks on the pending state before it moves (returns false after posting a protocol error). */
  precommit?(state: SurfaceState): boolean;
  /** The state was applied (content, regions); apply the role's own double-buffered state. Returns whether role fields changed. */
  apply?(state: SurfaceState): boolean;
  /** Consumers have been told about the commit. `wasMapped`: whether the surface was mapped before it. */
  committed?(wasMapped: boolean): void;
  /** The wl_surface is being destroyed. */
  surfaceDestroyed?(): void;
}

const surfaces = new WeakMap<SceneSurface, Surface>();
const surfacesByResource = new WeakMap<WlSurfaceResource, Surface>();

export interface SubsurfaceLink {
  /** The parent, or null once the parent is gone (the subsurface is then inert). */
  readonly parent: Surface | null;
  readonly sync: boolean;
  /** Apply the position set since the parent's last commit; returns whether it changed. */
  applyPosition(): boolean;
  /** The parent is gone. */
  parentGone(): void;
}

export class Surface {
  readonly scene: SceneSurface;
  /** The role's type once assigned ('xdg_surface', 'wl_subsurface', 'cursor', 'ivi_surface'); it never changes. */
  roleType: string | null = null;
  handler: SurfaceRoleHandler | null = null;
  /** Set when this surface is a subsurface. */
  subsurface: SubsurfaceLink | null = null;

  private pending = emptyState();
  /** The copy of the last buffer, before any viewport (`scene.content` is what consumers see). */
  private raw: Content | null = null;
  private cached: SurfaceState | null = null;
  private transform = 0;
  private scale = 1;

  /** This surface and its subsurfaces, bottom to top, as requested (applied on commit). */
  pendingStack: Surface[] = [this];
  /** The same, as applied. */
  private currentStack: Surface[] = [this];

  /** Callbacks of applied commits, waiting for the frame to be presented. */
  private frameCallbacks: WlCallbackResource[] = [];
  /**
   * Buffers copied by commits that asked for a frame callback: released with
   * the callback (one write to the client and one wake-up of it a frame, not
   * two; weston keeps a wl_shm buffer longer, until the next one replaces it).
   */
  private heldReleases: ShmBuffer[] = [];
  /** Shared-memory buffers of the current size attached lately, oldest first. */
  private recent: ShmBuffer[] = [];
  /** Ids of the frame callbacks and feedbacks answered last: the client reuses them. */
  private answered: number[] = [];
  /** wp_presentation feedbacks of applied commits not presented yet, oldest commit first. */
  private feedbackGroups: WpPresentationFeedbackResource[][] = [];
  /** When the oldest of `frameCallbacks` was applied (ms, monotonic). */
  framesWaitingSince = 0;
  /** Role fields changed outside a commit (title, app_id): reported with the next commit. */
  private roleDirty = false;
  private roleFlushScheduled = false;

  constructor(
    private readonly ctx: DisplayContext,
    readonly client: ClientState,
    readonly resource: WlSurfaceResource,
  ) {
    this.scene = new SceneSurface(client);
    surfaces.set(this.scene, this);
    surfacesByResource.set(resource, this);
    client.surfaces.add(this);
    resource.listen({
      destroy: () => {},
      attach: (buffer, x, y) => this.attach(buffer, x, y),
      damage: (x, y, width, height) => {
        this.pending.surfaceDamage.push(rect(x, y, width, height));
        this.capDamage();
      },
      damageBuffer: (x, y, width, height) => {
        this.pending.bufferDamage.push(rect(x, y, width, height));
        this.capDamage();
      },
      frame: (callback) => {
        this.pending.frames.push(callback);
      },
      setOpaqueRegion: (region) => {
        this.pending.opaque = region === null ? [] : regionOf(region).copy();
      },
      setInputRegion: (region) => {
        this.pending.input = region === null ? null : regionOf(region).copy();
      },
      setBufferTransform: (transform) => {
        if (transform < 0 || transform > 7) {
          resource.postError(WlSurfaceError.InvalidTransform, `buffer transform must be a valid transform (${transform} specified)`);
          return;
        }
        this.pending.transform = transform;
      },
      setBufferScale: (scale) => {
        if (scale < 1) {
          resource.postError(WlSurfaceError.InvalidScale, `buffer scale must be at least one (${scale} specified)`);
          return;
        }
        this.pending.scale = scale;
      },
      commit: () => this.commit(),
    });
    resource.onDestroy(() => this.destroyed());
    ctx.scene.add(this.scene);
  }

  /** The virtual display's surface behind a scene surface (undefined for surfaces of other producers). */
  static fromScene(scene: SceneSurface): Surface | undefined {
    return surfaces.get(scene);
  }

  static fromResource(resource: WlSurfaceResource): Surface | undefined {
    return surfacesByResource.get(resource);
  }

  get wsClient(): WaylandServerClient {
    return this.client.wsClient;
  }

  get isDestroyed(): boolean {
    return this.resource.destroyed;
  }

  get bufferScale(): number {
    return this.scale;
  }

  get bufferTransform(): number {
    return this.transform;
  }

  /** The state the next commit applies (surface extensions such as wp_viewport fill their part). */
  get pendingState(): SurfaceState {
    return this.pending;
  }

  /** Whether a buffer has been attached or committed (xdg_surface must be created before any). */
  get hasContent(): boolean {
    return this.scene.buffer !== null || (this.pending.attach !== undefined && this.pending.attach !== null) || this.cached?.attach != null;
  }

  /** Assign a role type; false if the surface already has a role of another type. */
  setRoleType(type: string): boolean {
    if (this.roleType !== null && this.roleType !== type) return false;
    this.roleType = type;
    return true;
  }

  /** A sync subsurface, or a subsurface whose parent is effectively synchronized. */
  get effectivelySync(): boolean {
    const sub = this.subsurface;
    if (sub === null || sub.parent === null) return false;
    return sub.sync || sub.parent.effectivelySync;
  }

  /**
   * Whether a consumer shows this surface and will call `presented` for its
   * frames: it listens to the surface's commits and the surface is mapped (a
   * synchronized subsurface is presented with its parent).
   */
  get consumed(): boolean {
    const parent = this.subsurface?.parent ?? null;
    if (parent !== null && this.effectivelySync) return parent.consumed;
    const role = this.scene.role;
    return this.scene.listenerCount('commit') > 0 && this.scene.mapped && role !== null && role.kind !== 'cursor';
  }

  get hasFrameCallbacks(): boolean {
    return this.frameCallbacks.length > 0 || this.feedbackGroups.length > 0;
  }

  /** wp_presentation.feedback: for the next commit. */
  addPresentationFeedback(feedback: WpPresentationFeedbackResource): void {
    this.pending.feedbacks.push(feedback);
    this.scene.presentationWanted = true;
  }

  /** This surface and its subsurfaces, recursively (current stacking). */
  *tree(): Generator<Surface> {
    for (const s of this.currentStack) {
      if (s === this) yield this;
      else yield* s.tree();
    }
  }

  /**
   * Answer the frame callbacks of every applied commit (wl_callback.done is a
   * destructor event) and their presentation feedbacks (`info`: how the
   * display showed the frame, when the consumer knows).
   */
  sendFrameDone(timeMs: number, info?: PresentationInfo): void {
    this.releaseHeld();
    const groups = this.feedbackGroups;
    this.feedbackGroups = [];
    answerFeedbacks(groups, info);
    this.scene.presentationWanted = this.pending.feedbacks.length > 0 || (this.cached?.feedbacks.length ?? 0) > 0;
    const callbacks = this.frameCallbacks;
    this.answered = [...callbacks.map((cb) => cb.id), ...groups.flat().map((fb) => fb.id)];
    if (callbacks.length === 0) return;
    this.frameCallbacks = [];
    for (const cb of callbacks) if (!cb.destroyed) cb.sendDone(timeMs >>> 0);
  }

  /**
   * What the steady commit path needs to take this surface's next commits, when it may: a
   * surface alone (no subsurfaces, cache or viewport), at scale 1 without transform, with
   * nothing pending or waiting to be answered, and buffers of its size attached before.
   */
  steadySource(): SteadySource | null {
    const raw = this.raw;
    const p = this.pending;
    if (this.isDestroyed || raw === null || this.scale !== 1 || this.transform !== 0 || this.cached !== null || this.subsurface !== null) return null;
    if (this.currentStack.length !== 1 || this.pendingStack.length !== 1 || this.roleDirty || this.scene.viewport !== null) return null;
    if (p.attach !== undefined || p.frames.length > 0 || p.feedbacks.length > 0 || p.surfaceDamage.length > 0 || p.bufferDamage.length > 0) return null;
    if (p.opaque !== undefined || p.input !== undefined || p.transform !== undefined || p.scale !== undefined || p.viewport !== undefined) return null;
    if (this.frameCallbacks.length > 0 || this.feedbackGroups.length > 0 || this.heldReleases.length > 0 || pixelsPinned(raw.pixels)) return null;
    const buffers: SteadySource['buffers'][number][] = [];
    for (const b of this.recent) {
      if (b.width !== raw.width || b.height !== raw.height || b.format !== raw.format) continue;
      const mapping = b.steadyMapping();
      if (mapping !== null) buffers.push({ id: b.resource.id, mapping, stride: b.stride });
    }
    if (buffers.length === 0) return null;
    const connection = this.wsClient.connection;
    return {
      connection,
      wlSurface: this.resource.id,
      presentations: [...this.client.presentations].filter((p) => !p.destroyed).map((p) => p.id),
      freeIds: this.answered.filter((id) => connection.getObject(id) === undefined),
      buffers,
      content: raw,
    };
  }

  /**
   * The steady path gives the surface back with `flight` in flight: its callbacks, feedbacks and
   * buffer wait for the consumer's `presented` as those of an applied commit do.
   */
  steadyRestore(flight: SteadyFlight | null): void {
    this.answered = [];
    if (flight === null || this.isDestroyed) return;
    const conn = this.wsClient.connection;
    const callbacks = flight.callbacks.map((id) => conn.createObjectWithId(WlCallbackResource, id, 1));
    const feedbacks = flight.feedbacks.map((id) => conn.createObjectWithId(WpPresentationFeedbackResource, id, 1));
    const held = this.recent.find((b) => b.resource.id === flight.buffer && !b.destroyed);
    if (held !== undefined) this.heldReleases.push(held);
    if (!this.hasFrameCallbacks) this.framesWaitingSince = (this.ctx.now() - Math.round(flight.ageMs)) >>> 0;
    this.frameCallbacks.push(...callbacks);
    if (feedbacks.length > 0) {
      this.feedbackGroups.push(feedbacks);
      this.scene.presentationWanted = true;
    }
    this.ctx.frames.schedule(this);
  }

  /** `b` was attached: it joins the recent buffers (which start over with a new size). */
  private noteBuffer(b: ShmBuffer, sameSize: boolean): void {
    const keep = sameSize ? this.recent.filter((x) => x !== b && !x.destroyed) : [];
    keep.push(b);
    if (keep.length > RECENT_BUFFERS) keep.shift();
    this.recent = keep;
  }

  /** Role fields changed outside a commit: tell consumers soon, unless a commit does it first. */
  markRoleChanged(): void {
    this.roleDirty = true;
    if (this.roleFlushScheduled) return;
    this.roleFlushScheduled = true;
    soon(() => {
      this.roleFlushScheduled = false;
      if (!this.roleDirty || this.isDestroyed || !this.scene.mapped) return;
      this.roleDirty = false;
      this.scene.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    });
  }

  private capDamage(): void {
    const p = this.pending;
    if (p.surfaceDamage.length > MAX_DAMAGE_RECTS) p.surfaceDamage = collapse(p.surfaceDamage);
    if (p.bufferDamage.length > MAX_DAMAGE_RECTS) p.bufferDamage = collapse(p.bufferDamage);
  }

  private attach(buffer: WlBufferResource | null, x: number, y: number): void {
    if (buffer === null) {
      this.pending.attach = null;
    } else {
      const shm = shmBufferOf(buffer);
      if (shm === undefined) {
        // Only wl_shm creates buffers here; anything else cannot be read.
        this.resource.postError(WlSurfaceError.InvalidSize, `${buffer.toString()} is not a shared-memory buffer`);
        return;
      }
      this.pending.attach = shm;
    }
    this.pending.dx += x;
    this.pending.dy += y;
  }

  private commit(): void {
    if (this.handler?.precommit !== undefined && !this.handler.precommit(this.pending)) return;
    let state = this.pending;
    this.pending = emptyState();
    // A buffer destroyed between attach and commit counts as no buffer (weston does the same).
    if (state.attach instanceof ShmBuffer && state.attach.destroyed) state.attach = null;
    const limits = this.ctx.limits ?? DEFAULT_CLIENT_LIMITS;
    if (state.attach instanceof ShmBuffer && !admitPixels(limits, this, state.attach.width, state.attach.height, this.resource)) return;
    if (this.effectivelySync) {
      if (state.attach instanceof ShmBuffer) {
        const snap = this.snapshot(state.attach);
        if (snap === null) return;
        state.attach = snap;
      }
      this.cached = this.cached === null ? state : mergeStates(this.cached, state);
      return;
    }
    if (this.cached !== null) {
      state = mergeStates(this.cached, state);
      this.cached = null;
    }
    this.apply(state);
  }

  /** Apply the cached state of a synchronized subsurface (its parent's state was applied, or it became desynchronized). */
  applyCached(): void {
    const state = this.cached;
    if (state === null || this.isDestroyed) return;
    this.cached = null;
    this.apply(state);
  }

  get hasCache(): boolean {
    return this.cached !== null;
  }

  private snapshot(buffer: ShmBuffer): Snapshot | null {
    const pixels = new Uint8Array(buffer.width * buffer.height * 4);
    const result = buffer.copyTo(pixels, null);
    if (result !== 'ok') {
      this.ctx.logger.warn({ client: this.client.name, surface: this.resource.toString() }, `cannot read ${buffer.resource.toString()}: ${result}`);
      buffer.postAccessError(result);
      return null;
    }
    buffer.release();
    return { width: buffer.width, height: buffer.height, format: buffer.format, pixels };
  }

  /** Damage of a state in buffer pixels, for a buffer of `width` x `height`. */
  private damageOf(state: SurfaceState, width: number, height: number): Rect[] {
    const out: Rect[] = [];
    for (const r of state.surfaceDamage) {
      const b = surfaceRectToBuffer(r, width, height, this.transform, this.scale);
      if (b !== null) out.push(b);
    }
    out.push(...clipRects(state.bufferDamage, width, height));
    return out.length > MAX_DAMAGE_RECTS ? collapse(out) : out;
  }

  private apply(state: SurfaceState): void {
    const buffer = state.attach === undefined ? this.raw : state.attach;
    if (!checkViewport(this, state.viewport, buffer, state.transform ?? this.transform, state.scale ?? this.scale)) return;
    const sc = this.scene;
    const prev = this.raw;
    const wasMapped = sc.mapped;
    const transform = state.transform ?? this.transform;
    const scale = state.scale ?? this.scale;
    const viewChanged = transform !== this.transform || scale !== this.scale;
    this.transform = transform;
    this.scale = scale;

    let damage: Rect[] = [];
    let resized = false;
    /** Released once consumers had the commit: what they send to a receiver goes out before the client's release. */
    let copied: ShmBuffer | null = null;
    if (state.attach === null) {
      if (prev !== null) {
        this.raw = null;
        resized = true;
      }
    } else if (state.attach !== undefined) {
      const src = state.attach;
      const same = prev !== null && prev.width === src.width && prev.height === src.height && prev.format === src.format && !viewChanged;
      const full: Rect = { x: 0, y: 0, width: src.width, height: src.height };
      damage = same ? this.damageOf(state, src.width, src.height) : [full];
      let pixels: Uint8Array;
      if (src instanceof ShmBuffer) {
        let result: ReturnType<ShmBuffer['copyTo']> = 'ok';
        if (same) {
          // Pixels an encode reads on a worker (pinned-pixels.ts) are not written: a copy is.
          pixels = pixelsPinned(prev.pixels) ? prev.pixels.slice() : prev.pixels;
          if (damage.length > 0) ({ result, changed: damage } = src.copyChangedTo(pixels, damage, CHANGED_GRID, MAX_CHANGED_RECTS));
        } else {
          pixels = new Uint8Array(src.width * src.height * 4);
          result = src.copyTo(pixels, null);
        }
        if (result !== 'ok') {
          this.ctx.logger.warn({ client: this.client.name, surface: this.resource.toString() }, `cannot read ${src.resource.toString()}: ${result}`);
          src.postAccessError(result);
          return;
        }
        copied = src;
        this.noteBuffer(src, same);
      } else {
        pixels = src.pixels;
      }
      const content: Content = { width: src.width, height: src.height, format: src.format, pixels, scale, transform };
      this.raw = content;
      resized = !same;
    } else if (viewChanged && prev !== null) {
      this.raw = { ...prev, scale, transform };
      resized = true;
      damage = [{ x: 0, y: 0, width: prev.width, height: prev.height }];
    }
    sc.setBuffer(this.raw, appliedViewport(this, state.viewport));
    if (state.opaque !== undefined) sc.opaque = state.opaque;
    if (state.input !== undefined) sc.input = state.input;

    const wantsFrame = state.frames.length > 0 || state.feedbacks.length > 0;
    if (wantsFrame) {
      if (!this.hasFrameCallbacks) this.framesWaitingSince = this.ctx.now();
      this.frameCallbacks.push(...state.frames);
      if (state.feedbacks.length > 0) this.feedbackGroups.push(state.feedbacks);
      this.ctx.frames.schedule(this);
    }

    let roleChanged = this.handler?.apply?.(state) ?? false;
    if (this.roleDirty) {
      roleChanged = true;
      this.roleDirty = false;
    }
    const stackingChanged = this.applyChildren();

    const mapped = sc.mapped;
    if (mapped && !wasMapped) surfaceMapped(this.ctx, this);
    else if (!mapped && wasMapped) surfaceUnmapped(this.ctx, this);

    try {
      sc.commit({ damage, resized, roleChanged, stackingChanged, frame: wantsFrame });
      this.handler?.committed?.(wasMapped);
    } finally {
      if (copied !== null && wantsFrame) this.heldReleases.push(copied);
      else copied?.release();
    }
    if (!mapped && wasMapped) this.ctx.seat.surfaceUnmapped(this);
  }

  /** The parent's state was applied: subsurface order and positions, then the caches of synchronized children. */
  private applyChildren(): boolean {
    let changed = false;
    const pending = this.pendingStack;
    if (pending.length !== this.currentStack.length || pending.some((s, i) => s !== this.currentStack[i])) {
      this.currentStack = [...pending];
      this.scene.stack = this.currentStack.map((s) => s.scene);
      changed = true;
    }
    for (const child of this.currentStack) {
      if (child === this) continue;
      if (child.subsurface?.applyPosition() === true) changed = true;
      if (child.hasCache && child.effectivelySync) child.applyCached();
    }
    return changed;
  }

  /** A subsurface was added (on top of its siblings, at once, as weston does). */
  addChild(child: Surface): void {
    this.pendingStack.push(child);
    this.currentStack.push(child);
    this.scene.stack = this.currentStack.map((s) => s.scene);
  }

  /** A subsurface lost its role or was destroyed: it leaves both stacks at once. */
  removeChild(child: Surface): void {
    const before = this.currentStack.length;
    this.pendingStack = this.pendingStack.filter((s) => s !== child);
    this.currentStack = this.currentStack.filter((s) => s !== child);
    if (this.currentStack.length === before || this.isDestroyed) return;
    this.scene.stack = this.currentStack.map((s) => s.scene);
    this.scene.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
  }

  /** Apply caches of descendants that are no longer synchronized (after wl_subsurface.set_desync). */
  flushDesynchronized(): void {
    if (!this.effectivelySync && this.hasCache) this.applyCached();
    for (const child of this.currentStack) if (child !== this) child.flushDesynchronized();
  }

  /** The buffers held for the frame callbacks go back to the client. */
  private releaseHeld(): void {
    if (this.heldReleases.length === 0) return;
    const held = this.heldReleases;
    this.heldReleases = [];
    for (const b of held) b.release();
  }

  private destroyed(): void {
    this.releaseHeld();
    const destroyResource = (cb: WlCallbackResource): void => {
      if (!cb.destroyed) this.wsClient.destroyResource(cb);
    };
    for (const cb of this.frameCallbacks) destroyResource(cb);
    for (const cb of this.pending.frames) destroyResource(cb);
    for (const cb of this.cached?.frames ?? []) destroyResource(cb);
    this.frameCallbacks = [];
    discardFeedbacks([...this.feedbackGroups.flat(), ...this.pending.feedbacks, ...(this.cached?.feedbacks ?? [])]);
    this.feedbackGroups = [];
    this.ctx.frames.unschedule(this);
    this.handler?.surfaceDestroyed?.();
    for (const child of [...this.pendingStack, ...this.currentStack]) {
      if (child !== this) child.subsurface?.parentGone();
    }
    this.pendingStack = [this];
    this.currentStack = [this];
    this.ctx.seat.surfaceGone(this);
    surfaceGone(this.ctx, this);
    this.client.surfaces.delete(this);
    this.scene.destroy();
  }
}

const regions = new WeakMap<WlRegionResource, Region>();

function regionOf(resource: WlRegionResource): Region {
  let r = regions.get(resource);
  if (r === undefined) {
    r = new Region();
    regions.set(resource, r);
  }
  return r;
}

export function registerCompositor(ctx: DisplayContext): void {
  ctx.server.addGlobal(WlCompositorResource, 4, (compositor, client) => {
    const state = ctx.clientOf(client);
    compositor.listen({
      createSurface: (id) => {
        if (!admitSurface(ctx.limits ?? DEFAULT_CLIENT_LIMITS, state, compositor)) return;
        new Surface(ctx, state, id);
      },
      createRegion: (id) => {
        const region = regionOf(id);
        id.listen({
          destroy: () => {},
          add: (x, y, width, height) => region.add(rect(x, y, width, height)),
          subtract: (x, y, width, height) => region.subtract(rect(x, y, width, height)),
        });
      },
    });
  });
}
