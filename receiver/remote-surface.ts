/**
 * One transmitter surface on the receiver: the state a wthp_surface carries,
 * applied to its SceneSurface with Wayland's rules (wayland.xml, wl_surface
 * and wl_subsurface):
 *
 * - everything a request sets is pending until wthp_surface.commit;
 * - wthp_content.begin starts the next buffer from the previous one (same
 *   size) or from transparent black (new size), tiles write into it, and the
 *   commit makes it the content; attach(null) + commit unmaps;
 * - buffers of one size are reused: the next buffer is one the content (and a
 *   subsurface cache) does not hold, brought up to date by copying only the
 *   rectangles it missed since it was last the newest, and of those only the
 *   parts no tile overwrites (see `nextImage`);
 * - a subsurface's position and the stacking order are state of the parent,
 *   applied when the parent's state is applied;
 * - a synchronized subsurface (itself or an ancestor in sync mode) caches its
 *   commits, and the cache is applied together with the parent's state;
 *   set_desync applies a cache that is no longer synchronized.
 */
import type { PopupPositioner } from '../shared/scene/window-requests.js';
import {
  SceneSurface,
  type Content,
  type DecorationMode,
  type PopupRole,
  type Rect,
  type SubsurfaceRole,
  type ToplevelRole,
} from '../shared/scene/scene.js';
import { clipRects, intersect, subtract } from '../shared/scene/region.js';
import { Damage } from '../shared/display/damage.js';
import { copyPixels } from '../shared/native.js';
import { SharedPixels } from '../shared/scene/shared-pixels.js';
import { emptyBufferedState, mergeBufferedStates, type BufferedState } from '../shared/scene/surface-state.js';
import { applyTile, CODEC_LZ4_SPANS, codecBit, codecName, copySource, TileError, type PixelImage, type Tile } from '../shared/remote/tiles.js';
import { decodeLossyRgb, isLossy, placeRgb } from '../shared/remote/lossy.js';
import type { WthpCallbackResource } from '../shared/generated/waltham/waltham.js';
import { NO_VIEWPORT, viewportProblem, type ViewportState } from '../shared/scene/viewport.js';

/** A lossy tile decoded into memory of its own: `rect.width` x `rect.height` packed R, G, B pixels. */
export interface DecodedTile {
  readonly rect: Rect;
  readonly rgb: Uint8Array;
}

/** Role fields set by requests, applied on commit. */
export interface RoleUpdate {
  title?: string;
  appId?: string;
  parent?: SceneSurface | null;
  minSize?: { width: number; height: number };
  maxSize?: { width: number; height: number };
  geometry?: Rect | null;
  fullscreen?: boolean;
  maximized?: boolean;
  /** The decoration mode the application asked for (wthp_toplevel_decoration.set_mode). */
  decoration?: DecorationMode;
  /** Popup placement (wthp_popup.reposition). */
  rect?: Rect;
  /** The application's positioner (wthp_window_manager.set_popup_positioner). */
  positioner?: PopupPositioner;
}

/** One set of wthp_surface state; `bufferDamage` holds wthp_surface.damage_buffer and the rectangles tiles wrote. */
export interface SurfaceState extends BufferedState<WthpCallbackResource> {
  /** undefined: no new buffer; null: attach(null); else the next buffer's pixels. */
  image: PixelImage | null | undefined;
  role: RoleUpdate | undefined;
  /** wthp_viewport state set for this commit (undefined: unchanged). */
  viewport: ViewportState | undefined;
}

function emptyState(): SurfaceState {
  return { ...emptyBufferedState<WthpCallbackResource>(), image: undefined, role: undefined, viewport: undefined };
}

/** `later` applied on top of `earlier` (a cached commit followed by another). */
function mergeStates(earlier: SurfaceState, later: SurfaceState): SurfaceState {
  return {
    ...mergeBufferedStates(earlier, later),
    image: later.image !== undefined ? later.image : earlier.image,
    role: earlier.role === undefined ? later.role : later.role === undefined ? earlier.role : { ...earlier.role, ...later.role },
    viewport: later.viewport ?? earlier.viewport,
  };
}

/** Collapse long damage lists to their bounding box: consumers only need coverage. */
const MAX_DAMAGE_RECTS = 256;

/**
 * Buffers of one size kept per surface: the content, the pending one, and the
 * previous content, which the local compositor may still read for a moment
 * (a subsurface cache takes one more, not kept).
 */
const MAX_BUFFERS = 3;
/** Past this many rectangles left to copy into the pending buffer, they are copied at once. */
const MAX_CATCH_UP_RECTS = 64;
/** Rectangles of one buffer's tiles kept for copies from the base buffer (a frame has few before its copy). */
const MAX_FRAME_WRITES = 64;

function distinctBytes(buffers: readonly (Uint8Array | undefined)[]): number {
  let bytes = 0;
  for (const [i, b] of buffers.entries()) if (b !== undefined && buffers.indexOf(b) === i) bytes += b.byteLength;
  return bytes;
}

/**
 * A pixel buffer kept for reuse, with the rectangles where it differs from
 * the newest pixels. Its memory is shared (a memfd) so that the display can
 * hand it to the local compositor without a copy.
 */
interface PooledBuffer {
  readonly pixels: Uint8Array;
  readonly shared: SharedPixels;
  readonly stale: Damage;
}

export class RemoteSurface {
  pending: SurfaceState = emptyState();
  /** Commits of a synchronized subsurface waiting for the parent. */
  cached: SurfaceState | null = null;
  /** Frame callbacks of applied commits, answered when the consumer presents. */
  presentable: WthpCallbackResource[] = [];
  /** Subsurfaces whose parent this is. */
  readonly children = new Set<RemoteSurface>();
  /** For a subsurface: the surface it was created on. */
  parent: RemoteSurface | null = null;
  /** Subsurface: position set by set_position, applied with the parent's state. */
  pendingPosition: { x: number; y: number } | null = null;
  /** This surface's stacking order, changed by its subsurfaces, applied on its commit. */
  pendingStack: SceneSurface[] | null = null;
  /** Refused alone for a limit (wthp_surface_refusal): not shown, its content ignored. */
  refused = false;
  private scale = 1;
  private transform = 0;
  /** Buffers of the size `poolWidth` x `poolHeight`, reused by `nextImage`. */
  private pool: PooledBuffer[] = [];
  /**
   * Buffers made while the pool was full: disposed of (their memfd closed) as
   * soon as no state of the surface holds them and no compositor reads them.
   */
  private loose: SharedPixels[] = [];
  private poolWidth = 0;
  private poolHeight = 0;
  /**
   * Rectangles of the pending buffer that still have to be copied from
   * `catchUpFrom` (the buffer it starts from), minus what tiles overwrote.
   */
  private catchUp: Rect[] = [];
  private catchUpFrom: Uint8Array | null = null;
  /** Rectangles the pending buffer's tiles wrote so far; null: too many to keep. */
  private frameWrites: Rect[] | null = [];

  constructor(readonly scene: SceneSurface) {}

  get destroyed(): boolean {
    return this.scene.destroyed;
  }

  /** Whether commits are cached for the parent (wl_subsurface "effectively synchronized"). */
  effectivelySync(): boolean {
    for (let s: RemoteSurface | null = this; s !== null; s = s.parent) {
      const role = s.scene.role;
      if (role === null || role.kind !== 'subsurface' || s.parent === null || s.parent.destroyed) return false;
      if (role.sync) return true;
    }
    return false;
  }

  /** The pixels the next buffer starts from: the last committed (maybe cached) buffer. */
  baseImage(): PixelImage | null {
    if (this.cached !== null && this.cached.image !== undefined) return this.cached.image;
    return this.scene.buffer;
  }

  /** Pixel bytes held for this surface (content, cached, pending and spare buffers). */
  pixelBytes(): number {
    return distinctBytes([...this.pool.map((b) => b.pixels), this.scene.buffer?.pixels, this.cached?.image?.pixels, this.pending.image?.pixels]);
  }

  /** Pixel bytes this surface keeps once `nextImage(width, height)` replaced the pending buffer (not counting it). */
  pixelBytesBefore(width: number, height: number): number {
    const committed = [this.scene.buffer?.pixels, this.cached?.image?.pixels];
    if (width !== this.poolWidth || height !== this.poolHeight) return distinctBytes(committed);
    return distinctBytes([...this.pool.map((b) => b.pixels), ...committed]);
  }

  /** Bytes `nextImage` would allocate for a buffer of this size (0 when it reuses one). */
  bytesToAllocate(width: number, height: number): number {
    if (width === this.poolWidth && height === this.poolHeight && this.freeBuffer() !== undefined) return 0;
    return width * height * 4;
  }

  /** A pooled buffer that no state of the surface holds and no compositor reads. */
  private freeBuffer(): PooledBuffer | undefined {
    const held = [this.scene.buffer?.pixels, this.cached?.image?.pixels, this.pending.image?.pixels];
    return this.pool.find((b) => !held.includes(b.pixels) && !b.shared.busy);
  }

  /** Dispose of the loose buffers that nothing holds or reads any more. */
  private sweepLoose(): void {
    if (this.loose.length === 0) return;
    const held = [this.scene.buffer?.shared, this.cached?.image?.shared, this.pending.image?.shared];
    this.loose = this.loose.filter((shared) => {
      if (held.includes(shared) || shared.busy) return true;
      shared.dispose({ discard: true });
      return false;
    });
  }

  /** The surface is gone: its buffers' shared memory is given back at once (not when collected). */
  dispose(): void {
    for (const b of this.pool) b.shared.dispose({ discard: true });
    this.pool = [];
    for (const shared of this.loose) shared.dispose({ discard: true });
    this.loose = [];
    for (const image of [this.scene.buffer, this.cached?.image, this.pending.image]) {
      const shared = image?.shared;
      if (shared instanceof SharedPixels) shared.dispose({ discard: true });
    }
  }

  /**
   * The pixels for the next buffer (wthp_content.begin): a copy of the last
   * committed buffer when it has this size, else transparent black. A
   * reused buffer gets only the rectangles it missed copied in.
   */
  nextImage(width: number, height: number, format: PixelImage['format']): PixelImage {
    const base = this.baseImage();
    const same = base !== null && base.width === width && base.height === height;
    if (width !== this.poolWidth || height !== this.poolHeight) {
      for (const b of this.pool) b.shared.dispose();
      this.pool = [];
      this.poolWidth = width;
      this.poolHeight = height;
    }
    this.sweepLoose();
    let buffer = this.freeBuffer();
    if (buffer === undefined) {
      const shared = SharedPixels.allocate(width * height * 4, 'waltham-receiver');
      buffer = { pixels: shared.pixels, shared, stale: new Damage(width, height) };
      // A new buffer is transparent black: it misses everything but black pixels.
      if (same) buffer.stale.addFull();
      // The pool keeps buffers it may hand out again; one the surface still holds (a base of
      // another size) is never in it.
      if (this.pool.length < MAX_BUFFERS) this.pool.push(buffer);
      else {
        this.loose.push(shared);
        // Released by the compositor after the surface moved on: closed then, not at the next begin.
        shared.onFree(() => this.sweepLoose());
      }
    } else if (!same) {
      buffer.pixels.fill(0);
      buffer.stale.clear();
    }
    this.catchUp = [];
    this.catchUpFrom = null;
    this.frameWrites = [];
    if (same) {
      // Copied when a tile needs them or at commit, unless tiles overwrite them first.
      this.catchUp = [...buffer.stale.rects];
      this.catchUpFrom = base.pixels;
      buffer.stale.clear();
    } else {
      // The newest pixels are now this black buffer: the others may differ anywhere.
      for (const b of this.pool) if (b !== buffer) b.stale.addFull();
    }
    return { width, height, format, pixels: buffer.pixels, shared: buffer.shared };
  }

  /**
   * wthp_content.tile: validate `tile` and write it into the pending buffer
   * (which the caller checked exists). Returns the rectangle written; throws
   * TileError for a tile that is invalid, after which the pending buffer is
   * not to be used.
   */
  writeTile(tile: Tile, codecs: number): Rect {
    const image = this.pending.image;
    if (image === undefined || image === null) throw new Error('writeTile without a pending buffer');
    const source = copySource(tile);
    if (source !== null && (codecs & codecBit(tile.codec)) !== 0 && this.copyFromBase(image, tile, source)) {
      this.wrote(tile);
      return { x: tile.x, y: tile.y, width: tile.width, height: tile.height };
    }
    if (source !== null) this.beforeTile(source, false); // what it copies must be up to date
    this.beforeTile(tile, tile.codec !== CODEC_LZ4_SPANS);
    const rect = applyTile(image, tile, codecs);
    this.wrote(rect);
    return rect;
  }

  /**
   * A lossy (jpeg, webp) wthp_content.tile, first half: checked now (throws
   * TileError), decoded on a worker thread into memory of its own (the tile's
   * data is copied: it is only valid during dispatch). `placeLossyTile`
   * writes the result into the pending buffer.
   */
  decodeLossyTile(tile: Tile, codecs: number): Promise<DecodedTile> {
    const image = this.pending.image;
    if (image === undefined || image === null) throw new Error('decodeLossyTile without a pending buffer');
    const { x, y, width: w, height: h, codec } = tile;
    if (!isLossy(codec) || (codecs & codecBit(codec)) === 0) {
      throw new TileError('ERR_TILE_CODEC', `${codecName(codec)} is not a lossy codec this receiver announced`);
    }
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > image.width - w || y > image.height - h) {
      throw new TileError('ERR_TILE_BOUNDS', `tile ${w}x${h}+${x}+${y} is outside the ${image.width}x${image.height} surface`);
    }
    // A copy (of the Buffer the data is a view of, which the connection reuses).
    const data = new Uint8Array(tile.data);
    return decodeLossyRgb(codec, data, w, h).then((rgb) => ({ rect: { x, y, width: w, height: h }, rgb }));
  }

  /**
   * Second half: write a decoded lossy tile into `image`, the pending buffer it
   * was decoded for. Returns its rectangle, or null when that buffer is no
   * longer pending or the surface is gone (nothing is written then).
   */
  placeLossyTile(image: PixelImage, tile: DecodedTile): Rect | null {
    if (this.destroyed || this.pending.image !== image) return null;
    const { rect, rgb } = tile;
    this.beforeTile(rect, true);
    placeRgb(rgb, image, rect.x, rect.y, rect.width, rect.height);
    this.wrote(rect);
    return rect;
  }

  /**
   * A tile is about to be written to `rect` of the pending buffer. One that
   * replaces every pixel (`overwrites`) needs nothing underneath; one that
   * changes only some (lz4_spans) needs the rest up to date first.
   */
  private beforeTile(rect: Rect, overwrites: boolean): void {
    if (this.catchUp.length === 0) return;
    const to = this.pending.image?.pixels;
    const from = this.catchUpFrom;
    if (to === undefined || from === null) return;
    if (this.catchUp.length > MAX_CATCH_UP_RECTS) {
      this.finishImage();
      return;
    }
    const stride = (this.pending.image?.width ?? 0) * 4;
    const rest: Rect[] = [];
    for (const r of this.catchUp) {
      const o = intersect(r, rect);
      if (o === null) {
        rest.push(r);
        continue;
      }
      if (!overwrites) copyPixels(from, stride, o.x, o.y, to, stride, o.x, o.y, o.width, o.height);
      rest.push(...subtract(r, o));
    }
    this.catchUp = rest;
  }

  /**
   * A copy tile (a scroll) whose source no tile of this buffer wrote yet:
   * copied straight from the buffer the pending one catches up from, which
   * holds those pixels as they were, instead of catching up and then moving
   * them. False (nothing done) when that does not apply or a rectangle leaves
   * the surface.
   */
  private copyFromBase(image: PixelImage, tile: Tile, source: Rect): boolean {
    const from = this.catchUpFrom;
    const { width: w, height: h } = image;
    const inside = (r: Rect): boolean => r.width > 0 && r.height > 0 && r.x >= 0 && r.y >= 0 && r.x <= w - r.width && r.y <= h - r.height;
    if (from === null || !inside(tile) || !inside(source)) return false;
    // The buffer it catches up from holds every pixel as it was before this buffer's tiles.
    if (this.frameWrites === null || this.frameWrites.some((r) => intersect(r, source) !== null)) return false;
    this.beforeTile(tile, true);
    copyPixels(from, w * 4, source.x, source.y, image.pixels, w * 4, tile.x, tile.y, tile.width, tile.height);
    return true;
  }

  /** Bring the pending buffer fully up to date (before it is committed). */
  finishImage(): void {
    const image = this.pending.image;
    const from = this.catchUpFrom;
    if (image !== undefined && image !== null && from !== null) {
      const stride = image.width * 4;
      for (const r of this.catchUp) copyPixels(from, stride, r.x, r.y, image.pixels, stride, r.x, r.y, r.width, r.height);
    }
    this.catchUp = [];
    this.catchUpFrom = null;
  }

  /** attach(null): the pending buffer is dropped; what it holds is not the newest content. */
  dropPendingImage(): void {
    const pending = this.pending.image?.pixels;
    for (const b of this.pool) if (b.pixels === pending) b.stale.addFull();
    this.catchUp = [];
    this.catchUpFrom = null;
    this.pending.image = null;
  }

  /** Tiles wrote `rect` of the pending buffer: every other buffer misses it from now on. */
  private wrote(rect: Rect): void {
    if (this.frameWrites !== null) {
      if (this.frameWrites.length < MAX_FRAME_WRITES) this.frameWrites.push(rect);
      else this.frameWrites = null;
    }
    const pending = this.pending.image?.pixels;
    for (const b of this.pool) if (b.pixels !== pending) b.stale.add(rect);
  }

  /** Frame callbacks not answered yet (pending, cached and presentable). */
  callbackCount(): number {
    return this.pending.frames.length + (this.cached?.frames.length ?? 0) + this.presentable.length;
  }

  updateRole(update: RoleUpdate): void {
    this.pending.role = { ...(this.pending.role ?? {}), ...update };
  }

  /** wthp_surface.commit */
  commit(): void {
    this.finishImage();
    const state = this.pending;
    this.pending = emptyState();
    if (this.effectivelySync()) {
      this.cached = this.cached === null ? state : mergeStates(this.cached, state);
      return;
    }
    const merged = this.cached === null ? state : mergeStates(this.cached, state);
    this.cached = null;
    this.apply(merged);
  }

  /** wl_subsurface.set_desync: a cache that is no longer synchronized is applied now. */
  flushIfDesynchronized(): void {
    if (this.cached !== null && !this.effectivelySync()) {
      const cached = this.cached;
      this.cached = null;
      this.apply(cached);
    }
  }

  /** The viewport state the next commit starts from (pending, else cached, else applied). */
  pendingViewport(): ViewportState {
    return this.pending.viewport ?? this.cached?.viewport ?? this.scene.viewport ?? NO_VIEWPORT;
  }

  /**
   * Why the viewport cannot apply to the buffer with the next commit (null:
   * it can, or there is none); destinations at most `maxWidth` x `maxHeight`
   * buffer pixels.
   */
  viewportProblem(maxWidth: number, maxHeight: number): string | null {
    const v = this.pendingViewport();
    if (v.source === null && v.destination === null) return null;
    const image = this.pending.image !== undefined ? this.pending.image : this.cached !== null && this.cached.image !== undefined ? this.cached.image : this.scene.buffer;
    const scale = this.pending.scale ?? this.cached?.scale ?? this.scale;
    const transform = this.pending.transform ?? this.cached?.transform ?? this.transform;
    const problem = viewportProblem(v, image === null ? null : { width: image.width, height: image.height, scale, transform });
    if (problem !== null) return problem;
    const dst = v.destination;
    if (dst !== null && (dst.width * scale > maxWidth || dst.height * scale > maxHeight)) {
      return `destination size ${dst.width}x${dst.height} at scale ${scale} exceeds the surface size limit ${maxWidth}x${maxHeight}`;
    }
    return null;
  }

  private apply(state: SurfaceState): void {
    const s = this.scene;
    if (s.destroyed) return;
    const before = s.buffer;
    if (state.scale !== undefined) this.scale = state.scale;
    if (state.transform !== undefined) this.transform = state.transform;
    let content: Content | null = before;
    if (state.image === null) content = null;
    else if (state.image !== undefined) content = { ...state.image, scale: this.scale, transform: this.transform };
    if (content !== null && (content.scale !== this.scale || content.transform !== this.transform)) {
      content = { ...content, scale: this.scale, transform: this.transform };
    }
    const resized =
      (before === null) !== (content === null) ||
      (before !== null &&
        content !== null &&
        (before.width !== content.width ||
          before.height !== content.height ||
          before.format !== content.format ||
          before.scale !== content.scale ||
          before.transform !== content.transform));
    s.setBuffer(content, state.viewport === undefined ? s.viewport : state.viewport);

    let damage: Rect[] = [];
    if (content !== null) {
      const full = { x: 0, y: 0, width: content.width, height: content.height };
      if (resized) {
        damage = [full];
      } else {
        const scale = content.scale;
        const all = [
          ...state.bufferDamage,
          ...state.surfaceDamage.map((r) => ({ x: r.x * scale, y: r.y * scale, width: r.width * scale, height: r.height * scale })),
        ];
        damage = clipRects(all, content.width, content.height);
        if (damage.length > MAX_DAMAGE_RECTS) damage = [full];
      }
    }
    if (state.opaque !== undefined) s.opaque = state.opaque;
    if (state.input !== undefined) s.input = state.input;

    let roleChanged = false;
    if (state.role !== undefined && s.role !== null) {
      roleChanged = true;
      const u = state.role;
      if (s.role.kind === 'toplevel') {
        const role: ToplevelRole = s.role;
        if (u.title !== undefined) role.title = u.title;
        if (u.appId !== undefined) role.appId = u.appId;
        if (u.parent !== undefined) role.parent = u.parent;
        if (u.minSize !== undefined) role.minSize = u.minSize;
        if (u.maxSize !== undefined) role.maxSize = u.maxSize;
        if (u.geometry !== undefined) role.geometry = u.geometry;
        if (u.fullscreen !== undefined) role.fullscreen = u.fullscreen;
        if (u.maximized !== undefined) role.maximized = u.maximized;
        if (u.decoration !== undefined) role.decoration = u.decoration;
      } else if (s.role.kind === 'popup') {
        const role: PopupRole = s.role;
        if (u.rect !== undefined) role.rect = u.rect;
        if (u.positioner !== undefined) role.positioner = u.positioner;
        if (u.geometry !== undefined) role.geometry = u.geometry;
      }
    }

    let stackingChanged = false;
    if (this.pendingStack !== null) {
      const next = this.pendingStack.filter((c) => c === s || !c.destroyed);
      stackingChanged = next.length !== s.stack.length || next.some((c, i) => c !== s.stack[i]);
      s.stack = next;
      this.pendingStack = null;
    }
    this.presentable.push(...state.frames);

    // Children first: their positions and synchronized caches belong to this
    // commit. A moved subsurface is reported as a stacking change of the parent.
    for (const child of [...this.children]) {
      if (child.destroyed) continue;
      const role = child.scene.role;
      if (child.pendingPosition !== null && role !== null && role.kind === 'subsurface') {
        const sub: SubsurfaceRole = role;
        if (sub.x !== child.pendingPosition.x || sub.y !== child.pendingPosition.y) stackingChanged = true;
        sub.x = child.pendingPosition.x;
        sub.y = child.pendingPosition.y;
        child.pendingPosition = null;
      }
      if (child.cached !== null && child.effectivelySync()) {
        const cached = child.cached;
        child.cached = null;
        child.apply(cached);
      }
    }
    s.commit({ damage, resized, roleChanged, stackingChanged, frame: state.frames.length > 0 });
  }

  /** Remove a child from this surface's stacking order (its role or surface is gone). */
  dropChild(child: RemoteSurface): void {
    this.children.delete(child);
    const s = this.scene;
    if (this.pendingStack !== null) this.pendingStack = this.pendingStack.filter((c) => c !== child.scene);
    if (s.stack.includes(child.scene)) {
      s.stack = s.stack.filter((c) => c !== child.scene);
      if (!s.destroyed) s.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
    }
  }

  /**
   * The pool, when this surface may go to the native steady-frame path
   * (native/wayland-shim/src/steady.rs): nothing pending, cached or
   * unanswered, no subsurfaces, no viewport, its content one of the pool's
   * buffers; else null.
   */
  steadyPool(): { pool: SharedPixels[]; stale: Rect[][]; current: number; width: number; height: number; format: PixelImage['format'] } | null {
    const p = this.pending;
    if (this.refused || this.destroyed || this.cached !== null || this.children.size > 0 || this.parent !== null || this.presentable.length > 0) return null;
    if (p.image !== undefined || p.frames.length > 0 || p.bufferDamage.length > 0 || p.surfaceDamage.length > 0 || p.role !== undefined || p.viewport !== undefined) return null;
    if (p.opaque !== undefined || p.input !== undefined || p.transform !== undefined || p.scale !== undefined || this.pendingPosition !== null || this.pendingStack !== null) return null;
    const content = this.scene.buffer;
    if (content === null || this.scene.viewport !== null || content.width !== this.poolWidth || content.height !== this.poolHeight) return null;
    const current = this.pool.findIndex((b) => b.pixels === content.pixels);
    if (current < 0 || this.pool.length < 2 || this.pool.some((b) => b.shared.disposed)) return null;
    return {
      pool: this.pool.map((b) => b.shared),
      stale: this.pool.map((b) => [...b.stale.rects]),
      current,
      width: this.poolWidth,
      height: this.poolHeight,
      format: content.format,
    };
  }

  /**
   * Back from the native path: what each buffer of the pool misses, the
   * buffer shown, and a frame begun there (`pending` its buffer, -1: none;
   * tiles written and caught up) with its damage and frame callbacks.
   */
  steadyRestore(stale: readonly (readonly Rect[])[], current: number, pending: number, damage: Rect[], frames: WthpCallbackResource[]): void {
    const shown = this.scene.buffer;
    for (const [i, b] of this.pool.entries()) {
      b.stale.clear();
      for (const r of stale[i] ?? []) b.stale.add(r);
    }
    const now = this.pool[current];
    if (now !== undefined && shown !== null) {
      this.scene.setBuffer({ ...shown, pixels: now.pixels, shared: now.shared }, this.scene.viewport);
    }
    const begun = this.pool[pending];
    if (begun !== undefined && shown !== null) {
      this.pending.image = { width: shown.width, height: shown.height, format: shown.format, pixels: begun.pixels, shared: begun.shared };
      this.catchUp = [];
      this.catchUpFrom = null;
      this.frameWrites = null;
      this.pending.bufferDamage = damage;
    }
    this.pending.frames = frames;
  }

  /** Every frame callback still held (to destroy with the surface). */
  allCallbacks(): WthpCallbackResource[] {
    return [...this.pending.frames, ...(this.cached?.frames ?? []), ...this.presentable];
  }
}
