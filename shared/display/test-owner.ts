/**
 * A scene producer for tests of scene consumers: it creates surfaces with
 * known pixels and roles, changes them the way a producer does (commit with
 * damage, resize, role changes, destroy), and records every `SceneFeedback`
 * call it receives so tests can wait for and inspect them.
 *
 * Colours are 0xRRGGBB; content is XRGB8888 unless asked otherwise (B, G, R,
 * A bytes in memory, as in wl_shm).
 */
import type { PopupPositioner } from '../scene/window-requests.js';
import {
  SceneSurface,
  type ButtonState,
  type CommitInfo,
  type Content,
  type KeyState,
  type PixelFormat,
  type PopupRole,
  type PresentationInfo,
  type Rect,
  type Role,
  type Scene,
  type SceneFeedback,
  type SceneOwner,
  type SubsurfaceRole,
  type ToplevelRole,
  type ToplevelState,
} from '../scene/scene.js';

export type FeedbackMethod = keyof SceneFeedback;

export interface FeedbackCall {
  readonly method: FeedbackMethod;
  /** The surface argument, for the calls that have one. */
  readonly surface: SceneSurface | null;
  /** The other arguments, in order. */
  readonly args: readonly unknown[];
  /** performance.now() when it arrived. */
  readonly at: number;
}

/** Fill `rect` of a `width`-pixel-wide BGRA buffer with 0xRRGGBB (alpha 0xff). */
export function fillPixels(pixels: Uint8Array, width: number, rect: Rect, colour: number, alpha = 0xff): void {
  const b = colour & 0xff;
  const g = (colour >>> 8) & 0xff;
  const r = (colour >>> 16) & 0xff;
  const height = pixels.length / 4 / width;
  const x2 = Math.min(width, rect.x + rect.width);
  const y2 = Math.min(height, rect.y + rect.height);
  for (let y = Math.max(0, rect.y); y < y2; y++) {
    for (let x = Math.max(0, rect.x); x < x2; x++) {
      const i = (y * width + x) * 4;
      pixels[i] = b;
      pixels[i + 1] = g;
      pixels[i + 2] = r;
      pixels[i + 3] = alpha;
    }
  }
}

export interface ContentOptions {
  readonly format?: PixelFormat;
  readonly scale?: number;
  readonly transform?: number;
}

/** A solid-colour content. */
export function solidContent(width: number, height: number, colour: number, options: ContentOptions = {}): Content {
  const pixels = new Uint8Array(width * height * 4);
  fillPixels(pixels, width, { x: 0, y: 0, width, height }, colour);
  return { width, height, pixels, format: options.format ?? 'xrgb8888', scale: options.scale ?? 1, transform: options.transform ?? 0 };
}

/** A content split in four solid quadrants: top-left, top-right, bottom-left, bottom-right. */
export function quadrantContent(width: number, height: number, colours: readonly [number, number, number, number], options: ContentOptions = {}): Content {
  const c = solidContent(width, height, colours[0], options);
  const hw = Math.floor(width / 2);
  const hh = Math.floor(height / 2);
  fillPixels(c.pixels, width, { x: hw, y: 0, width: width - hw, height: hh }, colours[1]);
  fillPixels(c.pixels, width, { x: 0, y: hh, width: hw, height: height - hh }, colours[2]);
  fillPixels(c.pixels, width, { x: hw, y: hh, width: width - hw, height: height - hh }, colours[3]);
  return c;
}

function expectKind<K extends Role['kind']>(role: Role, kind: K): Extract<Role, { kind: K }> {
  if (role.kind !== kind) throw new Error(`the surface's role is ${role.kind}, not ${kind}`);
  return role as Extract<Role, { kind: K }>;
}

const FULL: CommitInfo = { damage: [], resized: true, roleChanged: true, stackingChanged: false };

export interface ToplevelOptions {
  readonly title?: string;
  readonly appId?: string;
  readonly content?: Content | null;
  readonly parent?: SceneSurface | null;
  readonly minSize?: { width: number; height: number };
  readonly maxSize?: { width: number; height: number };
  readonly geometry?: Rect | null;
  readonly fullscreen?: boolean;
  readonly maximized?: boolean;
}

export class TestOwner implements SceneOwner, SceneFeedback {
  readonly feedback: SceneFeedback = this;
  readonly calls: FeedbackCall[] = [];
  readonly surfaces = new Set<SceneSurface>();
  private readonly waiters = new Set<() => void>();
  /** Called for each `presented` (after it is recorded): an animated producer commits its next frame here. */
  onPresented: ((surface: SceneSurface, timeMs: number) => void) | null = null;

  constructor(readonly name = 'test-owner') {}

  // ---- producing ---------------------------------------------------------

  private add(scene: Scene, role: Role, content: Content | null): SceneSurface {
    const s = new SceneSurface(this);
    s.role = role;
    s.content = content;
    this.surfaces.add(s);
    s.once('destroy', () => this.surfaces.delete(s));
    scene.add(s);
    s.commit(FULL);
    return s;
  }

  toplevel(scene: Scene, options: ToplevelOptions = {}): SceneSurface {
    const role: ToplevelRole = {
      kind: 'toplevel',
      title: options.title ?? '',
      appId: options.appId ?? '',
      parent: options.parent ?? null,
      minSize: options.minSize ?? { width: 0, height: 0 },
      maxSize: options.maxSize ?? { width: 0, height: 0 },
      geometry: options.geometry ?? null,
      fullscreen: options.fullscreen ?? false,
      maximized: options.maximized ?? false,
    };
    return this.add(scene, role, options.content === undefined ? solidContent(100, 100, 0x808080) : options.content);
  }

  ivi(scene: Scene, iviId: number, content: Content): SceneSurface {
    return this.add(scene, { kind: 'ivi', iviId }, content);
  }

  /** A subsurface placed on top of its parent's stack. */
  subsurface(scene: Scene, parent: SceneSurface, x: number, y: number, content: Content, sync = false): SceneSurface {
    const s = new SceneSurface(this);
    s.role = { kind: 'subsurface', parent, x, y, sync };
    s.content = content;
    this.surfaces.add(s);
    s.once('destroy', () => {
      this.surfaces.delete(s);
      parent.stack = parent.stack.filter((x) => x !== s);
    });
    parent.stack = [...parent.stack, s];
    scene.add(s);
    s.commit(FULL);
    parent.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
    return s;
  }

  /** A popup whose window geometry (default: the whole surface) goes at `rect` of its parent. */
  popup(scene: Scene, parent: SceneSurface, rect: Rect, content: Content, options: { grab?: boolean; geometry?: Rect | null; positioner?: PopupPositioner } = {}): SceneSurface {
    const positioner = options.positioner === undefined ? {} : { positioner: options.positioner };
    return this.add(scene, { kind: 'popup', parent, rect, grab: options.grab ?? false, geometry: options.geometry ?? null, ...positioner }, content);
  }

  /** A cursor surface, made this owner's current cursor. */
  cursor(scene: Scene, content: Content, hotspotX = 0, hotspotY = 0): SceneSurface {
    const s = this.add(scene, { kind: 'cursor', hotspotX, hotspotY }, content);
    scene.setCursor(this, s);
    return s;
  }

  /** Paint `rect` (buffer pixels) in `colour` and commit it as damage. */
  paint(surface: SceneSurface, rect: Rect, colour: number): void {
    const c = surface.content;
    if (c === null) throw new Error(`surface ${surface.id} has no content`);
    fillPixels(c.pixels, c.width, rect, colour);
    surface.commit({ damage: [rect], resized: false, roleChanged: false, stackingChanged: false });
  }

  /** Replace the content (new size or format), committed as resized. */
  setContent(surface: SceneSurface, content: Content | null): void {
    surface.content = content;
    surface.commit({ damage: content === null ? [] : [{ x: 0, y: 0, width: content.width, height: content.height }], resized: true, roleChanged: false, stackingChanged: false });
  }

  /** Change role fields and commit them. */
  updateRole(surface: SceneSurface, change: (role: Role) => void): void {
    if (surface.role === null) throw new Error(`surface ${surface.id} has no role`);
    change(surface.role);
    surface.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
  }

  updateToplevel(surface: SceneSurface, change: (role: ToplevelRole) => void): void {
    this.updateRole(surface, (r) => change(expectKind(r, 'toplevel')));
  }

  updateSubsurface(surface: SceneSurface, change: (role: SubsurfaceRole) => void): void {
    this.updateRole(surface, (r) => change(expectKind(r, 'subsurface')));
  }

  updatePopup(surface: SceneSurface, change: (role: PopupRole) => void): void {
    this.updateRole(surface, (r) => change(expectKind(r, 'popup')));
  }

  /** Move a subsurface; like Wayland, the move is committed by its parent (stackingChanged). */
  moveSubsurface(surface: SceneSurface, x: number, y: number): void {
    const role = expectKind(surface.role!, 'subsurface');
    role.x = x;
    role.y = y;
    role.parent.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
  }

  /** Reorder `parent.stack` (bottom to top) and commit it. */
  restack(parent: SceneSurface, stack: SceneSurface[]): void {
    parent.stack = stack;
    parent.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
  }

  /** The owner goes away: all its surfaces are destroyed (children first). */
  destroyAll(): void {
    const all = [...this.surfaces].sort((a, b) => b.id - a.id);
    for (const s of all) s.destroy();
  }

  // ---- recording ----------------------------------------------------------

  private record(method: FeedbackMethod, surface: SceneSurface | null, ...args: unknown[]): void {
    this.calls.push({ method, surface, args, at: performance.now() });
    for (const w of [...this.waiters]) w();
  }

  /** Calls of `method` (optionally for `surface`). */
  callsOf(method: FeedbackMethod, surface?: SceneSurface): FeedbackCall[] {
    return this.calls.filter((c) => c.method === method && (surface === undefined || c.surface === surface));
  }

  count(method: FeedbackMethod, surface?: SceneSurface): number {
    return this.callsOf(method, surface).length;
  }

  /** The methods received so far, in order (for readable assertions). */
  methods(): FeedbackMethod[] {
    return this.calls.map((c) => c.method);
  }

  clear(): void {
    this.calls.length = 0;
  }

  /**
   * Wait for a call of `method` matching `predicate`, among the calls from
   * index `from` on (default: all recorded so far, then new ones).
   */
  waitFor(method: FeedbackMethod, predicate: (c: FeedbackCall) => boolean = () => true, timeoutMs = 5000, from = 0): Promise<FeedbackCall> {
    return new Promise((resolve, reject) => {
      let index = from;
      const check = (): boolean => {
        for (; index < this.calls.length; index++) {
          const c = this.calls[index]!;
          if (c.method === method && predicate(c)) {
            done();
            resolve(c);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        const seen = this.methods().slice(-15).join(', ');
        reject(new Error(`${this.name}: no matching ${method} within ${timeoutMs} ms (last calls: ${seen || 'none'})`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (): void => {
        check();
      };
      if (!check()) this.waiters.add(waiter);
    });
  }

  // ---- SceneFeedback ------------------------------------------------------

  presented(surface: SceneSurface, timeMs: number, info?: PresentationInfo): void {
    if (info === undefined) this.record('presented', surface, timeMs);
    else this.record('presented', surface, timeMs, info);
    this.onPresented?.(surface, timeMs);
  }
  configure(surface: SceneSurface, width: number, height: number, states: readonly ToplevelState[]): void {
    this.record('configure', surface, width, height, [...states]);
  }
  close(surface: SceneSurface): void {
    this.record('close', surface);
  }
  popupConfigure(surface: SceneSurface, rect: Rect): void {
    this.record('popupConfigure', surface, { ...rect });
  }
  popupDone(surface: SceneSurface): void {
    this.record('popupDone', surface);
  }
  pointerEnter(surface: SceneSurface, x: number, y: number): void {
    this.record('pointerEnter', surface, x, y);
  }
  pointerLeave(surface: SceneSurface): void {
    this.record('pointerLeave', surface);
  }
  pointerMotion(timeMs: number, x: number, y: number): void {
    this.record('pointerMotion', null, timeMs, x, y);
  }
  pointerButton(timeMs: number, button: number, state: ButtonState): void {
    this.record('pointerButton', null, timeMs, button, state);
  }
  pointerAxis(timeMs: number, axis: number, value: number): void {
    this.record('pointerAxis', null, timeMs, axis, value);
  }
  pointerAxisSource(source: number): void {
    this.record('pointerAxisSource', null, source);
  }
  pointerAxisStop(timeMs: number, axis: number): void {
    this.record('pointerAxisStop', null, timeMs, axis);
  }
  pointerAxisDiscrete(axis: number, discrete: number): void {
    this.record('pointerAxisDiscrete', null, axis, discrete);
  }
  pointerFrame(): void {
    this.record('pointerFrame', null);
  }
  keyboardEnter(surface: SceneSurface, pressed: readonly number[]): void {
    this.record('keyboardEnter', surface, [...pressed]);
  }
  keyboardLeave(surface: SceneSurface): void {
    this.record('keyboardLeave', surface);
  }
  key(timeMs: number, key: number, state: KeyState): void {
    this.record('key', null, timeMs, key, state);
  }
  modifiers(depressed: number, latched: number, locked: number, group: number): void {
    this.record('modifiers', null, depressed, latched, locked, group);
  }
  keymap(text: string): void {
    this.record('keymap', null, text);
  }
  repeatInfo(rate: number, delay: number): void {
    this.record('repeatInfo', null, rate, delay);
  }
  touchDown(surface: SceneSurface, timeMs: number, id: number, x: number, y: number): void {
    this.record('touchDown', surface, timeMs, id, x, y);
  }
  touchUp(timeMs: number, id: number): void {
    this.record('touchUp', null, timeMs, id);
  }
  touchMotion(timeMs: number, id: number, x: number, y: number): void {
    this.record('touchMotion', null, timeMs, id, x, y);
  }
  touchFrame(): void {
    this.record('touchFrame', null);
  }
  touchCancel(): void {
    this.record('touchCancel', null);
  }
}
