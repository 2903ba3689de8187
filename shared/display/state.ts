/**
 * What the parts of a LocalDisplay share: the connection to the compositor
 * and its globals, the local seat's devices and input relay, the attached
 * scenes, the mirrors of scene surfaces, and the containment of producers'
 * feedback (what it throws is logged, never propagated: one owner cannot
 * break the display of the others, and no exception reaches the Wayland
 * connection, whose handlers must not throw).
 */
import type { DisplayPresentation } from './presentation.js';
import type { SharedBuffers } from './shared-buffers.js';
import type { Logger } from '../log.js';
import type { Scene, SceneFeedback, SceneOwner, SceneSurface } from '../scene/scene.js';
import type {
  IviApplicationProxy,
  WlCompositorProxy,
  WlKeyboardProxy,
  WlPointerProxy,
  WlSeatProxy,
  WlShmProxy,
  WlSubcompositorProxy,
  WlSurfaceProxy,
  WlTouchProxy,
  XdgWmBaseProxy,
  ZxdgDecorationManagerV1Proxy,
  ZwpPointerConstraintsV1Proxy,
  ZwpRelativePointerManagerV1Proxy,
  ZwpIdleInhibitManagerV1Proxy,
  ZwpTextInputManagerV3Proxy,
  WpViewporterProxy,
  WpFractionalScaleManagerV1Proxy,
} from '../generated/wayland/index.js';
import type { WaylandClient, Registry } from '../wayland/client.js';
import { InputRelay } from '../scene/input-relay.js';
import { guardFeedback } from '../remote/guard.js';
import type { LocalDisplayOptions } from './local-display.js';
import type { Binding, Mirror, Tracked } from './mirror.js';
import { Outputs, type OutputState } from './outputs.js';
import type { Chooser } from './show.js';
import type { LocalObjects } from './objects.js';
import type { RoleState } from './roles.js';
import type { Frames } from './frames.js';
import type { CursorImage } from './cursor.js';
import type { SceneBindings } from './scenes.js';
import type { Seat } from './seat.js';
import type { DisplaySelection } from './selection.js';

/** The parts of a LocalDisplay, one concern each. */
export interface DisplayParts {
  readonly scenes: SceneBindings;
  readonly show: Chooser;
  readonly objects: LocalObjects;
  readonly roles: RoleState;
  readonly frames: Frames;
  readonly cursor: CursorImage;
  readonly seat: Seat;
  readonly selection: DisplaySelection;
}

export class DisplayState {
  client: WaylandClient | null = null;
  registry: Registry | null = null;
  compositor: WlCompositorProxy | null = null;
  shm: WlShmProxy | null = null;
  /** wl_buffers over producers' shared memory (content attached without a copy). */
  sharedBuffers: SharedBuffers | null = null;
  subcompositor: WlSubcompositorProxy | null = null;
  wmBase: XdgWmBaseProxy | null = null;
  iviApplication: IviApplicationProxy | null = null;
  /** The compositor's wp_presentation, when it has one. */
  presentation: DisplayPresentation | null = null;
  /** The compositor's zxdg_decoration_manager_v1 (server-side decorations), if it has one. */
  decorationManager: ZxdgDecorationManagerV1Proxy | null = null;
  /** The compositor's pointer constraints and relative pointer managers, if it has both. */
  pointerConstraints: ZwpPointerConstraintsV1Proxy | null = null;
  relativePointerManager: ZwpRelativePointerManagerV1Proxy | null = null;
  /** The compositor's idle inhibit manager, if it has one. */
  idleInhibitManager: ZwpIdleInhibitManagerV1Proxy | null = null;
  /** The compositor's text input manager (zwp_text_input_manager_v3), if it has one. */
  textInputManager: ZwpTextInputManagerV3Proxy | null = null;
  /** The compositor's wp_viewporter, when it has one and the display sets viewports (`LocalDisplayOptions.viewporter`). */
  viewporter: WpViewporterProxy | null = null;
  /** The compositor's wp_fractional_scale_manager_v1, if it has one. */
  fractionalScaleManager: WpFractionalScaleManagerV1Proxy | null = null;
  /** The local seat's capabilities (wl_seat.capabilities; 0 without a seat), and who wants to know. */
  seatCapabilities = 0;
  onSeatCapabilities: ((caps: number) => void) | null = null;
  readonly outputs = new Outputs();

  seat: WlSeatProxy | null = null;
  pointer: WlPointerProxy | null = null;
  keyboard: WlKeyboardProxy | null = null;
  touch: WlTouchProxy | null = null;
  /** Focus, serials and keyboard setup of the local seat; the keymap goes to the owner in keyboard focus. */
  readonly input: InputRelay = new InputRelay({
    feedbackFor: (s) => this.feedbackOf(s),
    keyboardAudience: () => {
      const s = this.input.keyboardFocus;
      return s === null ? [] : [this.feedbackOf(s)];
    },
  });

  readonly bindings = new Map<Scene, Binding>();
  readonly tracked = new Map<SceneSurface, Tracked>();
  readonly mirrors = new Map<SceneSurface, Mirror>();
  readonly byProxy = new Map<WlSurfaceProxy, Mirror>();
  readonly iviIds = new Map<number, Mirror>();
  isClosed = false;
  /** Called before a surface's local objects go (shared/display/steady.ts). */
  onMirrorGone: ((s: SceneSurface) => void) | null = null;
  readonly counters = { contentCommits: 0, coalesced: 0, presented: 0, bytesCopied: 0 };
  /** Guarded feedbacks of this display (logged as this display logs). */
  private readonly guarded = new WeakMap<SceneFeedback, SceneFeedback>();

  constructor(
    readonly options: LocalDisplayOptions,
    readonly logger: Logger,
  ) {}

  findOutput(name: string | undefined): OutputState | null {
    return this.outputs.find(name);
  }

  /** The feedback of the owner of `s`; what it throws is logged, never propagated. */
  feedbackOf(s: SceneSurface): SceneFeedback {
    const owner = s.owner;
    return guardFeedback(
      owner.feedback,
      (method, error) =>
        this.logger.error({ err: error, owner: owner.name }, `${owner.name}: ${method} threw: ${(error as Error)?.message ?? String(error)}`),
      this.guarded,
    );
  }

  /** Call a producer's feedback; what it throws is logged, never propagated. */
  feedback(s: SceneSurface, what: string, fn: (f: SceneFeedback) => void): void {
    if (s.destroyed) return;
    this.safely(s.owner, what, () => fn(s.owner.feedback), undefined);
  }

  safely<T>(owner: SceneOwner, what: string, fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (error) {
      this.logger.error({ err: error, owner: owner.name }, `${owner.name}: ${what} threw: ${(error as Error)?.message ?? String(error)}`);
      return fallback;
    }
  }
}
