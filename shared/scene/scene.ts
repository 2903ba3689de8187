/**
 * The scene: what is shown, independent of where it comes from and where it
 * goes. A producer (the transmitter's virtual display, or the receiver's
 * Waltham server rebuilding a transmitter's surfaces) creates and updates
 * `SceneSurface`s; consumers (the Waltham link to a receiver, or the local
 * display code that shows surfaces on a real compositor) subscribe to them
 * and send back input, configures and presentation through `SceneFeedback`.
 *
 * Coordinates: buffer pixels for content and damage; surface-local
 * coordinates (buffer / scale) for positions, sizes and input.
 */
import type { SharedPixels } from './shared-pixels.js';
import { sameViewport, scaleThroughViewport, viewportActive, viewSize, type ViewportState } from './viewport.js';
import type { PopupPositioner, WindowRequest } from './window-requests.js';
import type { TextInputEvents, TextInputState } from './text-input.js';
import { EventEmitter } from 'node:events';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export type PixelFormat = 'argb8888' | 'xrgb8888';

/** Surface size (surface-local units) of a buffer of `width` x `height` pixels shown with `transform` and `scale`. */
export function surfaceSize(width: number, height: number, transform: number, scale: number): { width: number; height: number } {
  const swap = (transform & 1) === 1;
  return {
    width: Math.floor((swap ? height : width) / scale),
    height: Math.floor((swap ? width : height) / scale),
  };
}

/** The committed content of a surface: a private copy of the client's buffer. */
export interface Content {
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
  /**
   * width * 4 bytes per row, little-endian ARGB/XRGB (B, G, R, A in memory).
   * A later commit of a buffer of the same size and format may update these
   * bytes in place (inside its damage only): read them during the commit
   * event, or copy what must outlive it.
   */
  readonly pixels: Uint8Array;
  /**
   * Set when `pixels` is the whole of this shared memory: a display may then
   * attach it as a wl_shm buffer instead of copying (see SharedPixels).
   */
  readonly shared?: SharedPixels;
  readonly scale: number;
  /** wl_output.transform of the buffer. */
  readonly transform: number;
}

export type ToplevelState = 'maximized' | 'fullscreen' | 'resizing' | 'activated';

export interface ToplevelRole {
  readonly kind: 'toplevel';
  title: string;
  appId: string;
  parent: SceneSurface | null;
  minSize: { width: number; height: number };
  maxSize: { width: number; height: number };
  /** xdg_surface.set_window_geometry, surface-local; null = the whole surface. */
  geometry: Rect | null;
  fullscreen: boolean;
  maximized: boolean;
  /** The decoration mode the application asked for (xdg-decoration); absent: it did not ask. */
  decoration?: DecorationMode;
}

export type DecorationMode = 'client' | 'server';

export type PointerConstraintKind = 'lock' | 'confine';

/** A toplevel role with nothing set yet (as xdg_surface.get_toplevel creates it), with `fields` over it. */
export function toplevelRole(fields: Partial<Omit<ToplevelRole, 'kind'>> = {}): ToplevelRole {
  return {
    kind: 'toplevel',
    title: '',
    appId: '',
    parent: null,
    minSize: { width: 0, height: 0 },
    maxSize: { width: 0, height: 0 },
    geometry: null,
    fullscreen: false,
    maximized: false,
    ...fields,
  };
}

export interface PopupRole {
  readonly kind: 'popup';
  readonly parent: SceneSurface;
  /**
   * Placement relative to the parent surface's origin, surface-local: where
   * the popup's window geometry goes (xdg_popup.configure's rectangle, moved
   * from the parent's window geometry to the parent's surface origin). The
   * popup's surface origin is at (rect.x - geometry.x, rect.y - geometry.y).
   */
  rect: Rect;
  readonly grab: boolean;
  /** xdg_surface.set_window_geometry of the popup, surface-local; null or absent = the whole surface. */
  geometry?: Rect | null;
  /** The application's positioner, for a consumer whose compositor adjusts popups to its output; absent = place at `rect`. */
  positioner?: PopupPositioner | null;
}

export interface SubsurfaceRole {
  readonly kind: 'subsurface';
  readonly parent: SceneSurface;
  x: number;
  y: number;
  sync: boolean;
}

export interface CursorRole {
  readonly kind: 'cursor';
  hotspotX: number;
  hotspotY: number;
}

export interface IviRole {
  readonly kind: 'ivi';
  readonly iviId: number;
}

export type Role = ToplevelRole | PopupRole | SubsurfaceRole | CursorRole | IviRole;

/** How a frame was shown, as wp_presentation_feedback.presented says it. */
export interface PresentationInfo {
  /** When it was shown, in nanoseconds of this process's CLOCK_MONOTONIC (`process.hrtime.bigint()`). */
  readonly timeNs: bigint;
  /** Nanoseconds to the next presentation, 0 if unknown. */
  readonly refreshNs: number;
  /** The display's frame counter (0 if it has none). */
  readonly seq: bigint;
  /** wp_presentation_feedback.kind bits. */
  readonly flags: number;
}

/** What changed in one commit, for consumers. */
export interface CommitInfo {
  /** Damaged rectangles in buffer pixels (empty when only state changed). */
  readonly damage: readonly Rect[];
  /** True when the content changed size, format or appeared/disappeared. */
  readonly resized: boolean;
  /** True when the role's fields (title, app_id, sizes, position...) changed. */
  readonly roleChanged: boolean;
  /** True when the stacking of subsurfaces, or their positions (SubsurfaceRole.x/y), changed. */
  readonly stackingChanged: boolean;
  /**
   * The commit asks to be told when it is shown (frame callbacks): a consumer
   * that shows the surface presents it even when nothing else changed.
   */
  readonly frame?: boolean;
  /**
   * Present when the surface has a viewport (or had one until this commit):
   * damage and resize of `SceneSurface.buffer`, for consumers that carry the
   * viewport to their compositor. `damage` and `resized` above are those of
   * `content`, the scaled view. Absent: `content` is the buffer.
   */
  readonly buffer?: { readonly damage: readonly Rect[]; readonly resized: boolean };
}

/** Damage and resize of `SceneSurface.buffer` in a commit. */
export function bufferCommit(info: CommitInfo): { readonly damage: readonly Rect[]; readonly resized: boolean } {
  return info.buffer ?? info;
}

export interface SceneSurfaceEvents {
  /** The surface's state was committed (content and/or role state). */
  commit: [info: CommitInfo];
  /** The surface is gone (client destroyed it or disconnected). */
  destroy: [];
  /** A window management request that takes effect at once (see window-requests.ts). */
  request: [request: WindowRequest];
}

let nextSceneId = 1;

export class SceneSurface extends EventEmitter<SceneSurfaceEvents> {
  /** Unique in the process; stable for the surface's life. */
  readonly id = nextSceneId++;
  role: Role | null = null;
  private buf: Content | null = null;
  private vp: ViewportState | null = null;
  /** `buf` through `vp`, made when first asked for after a change. */
  private view: Content | null = null;
  private viewStale = true;
  /** The viewport and view size of the last commit (for the damage and resize of `content`). */
  private committedViewport: ViewportState | null = null;
  private committedView: { width: number; height: number; format: PixelFormat; scale: number; transform: number } | null = null;
  /** Subsurfaces with this surface itself, bottom to top. */
  stack: SceneSurface[] = [this];
  opaque: readonly Rect[] = [];
  /** Null = the whole surface accepts input. */
  input: readonly Rect[] | null = null;
  /** A pointer lock or confinement the application asked for (zwp_pointer_constraints_v1); announced with a role change. */
  pointerConstraint: PointerConstraintKind | null = null;
  /** The application inhibits idle while this surface is visible (zwp_idle_inhibitor_v1); announced with a role change. */
  idleInhibit = false;
  /**
   * The state of the application's enabled text input on this surface while
   * it has keyboard focus (zwp_text_input_v3), null when none is enabled;
   * announced with a `text-input` window request.
   */
  textInput: TextInputState | null = null;
  /** The application follows the surface's preferred scale (wp_fractional_scale_v1); announced with a role change. */
  fractionalScale = false;
  /**
   * The producer waits to learn how its commits are shown (presentation
   * feedback): a consumer that can tell asks its compositor for every frame of
   * this surface, not only now and then.
   */
  presentationWanted = false;
  destroyed = false;
  /**
   * Set while the surface's pixels are kept up to date elsewhere (the
   * transmitter's native steady path): brings `content` up to date, and is
   * called before `content` or `buffer` is read.
   */
  settlePixels: (() => void) | null = null;

  constructor(
    /** Who owns the surface: the client (application or transmitter) it belongs to. */
    readonly owner: SceneOwner,
  ) {
    super();
  }

  /**
   * What the surface shows: its buffer, cropped and scaled by its viewport
   * when it has one (made here on first use). Null when no buffer is
   * attached (unmapped). Setting it sets a buffer without viewport.
   */
  get content(): Content | null {
    this.settlePixels?.();
    const b = this.buf;
    if (b === null || this.vp === null) return b;
    if (this.viewStale || this.view === null) {
      this.view = scaleThroughViewport(b, this.vp, this.view);
      this.viewStale = false;
    }
    return this.view;
  }

  set content(content: Content | null) {
    this.setBuffer(content, null);
  }

  /** The buffer as the client attached it, before the viewport (`content` when there is none). */
  get buffer(): Content | null {
    this.settlePixels?.();
    return this.buf;
  }

  /** Crop and scale of the buffer (wp_viewporter); null: none. */
  get viewport(): ViewportState | null {
    return this.vp;
  }

  /**
   * Producer side: the buffer and its viewport, announced by the next
   * `commit` with the damage of the buffer (consumers of `content` get the
   * damage of the view).
   */
  setBuffer(buffer: Content | null, viewport: ViewportState | null): void {
    this.buf = buffer;
    this.vp = viewportActive(viewport) ? viewport : null;
    this.viewStale = true;
  }

  get mapped(): boolean {
    return this.buf !== null && this.role !== null;
  }

  /** Surface-local size (buffer size / scale, or the viewport's destination). */
  get size(): { width: number; height: number } {
    const c = this.buf;
    if (c === null) return { width: 0, height: 0 };
    return this.vp === null ? surfaceSize(c.width, c.height, c.transform, c.scale) : viewSize(c, this.vp);
  }

  /** The toplevel (or ivi / root) surface this surface belongs to. */
  get root(): SceneSurface {
    let s: SceneSurface = this;
    while (s.role !== null && (s.role.kind === 'subsurface' || s.role.kind === 'popup')) s = s.role.parent;
    return s;
  }

  get appId(): string {
    const r = this.root.role;
    return r !== null && r.kind === 'toplevel' ? r.appId : '';
  }

  /** Producer side: announce a commit. */
  commit(info: CommitInfo): void {
    const b = this.buf;
    const v = this.vp;
    const size = b === null ? null : v === null ? b : { ...viewSize(b, v), format: b.format, transform: 0 };
    const view = b === null || size === null ? null : { width: size.width * (v === null ? 1 : b.scale), height: size.height * (v === null ? 1 : b.scale), format: b.format, scale: b.scale, transform: size.transform };
    const last = this.committedView;
    const hadViewport = this.committedViewport !== null;
    const viewportChanged = !sameViewport(v, this.committedViewport);
    this.committedViewport = v;
    this.committedView = view;
    if (v === null && !hadViewport) {
      this.emit('commit', info);
      return;
    }
    const resized =
      (view === null) !== (last === null) ||
      (view !== null && last !== null && (view.width !== last.width || view.height !== last.height || view.format !== last.format || view.scale !== last.scale || view.transform !== last.transform));
    let damage: readonly Rect[] = info.damage;
    if (view !== null && (resized || viewportChanged || (v !== null && (info.damage.length > 0 || info.resized)))) damage = [{ x: 0, y: 0, width: view.width, height: view.height }];
    if (damage.length > 0 || resized || viewportChanged) this.viewStale = true;
    this.emit('commit', { ...info, damage, resized, buffer: { damage: info.damage, resized: info.resized } });
  }

  /** Producer side: a window management request of the client. */
  request(request: WindowRequest): void {
    if (!this.destroyed) this.emit('request', request);
  }

  /** Producer side: the surface is gone. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('destroy');
    this.removeAllListeners();
  }
}

/** A producer's client (an application on the transmitter, a transmitter on the receiver). */
export interface SceneOwner {
  readonly name: string;
  readonly feedback: SceneFeedback;
}

export type ButtonState = 'pressed' | 'released';

/** wl_pointer.axis_source values (wthp_pointer.axis_source has the same). */
export const AxisSource = Object.freeze({ wheel: 0, finger: 1, continuous: 2, wheelTilt: 3 });

export function isAxisSource(source: number): boolean {
  return Number.isInteger(source) && source >= AxisSource.wheel && source <= AxisSource.wheelTilt;
}

/**
 * An axis source as a pointer object of `version` may receive it: wheel_tilt
 * exists since version 6 and is sent as wheel before (as weston does).
 */
export function axisSourceFor(version: number, source: number): number {
  return source === AxisSource.wheelTilt && version < 6 ? AxisSource.wheel : source;
}
export type KeyState = 'pressed' | 'released';

/**
 * Everything a consumer sends back to the producer of a surface. The
 * transmitter implements it by injecting Wayland events into applications;
 * the receiver implements it by sending Waltham events to the transmitter.
 * Times are milliseconds (wl_pointer/wl_keyboard time).
 */
export interface SceneFeedback {
  /**
   * The frame committed last on `surface` is on screen: answer its frame
   * callbacks. `info`: when and how the display showed it (wp_presentation),
   * where its compositor reports that.
   */
  presented(surface: SceneSurface, timeMs: number, info?: PresentationInfo): void;
  /** The consumer's compositor chose a size (0 = client's choice) and states for a toplevel. */
  configure(surface: SceneSurface, width: number, height: number, states: readonly ToplevelState[]): void;
  /** The user asked to close a toplevel. */
  close(surface: SceneSurface): void;
  /** The consumer's compositor chose how a toplevel is decorated (it asked through `ToplevelRole.decoration`). */
  decorationMode?(surface: SceneSurface, mode: DecorationMode): void;
  /** A popup was placed (relative to its parent) or dismissed. */
  popupConfigure(surface: SceneSurface, rect: Rect): void;
  popupDone(surface: SceneSurface): void;

  pointerEnter(surface: SceneSurface, x: number, y: number): void;
  pointerLeave(surface: SceneSurface): void;
  pointerMotion(timeMs: number, x: number, y: number): void;
  /** Linux evdev button code (BTN_LEFT = 0x110). May return the producer's serial of the event (for WindowRequest). */
  pointerButton(timeMs: number, button: number, state: ButtonState): number | void;
  /** axis 0 = vertical, 1 = horizontal. */
  pointerAxis(timeMs: number, axis: number, value: number): void;
  /**
   * What produced the axis events of this frame (wl_pointer.axis_source: 0 wheel,
   * 1 finger, 2 continuous, 3 wheel_tilt); comes before them.
   */
  pointerAxisSource(source: number): void;
  /** Scrolling on `axis` stopped (wl_pointer.axis_stop, e.g. the fingers left a touchpad). */
  pointerAxisStop(timeMs: number, axis: number): void;
  /**
   * The next pointerAxis on `axis` is `discrete` wheel steps (wl_pointer.axis_discrete,
   * negative = up/left); comes before that pointerAxis, in the same frame.
   */
  pointerAxisDiscrete(axis: number, discrete: number): void;
  /** Ends a group of pointer events that belong together (wl_pointer.frame). */
  pointerFrame(): void;
  /**
   * Relative motion of the consumer's pointer while its compositor holds a
   * constraint on `surface` (zwp_relative_pointer_v1.relative_motion; time in
   * microseconds).
   */
  pointerRelativeMotion?(surface: SceneSurface, timeUs: bigint, dx: number, dy: number, dxUnaccel: number, dyUnaccel: number): void;
  /** The consumer's compositor activated or deactivated the constraint of `surface`. */
  pointerConstraintActive?(surface: SceneSurface, active: boolean): void;
  /** The consumer's input method composed text for the text input of `surface` (zwp_text_input_v3 events up to done). */
  textInputDone?(surface: SceneSurface, events: TextInputEvents): void;
  /** The consumer's compositor prefers `scale` / 120 for `surface` (wp_fractional_scale_v1.preferred_scale; it asked through `fractionalScale`). */
  preferredScale?(surface: SceneSurface, scale: number): void;

  keyboardEnter(surface: SceneSurface, pressed: readonly number[]): void;
  keyboardLeave(surface: SceneSurface): void;
  /** evdev key code (xkb keycode - 8). */
  key(timeMs: number, key: number, state: KeyState): void;
  modifiers(depressed: number, latched: number, locked: number, group: number): void;
  /** XKB v1 keymap text of the consumer's keyboard. */
  keymap(text: string): void;
  repeatInfo(rate: number, delay: number): void;

  /** May return the producer's serial of the event (for WindowRequest). */
  touchDown(surface: SceneSurface, timeMs: number, id: number, x: number, y: number): number | void;
  touchUp(timeMs: number, id: number): void;
  touchMotion(timeMs: number, id: number, x: number, y: number): void;
  touchFrame(): void;
  touchCancel(): void;
}

/** A set of surfaces from one or more owners, announced to consumers. */
export interface SceneEvents {
  /** A new surface exists (it may get a role and content later: listen to its commits). */
  surface: [surface: SceneSurface];
  /** The pointer image an owner asked for changed (wl_pointer.set_cursor): a surface with the cursor role, or null to hide it. */
  cursor: [owner: SceneOwner, cursor: SceneSurface | null];
  /** What the consumers' compositors offer changed (see `Scene.offered`). */
  offers: [];
}

/**
 * Features a consumer's compositor offers, for producers that adapt to them:
 * `seat:pointer`, `seat:keyboard`, `seat:touch` (its seat's capabilities),
 * `server-side-decorations` (xdg-decoration), `fractional-scale` (the
 * preferred scale of surfaces, wp_fractional_scale_manager_v1).
 */
export type ConsumerOffer = 'seat:pointer' | 'seat:keyboard' | 'seat:touch' | 'server-side-decorations' | 'fractional-scale';

export class Scene extends EventEmitter<SceneEvents> {
  readonly surfaces = new Set<SceneSurface>();

  add(surface: SceneSurface): void {
    this.surfaces.add(surface);
    surface.once('destroy', () => this.surfaces.delete(surface));
    this.emit('surface', surface);
  }

  /** The current cursor of each owner (null = hidden; absent = never set). */
  readonly cursors = new Map<SceneOwner, SceneSurface | null>();

  setCursor(owner: SceneOwner, cursor: SceneSurface | null): void {
    this.cursors.set(owner, cursor);
    this.emit('cursor', owner, cursor);
  }

  private readonly consumerOffers = new Map<object, ReadonlySet<ConsumerOffer>>();

  /** A consumer tells what its compositor offers now (null: it is gone). */
  setConsumerOffers(consumer: object, offers: Iterable<ConsumerOffer> | null): void {
    if (offers === null) {
      if (!this.consumerOffers.delete(consumer)) return;
    } else {
      this.consumerOffers.set(consumer, new Set(offers));
    }
    this.emit('offers');
  }

  /** Whether some consumer offers `feature`; null when no consumer has said what it offers. */
  offered(feature: ConsumerOffer): boolean | null {
    if (this.consumerOffers.size === 0) return null;
    for (const set of this.consumerOffers.values()) if (set.has(feature)) return true;
    return false;
  }

  /** Mapped surfaces with a toplevel or ivi role, in creation order. */
  roots(): SceneSurface[] {
    return [...this.surfaces].filter((s) => s.role !== null && (s.role.kind === 'toplevel' || s.role.kind === 'ivi'));
  }
}
