/**
 * What the link knows of one connection to a receiver: the mirrored scene
 * surfaces (`Remote`), the bound globals and devices (`ConnectionState`), and
 * the context the link's parts share (`LinkContext`).
 */
import type { SteadyLink } from './steady.js';
import type { PopupPositioner } from '../../shared/scene/window-requests.js';
import type { PixelFormat, PresentationInfo, Rect, Scene, SceneFeedback, SceneSurface } from '../../shared/scene/scene.js';
import type {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpIviApplicationProxy,
  WthpIviSurfaceProxy,
  WthpKeyboardProxy,
  WthpPointerProxy,
  WthpPopupProxy,
  WthpRemoteShellProxy,
  WthpSubsurfaceProxy,
  WthpSurfaceProxy,
  WthpToplevelProxy,
  WthpTouchProxy,
  WthpWindowGeometryProxy,
  WthpPresentationProxy,
  WthpWindowManagerProxy,
  WthpDecorationManagerProxy,
  WthpPointerConstraintsProxy,
  WthpIdleInhibitManagerProxy,
  WthpTextInputManagerProxy,
  WthpViewporterProxy,
  WthpFractionalScaleManagerProxy,
} from '../../shared/generated/waltham/waltham.js';
import type { WalthamLogger } from '../../shared/waltham/connection.js';
import type { WalthamClient } from '../../shared/waltham/display.js';
import type { FramePacer } from '../../shared/scene/frame-pacer.js';
import type { InputRelay } from '../../shared/scene/input-relay.js';
import type { OutputInfo } from '../../shared/scene/output.js';
import { CODEC_RAW, codecBit, type TileEncoder } from '../../shared/remote/tiles.js';
import type { ReceiverLinkOptions } from './link.js';
import type { CodecPolicy } from '../../shared/remote/codec-policy.js';
import type { LossySender } from './lossy-sender.js';

/** Past this many damage rectangles a surface's damage is the whole surface. */
export const MAX_DAMAGE_RECTS = 64;

/** Counters behind `LinkStats`. */
export interface LinkCounters {
  connects: number;
  disconnects: number;
  commitsSent: number;
  commitsCoalesced: number;
  framesPresented: number;
  tiles: number;
  unchangedTiles: number;
  rawBytes: number;
  wireBytes: number;
  lossyFrames: number;
  workerFrames: number;
}

/** What the parts of a link share. */
export interface LinkContext {
  readonly scene: Scene;
  readonly options: ReceiverLinkOptions;
  readonly logger: WalthamLogger;
  /** The receiver, for log lines. */
  readonly where: string;
  readonly counters: LinkCounters;
  /** The connection now, or null while there is none. */
  readonly conn: ConnectionState | null;
  readonly running: boolean;
  /** Where the receiver's feedback for a surface goes; never throws. */
  feedbackFor(s: SceneSurface): SceneFeedback;
  /** Send what is pending, soon. */
  scheduleFlush(): void;
  /** Chooses each frame's codec (null for 'raw'). */
  readonly policy: CodecPolicy | null;
  /** Lossy frames being encoded, and the surfaces whose lossy pixels wait to be refined. */
  readonly lossy: LossySender;
  /** A lossy encode failed: this link sends lossless only. */
  lossyBroken: boolean;
  /** Sample the link for the codec policy (after a flush). */
  sample(): void;
  /** Windows whose steady commits are handled natively (steady.ts); null until the link is built. */
  steady: SteadyLink | null;
}

export interface SentToplevel {
  title: string;
  appId: string;
  parent: SceneSurface | null;
  minW: number;
  minH: number;
  maxW: number;
  maxH: number;
  geometry: Rect | null;
  fullscreen: boolean;
  maximized: boolean;
}

/** A scene surface as the receiver knows it, for one connection. */
export class Remote {
  role: WthpToplevelProxy | WthpPopupProxy | WthpSubsurfaceProxy | WthpIviSurfaceProxy | null = null;
  readonly kind: 'toplevel' | 'popup' | 'subsurface' | 'ivi' | 'cursor';
  /** Send a bare commit: state of children (position, synchronized commits) waits for it. */
  needsCommit = false;
  /** How the receiver's display showed the newest frame (wthp_presentation), until its frame callbacks are answered. */
  shown: PresentationInfo | null = null;
  readonly encoder: TileEncoder;
  toplevel: SentToplevel | null = null;
  popupRect: Rect | null = null;
  /** The positioner sent through wthp_window_manager (popups). */
  positioner: PopupPositioner | null = null;
  /** Window geometry sent through wthp_window_geometry (popups). */
  geometry: Rect | null = null;
  position = { x: 0, y: 0 };
  sync = true;
  stack: SceneSurface[];
  opaque: readonly Rect[] = [];
  input: readonly Rect[] | null = null;
  scale = 1;
  transform = 0;
  /** Bytes of tile messages of the last lossless frame sent from JavaScript (steady.ts hands over small frames only). */
  lastWireBytes = 0;
  size: { width: number; height: number; format: PixelFormat } | null = null;
  hotspot: { x: number; y: number } | null = null;
  /** The receiver refused this surface alone (wthp_surface_refusal): its pixels are not sent. */
  refused = false;

  constructor(
    readonly scene: SceneSurface,
    readonly surface: WthpSurfaceProxy,
    kind: Remote['kind'],
    encoder: TileEncoder,
    /** The pacing of the scene surface; a new remote sends everything and starts with no frame in flight. */
    readonly pacer: FramePacer,
  ) {
    this.kind = kind;
    this.encoder = encoder;
    this.stack = [scene];
    pacer.forgetFrames();
    pacer.invalidate();
  }
}

/** The objects of one connection to the receiver. */
export class ConnectionState {
  readonly remotes = new Map<SceneSurface, Remote>();
  readonly byProxy = new Map<WthpSurfaceProxy, SceneSurface>();
  pointer: WthpPointerProxy | null = null;
  keyboard: WthpKeyboardProxy | null = null;
  touch: WthpTouchProxy | null = null;
  codecs = codecBit(CODEC_RAW);
  /** The cursor surface (or null) last given to set_cursor, per owner in focus. */
  cursorSent: SceneSurface | null | undefined = undefined;
  output: Partial<{ -readonly [K in keyof OutputInfo]: OutputInfo[K] }> = {};
  /** The receiver's wthp_window_manager, if it has one. */
  windowManager: WthpWindowManagerProxy | null = null;
  /** wthp_seat capabilities last announced by the receiver. */
  seatCapabilities = 0;
  /** The receiver's wthp_decoration_manager (its compositor has xdg-decoration), or null. */
  decorations: WthpDecorationManagerProxy | null = null;
  /** The receiver's wthp_pointer_constraints (its compositor has pointer constraints), or null. */
  pointerConstraints: WthpPointerConstraintsProxy | null = null;
  /** The receiver's wthp_idle_inhibit_manager (its compositor has idle inhibit), or null. */
  idleInhibit: WthpIdleInhibitManagerProxy | null = null;
  /** The receiver's wthp_text_input_manager (its compositor has text-input v3), or null. */
  textInput: WthpTextInputManagerProxy | null = null;
  /** The receiver's wthp_viewporter (its compositor has wp_viewporter), or null: viewports are applied here. */
  viewporter: WthpViewporterProxy | null = null;
  /** The receiver's wthp_fractional_scale_manager (its compositor has wp_fractional_scale_manager_v1), or null. */
  fractionalScale: WthpFractionalScaleManagerProxy | null = null;

  constructor(
    /** Focus, serials and keyboard setup of the receiver's seat. */
    readonly input: InputRelay,
    readonly client: WalthamClient,
    readonly compositor: WthpCompositorProxy,
    readonly shell: WthpRemoteShellProxy,
    readonly content: WthpContentProxy,
    readonly ivi: WthpIviApplicationProxy | null,
    readonly windowGeometry: WthpWindowGeometryProxy | null,
  ) {}

  /** The receiver's wthp_presentation, when it has one. */
  presentation: WthpPresentationProxy | null = null;

  /** The scene surface of a wthp_surface of this connection (null when it is gone). */
  sceneOf(surface: WthpSurfaceProxy | null): SceneSurface | null {
    if (surface === null) return null;
    const s = this.byProxy.get(surface);
    return s === undefined || s.destroyed ? null : s;
  }
}

export function kindOf(s: SceneSurface): Remote['kind'] | null {
  return s.role === null ? null : s.role.kind;
}

/** Hops from a surface to its root through subsurface and popup parents. */
export function depth(s: SceneSurface): number {
  let n = 0;
  for (let p: SceneSurface = s; n < 64; n++) {
    const role = p.role;
    if (role === null || (role.kind !== 'subsurface' && role.kind !== 'popup')) break;
    p = role.parent;
  }
  return n;
}

/** A number as a wire int (int32), whatever the producer put there. */
export function int(v: number): number {
  return Number.isFinite(v) ? Math.max(-0x80000000, Math.min(0x7fffffff, Math.trunc(v))) : 0;
}

/** A string the wire can carry (no NUL). */
export function text(v: string): string {
  return v.includes('\0') ? v.replace(/\0/g, '') : v;
}
