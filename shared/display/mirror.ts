/**
 * The local objects that show one scene surface (`Mirror`), and the
 * bindings of attached scenes and tracked surfaces.
 */
import type { CommitInfo, Rect, Scene, SceneOwner, SceneSurface, ToplevelState } from '../scene/scene.js';
import type {
  IviSurfaceProxy,
  WlCallbackProxy,
  WlSubsurfaceProxy,
  WlSurfaceProxy,
  XdgPopupProxy,
  XdgSurfaceProxy,
  XdgToplevelProxy,
} from '../generated/wayland/index.js';
import { FramePacer, type FramePacerHooks } from '../scene/frame-pacer.js';
import type { WindowRequest } from '../scene/window-requests.js';
import type { ShmBufferSet } from './buffers.js';
import { Damage } from './damage.js';

export type MirrorKind = 'toplevel' | 'ivi' | 'popup' | 'subsurface' | 'cursor';

/** Times the newest frame's presentation may be deferred for a newer commit before `presented` is sent anyway. */
const MAX_DEFERRED_PRESENTS = 3;
/** Frames in flight per local surface. */
const MAX_FRAMES_IN_FLIGHT = 1;

/** The binding of one attached scene. */
export interface Binding {
  readonly scene: Scene;
  readonly onSurface: (s: SceneSurface) => void;
  readonly onCursor: (owner: SceneOwner, cursor: SceneSurface | null) => void;
}

/** Listeners installed on a tracked scene surface. */
export interface Tracked {
  readonly binding: Binding;
  readonly onCommit: (info: CommitInfo) => void;
  readonly onDestroy: () => void;
  readonly onRequest: (request: WindowRequest) => void;
}

/** The local objects that show one scene surface. */
export class Mirror {
  xdgSurface: XdgSurfaceProxy | null = null;
  toplevel: XdgToplevelProxy | null = null;
  popup: XdgPopupProxy | null = null;
  ivi: IviSurfaceProxy | null = null;
  iviId: number | null = null;
  subsurface: WlSubsurfaceProxy | null = null;
  /** xdg: the first configure has been acked (buffers may be attached); ivi, subsurface, cursor: always. */
  configured = false;
  /** xdg_popup dismissed by the compositor (popup_done): shown no more until the role changes. */
  dismissed = false;
  buffers: ShmBufferSet | null = null;
  /** Size of the content last attached (damage is tracked for it). */
  contentSize: { width: number; height: number } | null = null;
  /** New content to commit (`pending`), its damage (buffer pixels of the current content) and the frames in flight. */
  readonly pacer: FramePacer<Damage>;
  /** A commit is needed for state (position, stacking, sizes, ack...) even without new content. */
  stateDirty = false;
  /** A buffer is attached locally (the surface is mapped). */
  attached = false;
  /** The frame callback in flight (its handlers are dropped when the mirror goes). */
  frame: WlCallbackProxy | null = null;
  /** What was last sent, to send only changes. */
  sent: {
    title?: string;
    appId?: string;
    minSize?: string;
    maxSize?: string;
    parent?: XdgToplevelProxy | null;
    fullscreen?: boolean;
    maximized?: boolean;
    geometry?: string;
    scale?: number;
    transform?: number;
    opaque?: readonly Rect[];
    input?: readonly Rect[] | null;
    position?: string;
    sync?: boolean;
  } = {};
  /** Pending xdg configure values until xdg_surface.configure. */
  pendingSize: { width: number; height: number; states: ToplevelState[] } | null = null;
  /**
   * The size of the last configure acked that binds the window (fullscreen or maximized, with a
   * size): its window geometry may not be larger (xdg-shell; weston posts an error).
   */
  boundSize: { width: number; height: number } | null = null;
  pendingPopupRect: Rect | null = null;
  /** Window geometry origin used for child popups (surface-local). */
  geometryOrigin = { x: 0, y: 0 };
  /** The role object this mirror was made for (a new role object means a new mirror). */
  readonly role: object | null;

  constructor(
    readonly scene: SceneSurface,
    readonly kind: MirrorKind,
    readonly wl: WlSurfaceProxy,
    readonly binding: Binding,
    readonly parent: Mirror | null,
    pacing: FramePacerHooks,
  ) {
    this.role = scene.role;
    this.pacer = new FramePacer(new Damage(0, 0), pacing, { maxInFlight: MAX_FRAMES_IN_FLIGHT, maxDeferredPresents: MAX_DEFERRED_PRESENTS });
  }
}

export function rectKey(r: Rect | null): string {
  return r === null ? '' : `${r.x},${r.y},${r.width},${r.height}`;
}

/** Hops from a surface to its root through subsurface and popup parents. */
export function depth(s: SceneSurface): number {
  let d = 0;
  let cur = s;
  while (cur.role !== null && (cur.role.kind === 'subsurface' || cur.role.kind === 'popup') && d < 64) {
    cur = cur.role.parent;
    d++;
  }
  return d;
}
