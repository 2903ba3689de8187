/**
 * One transmitter surface on the receiver: the state a wthp_surface carries,
 * applied to its SceneSurface with Wayland's rules (wayland.xml, wl_surface
 * and wl_subsurface):
 *
 * - everything a request sets is pending until wthp_surface.commit;
 * - wthp_content.begin starts the next buffer from the previous one (same
 *   size) or from transparent black (new size), tiles write into it, and the
 *   commit makes it the content; attach(null) + commit unmaps;
 * - a subsurface's position and the stacking order are state of the parent,
 *   applied when the parent's state is applied;
 * - a synchronized subsurface (itself or an ancestor in sync mode) caches its
 *   commits, and the cache is applied together with the parent's state;
 *   set_desync applies a cache that is no longer synchronized.
 */
import {
  SceneSurface,
  type Content,
  type PopupRole,
  type Rect,
  type SubsurfaceRole,
  type ToplevelRole,
} from '../shared/scene/scene.js';
import { clipRects } from '../shared/scene/region.js';
import { emptyBufferedState, mergeBufferedStates, type BufferedState } from '../shared/scene/surface-state.js';
import type { PixelImage } from '../shared/remote/tiles.js';
import type { WthpCallbackResource } from '../shared/generated/waltham/waltham.js';

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
  /** Popup placement (wthp_popup.reposition). */
  rect?: Rect;
}

/** One set of wthp_surface state; `bufferDamage` holds wthp_surface.damage_buffer and the rectangles tiles wrote. */
export interface SurfaceState extends BufferedState<WthpCallbackResource> {
  /** undefined: no new buffer; null: attach(null); else the next buffer's pixels. */
  image: PixelImage | null | undefined;
  role: RoleUpdate | undefined;
}

function emptyState(): SurfaceState {
  return { ...emptyBufferedState<WthpCallbackResource>(), image: undefined, role: undefined };
}

/** `later` applied on top of `earlier` (a cached commit followed by another). */
function mergeStates(earlier: SurfaceState, later: SurfaceState): SurfaceState {
  return {
    ...mergeBufferedStates(earlier, later),
    image: later.image !== undefined ? later.image : earlier.image,
    role: earlier.role === undefined ? later.role : later.role === undefined ? earlier.role : { ...earlier.role, ...later.role },
  };
}

/** Collapse long damage lists to their bounding box: consumers only need coverage. */
const MAX_DAMAGE_RECTS = 256;

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
  private scale = 1;
  private transform = 0;

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
    return this.scene.content;
  }

  /** Pixel bytes held for this surface (content, cached and pending buffers). */
  pixelBytes(): number {
    const c = this.scene.content?.pixels.byteLength ?? 0;
    const k = this.cached?.image?.pixels.byteLength ?? 0;
    const p = this.pending.image?.pixels.byteLength ?? 0;
    return c + k + p;
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

  private apply(state: SurfaceState): void {
    const s = this.scene;
    if (s.destroyed) return;
    const before = s.content;
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
    s.content = content;

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
      } else if (s.role.kind === 'popup') {
        const role: PopupRole = s.role;
        if (u.rect !== undefined) role.rect = u.rect;
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
    s.commit({ damage, resized, roleChanged, stackingChanged });
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

  /** Every frame callback still held (to destroy with the surface). */
  allCallbacks(): WthpCallbackResource[] {
    return [...this.pending.frames, ...(this.cached?.frames ?? []), ...this.presentable];
  }
}
