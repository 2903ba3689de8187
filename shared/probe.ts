/**
 * Where a process's CPU goes, wake-up by wake-up: with `WALTHAM_PROBE=1`,
 * each kind of wake-up of the event loop that carries frames (Waltham input,
 * Wayland input) and each socket write is timed in CPU (`process.cpuUsage`:
 * user and system time of the process), and every 5 seconds one line on
 * stderr gives, per kind, how many there were and the mean and quartiles in
 * microseconds:
 *
 *     waltham-probe {"wayland wake":{"n":416,"mean":198,"p25":33,"p50":164,"p75":328},...}
 *
 * A wake-up is timed from its first JavaScript to the end of the microtasks
 * it queued (the writes a handler schedules included). Off, a probe point
 * costs one test of a constant.
 */

/** Whether probes record (`WALTHAM_PROBE=1` in the environment at start). */
export const probing = process.env.WALTHAM_PROBE === '1';

/** Samples kept per kind and interval (the quartiles are of these). */
const MAX_SAMPLES = 4096;

/** Timings of one kind in the current interval. */
interface Kind {
  count: number;
  total: number;
  samples: number[];
}

/** One kind's figures for an interval, microseconds. */
export interface ProbeSummary {
  readonly n: number;
  readonly mean: number;
  readonly p25: number;
  readonly p50: number;
  readonly p75: number;
}

/** Timings by kind, summarized and started over by `take`. */
export class ProbeTable {
  private kinds = new Map<string, Kind>();

  add(name: string, us: number): void {
    let k = this.kinds.get(name);
    if (k === undefined) {
      k = { count: 0, total: 0, samples: [] };
      this.kinds.set(name, k);
    }
    k.count++;
    k.total += us;
    if (k.samples.length < MAX_SAMPLES) k.samples.push(us);
  }

  /** The figures of each kind since the last `take` (none: empty). */
  take(): Record<string, ProbeSummary> {
    const out: Record<string, ProbeSummary> = {};
    for (const [name, k] of this.kinds) {
      const s = k.samples.sort((a, b) => a - b);
      const at = (q: number): number => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
      out[name] = { n: k.count, mean: Math.round(k.total / k.count), p25: at(0.25), p50: at(0.5), p75: at(0.75) };
    }
    this.kinds = new Map();
    return out;
  }
}

const table = new ProbeTable();
let timer: NodeJS.Timeout | null = null;

/** The figures of the process's probes since the last report (what the next line would print). */
export function takeProbes(): Record<string, ProbeSummary> {
  return table.take();
}

/** CPU time of the process so far, microseconds. */
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Where a timing starts (only call it when `probing`). */
export function probeStart(): number {
  if (timer === null) {
    timer = setInterval(() => {
      const figures = takeProbes();
      if (Object.keys(figures).length > 0) process.stderr.write(`waltham-probe ${JSON.stringify(figures)}\n`);
    }, 5000);
    timer.unref();
  }
  return cpuUs();
}

/** The timing of `name` that began at `start` ends now. */
export function probeEnd(name: string, start: number): void {
  table.add(name, cpuUs() - start);
}

/** The timing of `name` that began at `start` ends after the microtasks queued so far. */
export function probeAfterMicrotasks(name: string, start: number): void {
  queueMicrotask(() => probeEnd(name, start));
}
