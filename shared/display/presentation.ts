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
 * refreshes later, as a real display's are, idle or not), or as many in a
 * row shown the same time after their frame callback (within 1/32 of a
 * refresh: weston's headless and nested backends present a refresh after
 * the repaint that answers the callback). The first kind predicts a frame
 * from the phase, the second from the time of its callback. For other
 * surfaces, whose producers only pace on frame callbacks, and for steady
 * displays: for the first frame and then at most every `REFRESH_MS`, one in
 * flight at a time (unless it stays unanswered). A presentation off the
 * phase or the lag (a new mode, a compositor that restarts its clock) asks
 * for every frame again.
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
/** Presentations in a row on the vertical blank's phase, or the same time after their frame callback, after which a display counts as steady. */
export const STEADY_AFTER = 8;
/** A presentation within this share of a refresh of the phase (or of the lag before) is on it. */
const PHASE_TOLERANCE = 32n;
/** The same for a lag after the frame callback where the refresh is unknown (ns). */
const LAG_TOLERANCE_NS = 500_000n;

/** A real feedback asked for a commit. */
export interface Asked {
  /** When (ms, `performance.now()`). */
  readonly at: number;
  /** For a producer that wanted to know how its frame is shown. */
  readonly wanted: boolean;
  /** Not answered yet. */
  inFlight: boolean;
  /** When the commit's frame callback came (this process's CLOCK_MONOTONIC ns), once it did. */
  doneAt: bigint | null;
}

/** How a surface's presentations followed its frame callbacks. */
interface Lag {
  /** The last presentation's time after its frame callback (ns). */
  readonly ns: bigint;
  /** Presentations in a row within the tolerance of the one before. */
  readonly steady: number;
}

/** A surface's last presentation on the compositor's clock, and how many in a row were on the phase. */
interface Phase {
  readonly timeNs: bigint;
  readonly refreshNs: number;
  readonly steady: number;
}

/** What is known of one surface's presentations. */
interface SurfacePresentation {
  /** The last real presentation (this process's CLOCK_MONOTONIC). */
  last: PresentationInfo | null;
  phase: Phase | null;
  /** The last real feedback asked. */
  asked: Asked | null;
  lag: Lag | null;
}

export class DisplayPresentation {
  private clock: number | null = null;
  private readonly surfaces = new WeakMap<WlSurfaceProxy, SurfacePresentation>();
  /** Real feedbacks asked for so far. */
  feedbacks = 0;

  constructor(private readonly presentation: WpPresentationProxy) {
    presentation.listen({ clockId: (id) => (this.clock = id) });
  }

  private surface(wl: WlSurfaceProxy): SurfacePresentation {
    let s = this.surfaces.get(wl);
    if (s === undefined) {
      s = { last: null, phase: null, asked: null, lag: null };
      this.surfaces.set(wl, s);
    }
    return s;
  }

  /**
   * Ask for the presentation of `wl`'s next commit: always when its producer
   * `wanted` to know how this frame is shown, else unless a recent one will
   * do for predictions (see the module comment). Returns what was asked, for
   * `expected` when the commit's frame callback comes; null when nothing was.
   */
  request(wl: WlSurfaceProxy, wanted: boolean): Asked | null {
    const now = performance.now();
    const s = this.surface(wl);
    const last = s.asked;
    if ((!wanted || isSteady(s)) && last !== null && (now - last.at < REFRESH_MS || (last.inFlight && now - last.at < UNANSWERED_MS))) return null;
    const asked: Asked = { at: now, wanted, inFlight: true, doneAt: null };
    s.asked = asked;
    this.feedbacks++;
    const feedback = this.presentation.feedback(wl);
    feedback.listen({
      syncOutput: () => {},
      presented: (secHi, secLo, nsec, refresh, seqHi, seqLo, flags) => {
        asked.inFlight = false;
        const t = ((BigInt(secHi >>> 0) << 32n) | BigInt(secLo >>> 0)) * 1_000_000_000n + BigInt(nsec >>> 0);
        s.phase = nextPhase(s.phase, t, refresh >>> 0, flags >>> 0);
        const timeNs = this.toMonotonic(t);
        if (asked.doneAt !== null) s.lag = nextLag(s.lag, timeNs - asked.doneAt, refresh >>> 0);
        s.last = { timeNs, refreshNs: refresh >>> 0, seq: (BigInt(seqHi >>> 0) << 32n) | BigInt(seqLo >>> 0), flags: flags >>> 0 };
      },
      discarded: () => {
        asked.inFlight = false;
      },
    });
    return asked;
  }

  /** Whether `wl`'s display showed it steady (see the module comment): predictions then do for every frame. */
  steady(wl: WlSurfaceProxy): boolean {
    const s = this.surfaces.get(wl);
    return s !== undefined && isSteady(s);
  }

  /**
   * The presentation of the frame whose callback came now (`asked`: the
   * feedback `request` asked for its commit): on a display steady after
   * frame callbacks but not on a phase, the time now plus that lag; else the
   * next refresh after the last real presentation that is not past, or the
   * last one itself when the display's refresh is unknown. Undefined without
   * one.
   */
  expected(wl: WlSurfaceProxy, asked: Asked | null = null): PresentationInfo | undefined {
    const now = process.hrtime.bigint();
    if (asked !== null && asked.doneAt === null) asked.doneAt = now;
    const s = this.surfaces.get(wl);
    const last = s?.last ?? null;
    if (s === undefined || last === null) return undefined;
    if (s.lag !== null && s.lag.steady >= STEADY_AFTER && !onPhase(s)) return afterLag(last, now + s.lag.ns);
    return nextPresentation(last, now);
  }

  /**
   * Whether frames of `wl` can go without real feedback for a while and be
   * predicted instead: its producer does not ask (`wanted` false) or the
   * display shows it steadily, and no real feedback is on its way.
   */
  predictable(wl: WlSurfaceProxy, wanted: boolean): boolean {
    const s = this.surfaces.get(wl);
    if (s?.asked?.inFlight === true) return false;
    return !wanted || (s !== undefined && isSteady(s));
  }

  /**
   * Whether every frame of `wl` asks for its real presentation now: its
   * producer wanted the last one on a display not steady yet, and there is
   * a presentation to predict from (a native path that does the same can
   * take the surface then: `prediction` gives mode 1 from it).
   */
  following(wl: WlSurfaceProxy): boolean {
    const s = this.surfaces.get(wl);
    return s !== undefined && s.asked?.wanted === true && s.last !== null && !isSteady(s);
  }

  /**
   * What `expected` predicts from, for a native path that predicts the
   * same way: mode 0 nothing known (no presentation times), 1 the next
   * refresh after the last presentation, 2 the lag after the frame callback;
   * times in this process's CLOCK_MONOTONIC ns.
   */
  prediction(wl: WlSurfaceProxy): { mode: number; lastTimeNs: number; refreshNs: number; seqHi: number; seqLo: number; flags: number; lagNs: number } {
    const s = this.surfaces.get(wl);
    const last = s?.last ?? null;
    if (s === undefined || last === null) return { mode: 0, lastTimeNs: 0, refreshNs: 0, seqHi: 0, seqLo: 0, flags: 0, lagNs: 0 };
    const lag = s.lag !== null && s.lag.steady >= STEADY_AFTER && !onPhase(s);
    return {
      mode: lag ? 2 : 1,
      lastTimeNs: Number(last.timeNs),
      refreshNs: last.refreshNs,
      seqHi: Number((last.seq >> 32n) & 0xffffffffn),
      seqLo: Number(last.seq & 0xffffffffn),
      flags: last.flags,
      lagNs: lag ? Number(s.lag!.ns) : 0,
    };
  }

  /**
   * The compositor's wp_presentation and its clock, for a native path that
   * asks real presentations itself to check its predictions (and places
   * their times on this process's CLOCK_MONOTONIC as `toMonotonic` does);
   * null until the compositor named its clock.
   */
  get checkable(): { presentation: WpPresentationProxy; clock: number } | null {
    return this.clock === null ? null : { presentation: this.presentation, clock: this.clock };
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

/** Steady on its vertical blank's phase, or on a lag after its frame callbacks. */
function isSteady(s: SurfacePresentation): boolean {
  return onPhase(s) || (s.lag?.steady ?? 0) >= STEADY_AFTER;
}

/** Steady on its vertical blank's phase. */
function onPhase(s: SurfacePresentation): boolean {
  return (s.phase?.steady ?? 0) >= STEADY_AFTER;
}

/** The phase after a presentation at `timeNs` (the compositor's clock). */
function nextPhase(before: Phase | null, timeNs: bigint, refreshNs: number, flags: number): Phase {
  const vsync = (flags & WpPresentationFeedbackKind.Vsync) !== 0;
  const on = vsync && before !== null && refreshNs > 0 && before.refreshNs === refreshNs && onThePhase(before.timeNs, refreshNs, timeNs);
  return { timeNs, refreshNs, steady: on ? before.steady + 1 : 0 };
}

/** The lag after a presentation `ns` after its frame callback. */
function nextLag(before: Lag | null, ns: bigint, refreshNs: number): Lag {
  const tolerance = refreshNs > 0 ? BigInt(refreshNs) / PHASE_TOLERANCE : LAG_TOLERANCE_NS;
  const same = before !== null && (ns > before.ns ? ns - before.ns : before.ns - ns) <= tolerance;
  return { ns, steady: same ? before.steady + 1 : 0 };
}

/** `last` moved to `timeNs`, its sequence by the refreshes between (rounded). */
export function afterLag(last: PresentationInfo, timeNs: bigint): PresentationInfo {
  if (last.seq === 0n || last.refreshNs === 0) return { ...last, timeNs };
  const refresh = BigInt(last.refreshNs);
  const k = (timeNs - last.timeNs + refresh / 2n) / refresh;
  return { ...last, timeNs, seq: last.seq + (k > 0n ? k : 0n) };
}

/** Whether `t` is a whole number of refreshes after `from` (within PHASE_TOLERANCE of one). */
function onThePhase(from: bigint, refreshNs: number, t: bigint): boolean {
  if (t <= from) return false;
  const refresh = BigInt(refreshNs);
  const off = (t - from) % refresh;
  const tolerance = refresh / PHASE_TOLERANCE;
  return off <= tolerance || refresh - off <= tolerance;
}
