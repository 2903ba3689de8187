/**
 * One application connected to the virtual display: a `SceneOwner` whose
 * `feedback` turns what consumers report (presentation, configures, input)
 * into Wayland events for that application.
 *
 * Feedback naming a surface checks that the surface is one of this client's
 * live surfaces; calls about anything else are ignored (a consumer may be a
 * message behind a surface that just went away).
 */
import type {
  ButtonState,
  DecorationMode,
  KeyState,
  PresentationInfo,
  Rect,
  SceneFeedback,
  SceneOwner,
  SceneSurface,
  ToplevelState,
} from '../../shared/scene/scene.js';
import type { TextInputEvents } from '../../shared/scene/text-input.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import type {
  WlDataDeviceResource,
  WlKeyboardResource,
  WlOutputResource,
  WlPointerResource,
  WlTouchResource,
  WpPresentationResource,
} from '../../shared/generated/wayland/index.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';
import { decorationChosen } from './decoration.js';
import { iviSurfaceOf } from './ivi.js';
import { sendRelativeMotion } from './relative-pointer.js';
import { textInputDone } from './text-input-v3.js';
import { sendPreferredScale } from './fractional-scale.js';
import { XdgPopup, XdgToplevel, xdgRoleOf } from './xdg-shell.js';

export class ClientState implements SceneOwner {
  readonly name: string;
  readonly feedback: SceneFeedback;
  readonly surfaces = new Set<Surface>();
  readonly outputs = new Set<WlOutputResource>();
  readonly pointers = new Set<WlPointerResource>();
  readonly keyboards = new Set<WlKeyboardResource>();
  readonly touches = new Set<WlTouchResource>();
  /** Its wp_presentation objects (the steady commit path takes their feedback requests). */
  readonly presentations = new Set<WpPresentationResource>();
  readonly dataDevices = new Set<WlDataDeviceResource>();
  /** Serial of the last button press (or touch down) delivered to this client: moves and resizes start on it. */
  lastButtonSerial = 0;

  constructor(
    ctx: DisplayContext,
    readonly wsClient: WaylandServerClient,
    /** Process id when known (applications started with `VirtualDisplay.spawn`). */
    readonly pid?: number,
  ) {
    this.name = wsClient.toString();
    this.feedback = new ClientFeedback(ctx, this);
  }

  get gone(): boolean {
    return this.wsClient.closed;
  }

  toString(): string {
    return this.name;
  }
}

/** Coordinates a consumer sends must be finite numbers (wl_fixed carries 24.8 bits). */
function finite(...values: number[]): boolean {
  return values.every((v) => Number.isFinite(v) && Math.abs(v) < 0x7fffff);
}

class ClientFeedback implements SceneFeedback {
  constructor(
    private readonly ctx: DisplayContext,
    private readonly client: ClientState,
  ) {}

  /** The live surface of this client behind `scene`, or undefined. */
  private surface(scene: SceneSurface): Surface | undefined {
    const s = Surface.fromScene(scene);
    if (s === undefined || s.client !== this.client || s.isDestroyed) return undefined;
    return s;
  }

  presented(scene: SceneSurface, _timeMs: number, info?: PresentationInfo): void {
    // The frame time sent to the application comes from this machine's
    // monotonic clock, whatever clock the consumer uses.
    const s = this.surface(scene);
    if (s !== undefined) this.ctx.frames.presented(s, info);
  }

  configure(scene: SceneSurface, width: number, height: number, states: readonly ToplevelState[]): void {
    const s = this.surface(scene);
    if (s === undefined) return;
    const role = xdgRoleOf(s);
    if (role instanceof XdgToplevel) {
      role.consumerConfigure(width, height, states);
      return;
    }
    iviSurfaceOf(s)?.configure(width, height);
  }

  decorationMode(scene: SceneSurface, mode: DecorationMode): void {
    const s = this.surface(scene);
    const role = s === undefined ? null : xdgRoleOf(s);
    if (role instanceof XdgToplevel) decorationChosen(role, mode);
  }

  close(scene: SceneSurface): void {
    const s = this.surface(scene);
    const role = s === undefined ? null : xdgRoleOf(s);
    if (role instanceof XdgToplevel) role.close();
  }

  popupConfigure(scene: SceneSurface, rect: Rect): void {
    const s = this.surface(scene);
    const role = s === undefined ? null : xdgRoleOf(s);
    if (role instanceof XdgPopup) role.consumerConfigure(rect);
  }

  popupDone(scene: SceneSurface): void {
    const s = this.surface(scene);
    const role = s === undefined ? null : xdgRoleOf(s);
    if (role instanceof XdgPopup) role.dismiss();
  }

  pointerEnter(scene: SceneSurface, x: number, y: number): void {
    const s = this.surface(scene);
    if (s !== undefined && finite(x, y)) this.ctx.seat.pointerEnter(s, x, y);
  }

  pointerLeave(scene: SceneSurface): void {
    const s = this.surface(scene);
    if (s !== undefined) this.ctx.seat.pointerLeave(s);
  }

  pointerMotion(timeMs: number, x: number, y: number): void {
    const seat = this.ctx.seat;
    if ((seat.pointerFocus?.client === this.client || seat.drag !== null) && finite(x, y)) seat.pointerMotion(timeMs, x, y);
  }

  pointerButton(timeMs: number, button: number, state: ButtonState): number | undefined {
    const focus = this.ctx.seat.pointerFocus;
    if (focus !== null && focus.client !== this.client) return undefined;
    return this.ctx.seat.pointerButton(timeMs, button >>> 0, state === 'pressed');
  }

  pointerAxis(timeMs: number, axis: number, value: number): void {
    if (this.ctx.seat.pointerFocus?.client === this.client && finite(value)) this.ctx.seat.pointerAxis(timeMs, axis, value);
  }

  pointerAxisSource(source: number): void {
    if (this.ctx.seat.pointerFocus?.client === this.client) this.ctx.seat.pointerAxisSource(source);
  }

  pointerAxisStop(timeMs: number, axis: number): void {
    if (this.ctx.seat.pointerFocus?.client === this.client) this.ctx.seat.pointerAxisStop(timeMs, axis);
  }

  pointerAxisDiscrete(axis: number, discrete: number): void {
    if (this.ctx.seat.pointerFocus?.client === this.client && Number.isInteger(discrete)) this.ctx.seat.pointerAxisDiscrete(axis, discrete);
  }

  pointerRelativeMotion(scene: SceneSurface, timeUs: bigint, dx: number, dy: number, dxUnaccel: number, dyUnaccel: number): void {
    const s = this.surface(scene);
    if (s !== undefined && finite(dx, dy, dxUnaccel, dyUnaccel)) sendRelativeMotion(this.client, timeUs, dx, dy, dxUnaccel, dyUnaccel);
  }

  preferredScale(scene: SceneSurface, scale: number): void {
    const s = this.surface(scene);
    if (s !== undefined) sendPreferredScale(s, scale);
  }

  pointerConstraintActive(scene: SceneSurface, active: boolean): void {
    const s = this.surface(scene);
    if (s !== undefined) this.ctx.logger.info({ client: this.client.name }, `${s.resource.toString()}: the display's compositor ${active ? 'activated' : 'deactivated'} its pointer constraint`);
  }

  textInputDone(scene: SceneSurface, events: TextInputEvents): void {
    if (this.surface(scene) !== undefined) textInputDone(this.ctx, scene, events);
  }

  pointerFrame(): void {
    this.ctx.seat.pointerFrame();
  }

  keyboardEnter(scene: SceneSurface, pressed: readonly number[]): void {
    const seat = this.ctx.seat;
    seat.consumerDrivesFocus = true;
    const s = this.surface(scene);
    if (s === undefined) return;
    if (seat.keyboardFocus !== s) seat.setPressedKeys(pressed);
    seat.setKeyboardFocus(s);
  }

  keyboardLeave(scene: SceneSurface): void {
    const seat = this.ctx.seat;
    seat.consumerDrivesFocus = true;
    const s = this.surface(scene);
    if (s !== undefined && seat.keyboardFocus === s) seat.setKeyboardFocus(null);
  }

  key(timeMs: number, key: number, state: KeyState): void {
    const focus = this.ctx.seat.keyboardFocus;
    if (focus !== null && focus.client !== this.client) return;
    this.ctx.seat.key(timeMs, key >>> 0, state === 'pressed');
  }

  modifiers(depressed: number, latched: number, locked: number, group: number): void {
    this.ctx.seat.modifiers(depressed, latched, locked, group);
  }

  keymap(text: string): void {
    this.ctx.seat.setKeymap(text);
  }

  repeatInfo(rate: number, delay: number): void {
    this.ctx.seat.setRepeatInfo(rate, delay);
  }

  touchDown(scene: SceneSurface, timeMs: number, id: number, x: number, y: number): number | undefined {
    const s = this.surface(scene);
    return s !== undefined && finite(x, y) ? this.ctx.seat.touchDown(s, timeMs, id, x, y) : undefined;
  }

  touchUp(timeMs: number, id: number): void {
    this.ctx.seat.touchUp(timeMs, id);
  }

  touchMotion(timeMs: number, id: number, x: number, y: number): void {
    if (finite(x, y)) this.ctx.seat.touchMotion(timeMs, id, x, y);
  }

  touchFrame(): void {
    this.ctx.seat.touchFrame();
  }

  touchCancel(): void {
    this.ctx.seat.touchCancel();
  }
}
