/**
 * The display's half of handing a steadily shown surface to native code
 * (the receiver's steady frames, native/wayland-shim/src/steady.rs) and of
 * taking it back.
 *
 * A surface may go when it is shown plainly and nothing of it is under way:
 * a configured toplevel or ivi surface without children or viewport, whose
 * content is attached straight from shared memory (SharedPixels, no copy)
 * at the size given, no frame in flight, no commit waiting, no state left to
 * commit, and every buffer of the producer's pool already a wl_buffer here.
 * It then gets the local ids it needs: its wl_surface, the pool's
 * wl_buffers and whether the compositor reads them, wl_callback ids lent for
 * its frames (objects of the connection under ids the compositor used and
 * freed before, which it takes again when a frame asks for them), and how
 * the display's presentations are predicted (DisplayPresentation), with the
 * compositor's wp_presentation and wp_presentation_feedback ids lent the
 * same way, for the real presentations that check the predictions now and
 * then (or, for a producer that wants presentations on a display not steady
 * yet, that the native side asks for every commit, as the display does here).
 * Taking it back restores what the native side changed: which buffers
 * the compositor reads, and the frame in flight, which is then paced and
 * answered here as if committed here.
 *
 * Whatever would change the local surface (its mirror going) asks the
 * surface back first (`onMirrorGone`).
 */
import { WlCallbackProxy, WpPresentationFeedbackProxy } from '../generated/wayland/index.js';
import type { PixelFormat, SceneSurface } from '../scene/scene.js';
import type { SharedPixels } from '../scene/shared-pixels.js';
import type { WaylandConnection } from '../wayland/connection.js';
import type { WireObject, WireObjectClass } from '../wire/object.js';
import type { DisplayParts, DisplayState } from './state.js';

/** What a native path needs of a shown surface. */
export interface SteadyLocal {
  /** The compositor's socket, and its connection's nativeState cell. */
  readonly fd: number;
  readonly dirty: Uint8Array;
  readonly wlSurface: number;
  /** Per buffer of the pool: its wl_buffer and whether the compositor reads it. */
  readonly wlBuffers: number[];
  readonly busy: boolean[];
  /** wl_callback ids lent for frames. */
  readonly callbackIds: number[];
  /** The compositor's wp_presentation (0: none), its clock, and wp_presentation_feedback ids lent for checks. */
  readonly wpPresentation: number;
  readonly clock: number;
  readonly feedbackIds: number[];
  /** How presentations are predicted (see SteadySurface in native.ts). */
  readonly presentation: {
    readonly mode: number;
    readonly lastTimeNs: number;
    readonly refreshNs: number;
    readonly seqHi: number;
    readonly seqLo: number;
    readonly flags: number;
    readonly lagNs: number;
  };
}

/** Frame callback ids lent at a time. */
const LENT_CALLBACKS = 2;
/** Presentation feedback ids lent at a time (one check in flight, one whose delete_id may be on its way). */
const LENT_FEEDBACKS = 2;
/**
 * The same where every commit asks for its presentation (mode 3): a frame's comes about a
 * refresh after its frame callback, after the next commit.
 */
const LENT_FEEDBACKS_EVERY = 4;

export class DisplaySteady {
  /** Commits and presentations of the surfaces handed over, not counted here yet (for stats). */
  liveCounters: (() => { commits: number; presented: number }) | null = null;
  /** Lent wl_callback and wp_presentation_feedback objects not in use. */
  private spare: WlCallbackProxy[] = [];
  private spareFeedbacks: WpPresentationFeedbackProxy[] = [];

  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  /** The connection to the compositor (null when closed). */
  get connection(): WaylandConnection | null {
    return this.d.isClosed || this.d.client === null ? null : this.d.client.connection;
  }

  /** Called before a surface's local objects go (its mirror is destroyed): take it back first. */
  set onMirrorGone(fn: ((s: SceneSurface) => void) | null) {
    this.d.onMirrorGone = fn;
  }

  /**
   * The local ids for `s`, or null unless it is shown steadily (see the
   * module comment) with `pool` (the producer's buffers, `current` shown now)
   * at `width` x `height` in `format`. With `following`, a surface whose
   * producer wants presentations may go before the display shows itself
   * steady: the native side then asks for every commit's (mode 3).
   */
  target(s: SceneSurface, pool: readonly SharedPixels[], current: number, width: number, height: number, format: PixelFormat, following: boolean): SteadyLocal | null {
    const d = this.d;
    const conn = this.connection;
    const m = d.mirrors.get(s);
    const shared = d.sharedBuffers;
    // A traced connection shows every message: nothing bypasses it.
    if (conn === null || conn.traced || m === undefined || shared === null) return null;
    if ((m.kind !== 'toplevel' && m.kind !== 'ivi') || !m.configured || m.dismissed || m.stateDirty || !m.attached || m.buffers !== null) return null;
    if (m.frame !== null || m.pacer.pending || m.pacer.blocked || s.viewport !== null) return null;
    // A producer that wants presentations on a display not steady yet: the native side asks for
    // every commit's, as the display does here (mode 3), once there is one to predict from.
    let every = false;
    if (d.presentation !== null && !d.presentation.predictable(m.wl, s.presentationWanted)) {
      if (!following || !d.presentation.following(m.wl) || d.presentation.checkable === null) return null;
      every = true;
    }
    if (m.contentSize === null || m.contentSize.width !== width || m.contentSize.height !== height) return null;
    for (const other of d.mirrors.values()) if (other.parent === m) return null;
    const content = s.buffer;
    if (content === null || content.pixels !== pool[current]?.pixels || content.width !== width || content.height !== height || content.format !== format) return null;
    const wlBuffers: number[] = [];
    const busy: boolean[] = [];
    for (const px of pool) {
      const entry = shared.entryOf(px, width, height, format);
      if (entry === null) return null;
      wlBuffers.push(entry.buffer.id);
      busy.push(entry.busy);
    }
    this.spare = topUp(conn, this.spare, WlCallbackProxy, 1, LENT_CALLBACKS);
    // Ids the compositor freed only: none yet (the first frames) means later.
    if (this.spare.length === 0) return null;
    const checkable = d.presentation?.checkable ?? null;
    const wp = checkable?.presentation ?? null;
    let feedbacks: WpPresentationFeedbackProxy[] = [];
    if (wp !== null) {
      this.spareFeedbacks = topUp(conn, this.spareFeedbacks, WpPresentationFeedbackProxy, wp.version, every ? LENT_FEEDBACKS_EVERY : LENT_FEEDBACKS);
      // Gathered over the next frames when the compositor freed too few yet.
      if (every && this.spareFeedbacks.length < LENT_FEEDBACKS_EVERY) return null;
      feedbacks = this.spareFeedbacks;
      this.spareFeedbacks = [];
    }
    const lent = this.spare;
    this.spare = [];
    const prediction = d.presentation?.prediction(m.wl) ?? { mode: 0, lastTimeNs: 0, refreshNs: 0, seqHi: 0, seqLo: 0, flags: 0, lagNs: 0 };
    return {
      fd: conn.socketFd,
      dirty: conn.nativeState,
      wlSurface: m.wl.id,
      wlBuffers,
      busy,
      callbackIds: lent.map((cb) => cb.id),
      wpPresentation: wp === null || feedbacks.length === 0 ? 0 : wp.id,
      clock: checkable?.clock ?? 0,
      feedbackIds: feedbacks.map((f) => f.id),
      presentation: every ? { ...prediction, mode: 3 } : prediction,
    };
  }

  /**
   * Take `s` back: `busy` per buffer of `pool`, the frame in flight (its
   * wl_callback id, 0: none), lent callback and feedback ids free again (the
   * others are answered and deleted to the connection's objects), and the
   * frames the native side committed and saw presented.
   */
  restore(
    s: SceneSurface,
    pool: readonly SharedPixels[],
    width: number,
    height: number,
    format: PixelFormat,
    taken: { busy: readonly boolean[]; inFlight: number; freeCallbackIds: readonly number[]; freeFeedbackIds: readonly number[]; commits: number; presented: number },
  ): void {
    const d = this.d;
    const conn = this.connection;
    d.counters.contentCommits += taken.commits;
    d.counters.presented += taken.presented;
    if (conn === null) return;
    for (const id of taken.freeCallbackIds) {
      const cb = conn.getObject(id);
      if (cb instanceof WlCallbackProxy) this.spare.push(cb);
    }
    for (const id of taken.freeFeedbackIds) {
      const f = conn.getObject(id);
      if (f instanceof WpPresentationFeedbackProxy) this.spareFeedbacks.push(f);
    }
    const shared = d.sharedBuffers;
    if (shared !== null) for (const [i, px] of pool.entries()) shared.setBusy(px, width, height, format, taken.busy[i] ?? false);
    const m = d.mirrors.get(s);
    if (taken.inFlight === 0 || m === undefined) return;
    const frame = conn.getObject(taken.inFlight);
    if (frame instanceof WlCallbackProxy) this.p.frames.adoptFrame(m, frame);
  }
}

/** `spares` still the connection's objects, and ids the compositor freed lent as `ctor` (at `version`) up to `n` of them. */
function topUp<T extends WireObject>(conn: WaylandConnection, spares: readonly T[], ctor: WireObjectClass<T>, version: number, n: number): T[] {
  const kept = spares.filter((o) => !o.destroyed && conn.getObject(o.id) === o);
  while (kept.length < n) {
    const o = conn.lendFreedObject(ctor, version);
    if (o === null) break;
    kept.push(o);
  }
  return kept;
}
