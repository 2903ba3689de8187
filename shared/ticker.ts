/**
 * Periodic checks that share their wake-ups. Each callback runs at whole multiples of its period
 * on the monotonic clock, and one timer serves them all, so that a process's periodic work (a
 * link's liveness check and ping, the overdue frames of its steady windows, the samplers of every
 * second) wakes it once together instead of each at the phase it was started with. A wake-up of
 * an idle Node process costs about what the little work of each check does, and between steady
 * frames these wake-ups are most of what JavaScript still runs. The ticker never keeps the
 * process alive (its timer is unref'd).
 */

/** A callback registered with `every`. */
export interface Tick {
  /** No more calls (also from inside the callback). */
  stop(): void;
}

interface Group {
  readonly fns: Set<() => void>;
  /** When it runs next (performance.now()). */
  due: number;
}

/** Groups due this soon after the one the timer woke for run with it. */
const SLACK_MS = 2;

const groups = new Map<number, Group>();
let timer: NodeJS.Timeout | null = null;
let timerDue = Infinity;

/** Calls `fn` every `periodMs`, at multiples of `periodMs` on the monotonic clock. */
export function every(periodMs: number, fn: () => void): Tick {
  if (!(periodMs >= 1) || !Number.isFinite(periodMs)) throw new RangeError(`a ticker's period must be at least 1 ms (got ${periodMs})`);
  let group = groups.get(periodMs);
  if (group === undefined) {
    group = { fns: new Set(), due: nextMultiple(periodMs, performance.now()) };
    groups.set(periodMs, group);
  }
  const g = group;
  // A function of its own: the same `fn` may be registered twice.
  const call = (): void => fn();
  g.fns.add(call);
  schedule();
  return {
    stop: () => {
      if (!g.fns.delete(call) || g.fns.size > 0) return;
      if (groups.get(periodMs) === g) groups.delete(periodMs);
      schedule();
    },
  };
}

/** The first multiple of `period` after `t`. */
function nextMultiple(period: number, t: number): number {
  return (Math.floor(t / period) + 1) * period;
}

/** The timer, due when the first group is (none when no group is left). */
function schedule(): void {
  let due = Infinity;
  for (const g of groups.values()) due = Math.min(due, g.due);
  if (timer !== null && due === timerDue) return;
  if (timer !== null) clearTimeout(timer);
  timer = null;
  timerDue = due;
  if (due === Infinity) return;
  timer = setTimeout(fire, Math.max(1, Math.ceil(due - performance.now())));
  timer.unref();
}

function fire(): void {
  timer = null;
  timerDue = Infinity;
  const now = performance.now();
  for (const [period, g] of [...groups]) {
    if (g.due > now + SLACK_MS) continue;
    // The next run a whole period on: not again within this one, however late this one was.
    g.due = nextMultiple(period, now + period / 2);
    for (const fn of [...g.fns]) {
      if (!g.fns.has(fn)) continue; // stopped by a callback before it
      // One check that throws does not keep the others from running; the error stays uncaught.
      try {
        fn();
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }
  schedule();
}
