/**
 * wp_presentation of the compositor a LocalDisplay shows surfaces on: when
 * and how frames are shown, in this process's CLOCK_MONOTONIC.
 *
 * Frames are paced by their frame callbacks; the presentation feedback of a
 * frame comes later (weston: at the next vblank) or never (wlroots discards
 * the feedback of a commit that brought no new buffer once the next commit
 * comes, and its headless backend presents nothing). So the pacing never
 * waits for it: when a frame callback comes, `expected` gives the
 * presentation the display's last real one predicts (its phase, refresh,
 * sequence and flags, one or more refreshes later), or nothing when the
 * display never reported one for the surface.
 *
 * A real feedback costs a request, two or three events, an object on each
 * side and a wake-up a frame. It is asked for every frame of a surface whose
 * producer waits for presentation feedback (`SceneSurface.presentationWanted`:
 * a compositor that goes idle between frames, like weston's headless and
 * nested backends, starts a new phase with each one, so only a feedback of
 * that frame tells when it is shown), until the display shows itself steady:
 * `STEADY_AFTER` presentations in a row synchronized to its vertical blank
 * (the `vsync` kind) and on the phase of the one before (a whole number of
 * refreshes later, as a real display's are, idle or not). For other
 * surfaces, whose producers only pace on frame callbacks, and for steady
 * displays: for the first frame and then at most every `REFRESH_MS`, one in
 * flight at a time (unless it stays unanswered). A presentation off the
 * phase (a new mode, a compositor that restarts its clock) asks for every
 * frame again.
 *
 * The compositor names its presentation clock (wp_presentation.clock_id).
 * CLOCK_MONOTONIC is this process's `process.hrtime.bigint()`; CLOCK_REALTIME
 * is placed on it through `Date.now()`; any other clock cannot be read from
 * Node, so its frames are placed at the time their event arrives.
 */
import { WpPresentationFeedbackKind, type WlSurfaceProxy, type WpPresentationProxy } from '../generated/wayland/index.js';
import type { PresentationInfo } from '../scene/scene.js';

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;

/** A surface's real presentation feedback is asked for at most this often (ms). */
export const REFRESH_MS = 250;
/** A feedback not answered after this long (ms) no longer holds the next one back (some compositors answer none). */
const UNANSWERED_MS = 2000;
/** Presentations in a row on the vertical blank's phase after which a display counts as steady. */
export const STEADY_AFTER = 8;
/** A presentation within this share of a refresh of the phase is on it. */
const PHASE_TOLERANCE = 32n;

/** The last real feedback asked for a surface. */
interface Asked {
  /** When (ms, `performance.now()`). */
  readonly at: number;
  /** Not answered yet. */
  inFlight: boolean;
}

export class DisplayPresentation {
  private clock: number | null = null;
  /** The last real presentation of each surface. */
  private readonly last = new WeakMap<WlSurfaceProxy, PresentationInfo>();
  /** Each surface's last presentation on the compositor's clock, and how many in a row were on the phase. */
  private readonly phase = new WeakMap<WlSurfaceProxy, { readonly timeNs: bigint; readonly refreshNs: number; readonly steady: number }>();
  private readonly asked = new WeakMap<WlSurfaceProxy, Asked>();
  /** Real feedbacks asked for so far. */
  feedbacks = 0;

  constructor(private readonly presentation: WpPresentationProxy) {
    presentation.listen({ clockId: (id) => (this.clock = id) });
  }

  /**
   * Ask for the presentation of `wl`'s next commit: always when its producer
   * `wanted` to know how this frame is shown, else unless a recent one will
   * do for predictions (see the module comment).
   */
  request(wl: WlSurfaceProxy, wanted: boolean): void {
    const now = performance.now();
    const last = this.asked.get(wl);
    if ((!wanted || this.steady(wl)) && last !== undefined && (now - last.at < REFRESH_MS || (last.inFlight && now - last.at < UNANSWERED_MS))) return;
    const asked: Asked = { at: now, inFlight: true };
    this.asked.set(wl, asked);
    this.feedbacks++;
    const feedback = this.presentation.feedback(wl);
    feedback.listen({
      syncOutput: () => {},
      presented: (secHi, secLo, nsec, refresh, seqHi, seqLo, flags) => {
        asked.inFlight = false;
        const t = ((BigInt(secHi >>> 0) << 32n) | BigInt(secLo >>> 0)) * 1_000_000_000n + BigInt(nsec >>> 0);
        this.onPresented(wl, t, refresh >>> 0, flags >>> 0);
        this.last.set(wl, { timeNs: this.toMonotonic(t), refreshNs: refresh >>> 0, seq: (BigInt(seqHi >>> 0) << 32n) | BigInt(seqLo >>> 0), flags: flags >>> 0 });
      },
      discarded: () => {
        asked.inFlight = false;
      },
    });
  }

  /** Whether `wl`'s display showed it steady (see the module comment): predictions then do for every frame. */
  steady(wl: WlSurfaceProxy): boolean {
    return (this.phase.get(wl)?.steady ?? 0) >= STEADY_AFTER;
  }

  private onPresented(wl: WlSurfaceProxy, timeNs: bigint, refreshNs: number, flags: number): void {
    const before = this.phase.get(wl);
    const vsync = (flags & WpPresentationFeedbackKind.Vsync) !== 0;
    const onPhase = vsync && before !== undefined && refreshNs > 0 && before.refreshNs === refreshNs && onThePhase(before.timeNs, refreshNs, timeNs);
    this.phase.set(wl, { timeNs, refreshNs, steady: onPhase ? before.steady + 1 : 0 });
  }

  /**
   * The presentation of the frame whose callback came now: the next refresh
   * after the last real presentation that is not past, or the last one
   * itself when the display's refresh is unknown. Undefined without one.
   */
  expected(wl: WlSurfaceProxy): PresentationInfo | undefined {
    const last = this.last.get(wl);
    return last === undefined ? undefined : nextPresentation(last, process.hrtime.bigint());
  }

  private toMonotonic(t: bigint): bigint {
    const now = process.hrtime.bigint();
    if (this.clock === CLOCK_MONOTONIC) return t;
    if (this.clock === CLOCK_REALTIME) return now - (BigInt(Date.now()) * 1_000_000n - t);
    return now;
  }
}

/**
 * The first presentation at or after `now` that `last` predicts: `last`
 * itself when it is not past or the refresh is unknown, else `last` moved
 * on by whole refreshes (its sequence with it).
 */
export function nextPresentation(last: PresentationInfo, now: bigint): PresentationInfo {
  if (last.refreshNs === 0 || now <= last.timeNs) return last;
  const refresh = BigInt(last.refreshNs);
  const k = (now - last.timeNs + refresh - 1n) / refresh;
  return { ...last, timeNs: last.timeNs + k * refresh, seq: last.seq === 0n ? 0n : last.seq + k };
}

/** Whether `t` is a whole number of refreshes after `from` (within PHASE_TOLERANCE of one). */
function onThePhase(from: bigint, refreshNs: number, t: bigint): boolean {
  if (t <= from) return false;
  const refresh = BigInt(refreshNs);
  const off = (t - from) % refresh;
  const tolerance = refresh / PHASE_TOLERANCE;
  return off <= tolerance || refresh - off <= tolerance;
}
