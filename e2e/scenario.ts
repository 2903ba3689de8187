/**
 * Helpers shared by the end-to-end tests: stopping everything a test started
 * (also when it fails), readable process logs for failure messages, and the
 * check "this screen region shows an application's frame".
 */
import type { Rect } from '../shared/scene/scene.js';
import { describeRegion, type Image } from './harness/image.js';
import type { ManagedProcess } from './harness/process.js';
import { waitFor } from './harness/process.js';
import { WESTON_BACKGROUND, type View, type Weston } from './harness/weston.js';

/**
 * Things to stop at the end of a test, newest first. Register each one as
 * soon as it exists; `afterEach(() => cleanup.run())` then stops them whether
 * the test passed or not.
 */
export class Cleanup {
  private readonly stack: { label: string; run: () => Promise<unknown> | unknown }[] = [];

  /** Register something with a `stop()` and return it. */
  add<T extends { stop(): Promise<unknown> }>(thing: T, label = labelOf(thing)): T {
    this.stack.push({ label, run: () => thing.stop() });
    return thing;
  }

  /**
   * Wait for things started in parallel and register every one that started,
   * also when another failed (then the first failure is thrown).
   */
  async addAll<T extends readonly Promise<{ stop(): Promise<unknown> }>[]>(starting: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
    const settled = await Promise.allSettled(starting);
    for (const r of settled) if (r.status === 'fulfilled') this.add(r.value);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
  }

  defer(fn: () => Promise<unknown> | unknown, label = 'a deferred step'): void {
    this.stack.push({ label, run: fn });
  }

  /**
   * Run everything registered, newest first; every step runs even if one
   * fails. A step that takes long (a process that ignores SIGTERM and is
   * killed after the grace period) is reported on the console.
   */
  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.stack.length > 0) {
      const step = this.stack.pop()!;
      const started = Date.now();
      try {
        await step.run();
      } catch (e) {
        errors.push(e);
      }
      const took = Date.now() - started;
      if (took > SLOW_STOP_MS) console.warn(`stopping ${step.label} took ${took} ms`);
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'cleanup failed');
  }
}

const SLOW_STOP_MS = 1500;

function labelOf(thing: object): string {
  const t = thing as { name?: unknown; process?: { name?: unknown; pid?: unknown }; backend?: unknown; pid?: unknown };
  if (t.process !== undefined) return `${String(t.process.name)} (pid ${String(t.process.pid)})`;
  if (typeof t.name === 'string') return `${t.name}${t.pid === undefined ? '' : ` (pid ${String(t.pid)})`}`;
  if (typeof t.backend === 'string') return `weston (${t.backend}, pid ${String(t.pid)})`;
  return 'something';
}

/**
 * Debug lines logged once per frame, or twice a second while a window is animated (the steady
 * paths' hand-overs), that drown everything else in a tail.
 */
const NOISE = /no handler"|"msg":"stats"|steady (?:commits|frames): surface \d+ (?:handed over|taken back)/;

/** The last `n` meaningful lines of each process, for failure messages. */
export function logTails(procs: Readonly<Record<string, ManagedProcess | undefined>>, n = 15): string {
  const parts: string[] = [];
  for (const [label, p] of Object.entries(procs)) {
    if (p === undefined) continue;
    const lines = p.lines.filter((l) => !NOISE.test(l)).slice(-n);
    const status = p.status === null ? 'running' : `exited ${p.status.signal ?? p.status.code}`;
    parts.push(`--- ${label} (${status})\n${lines.map((l) => `  | ${l}`).join('\n')}`);
  }
  return parts.join('\n');
}

/** The smallest rectangle holding all `rects` (an empty rect at 0,0 for none). */
export function unionRect(rects: readonly Rect[]): Rect {
  if (rects.length === 0) return { x: 0, y: 0, width: 0, height: 0 };
  const x1 = Math.min(...rects.map((r) => r.x));
  const y1 = Math.min(...rects.map((r) => r.y));
  const x2 = Math.max(...rects.map((r) => r.x + r.width));
  const y2 = Math.max(...rects.map((r) => r.y + r.height));
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** Application content views: toplevels, popups and subsurfaces (not cursors, not the shell's). */
export function isWindowView(v: View): boolean {
  return v.visible && (v.role === 'xdg_toplevel' || v.role === 'xdg_popup' || v.role === 'wl_subsurface');
}

export interface FrameCheck {
  readonly ok: boolean;
  /** Fraction of the region that is not the desktop background. */
  readonly drawn: number;
  /** Share of the drawn pixels that have the most frequent drawn colour. */
  readonly dominant: number;
  /** For messages: the region and its main colours. */
  readonly summary: string;
}

export interface FrameCheckOptions {
  /** Minimum fraction of the region not showing the background (default 0.05). */
  readonly minDrawn?: number;
  /** Maximum share of the drawn pixels one colour may have (default 0.99). */
  readonly maxDominant?: number;
  /** The compositor's background, 0xRRGGBB (default weston's test background). */
  readonly background?: number;
}

/**
 * Does `rect` of `shot` show an application's frame? At least `minDrawn` of
 * it must differ from the background, and not all in one colour: a window
 * the receiver mapped with an empty or never-filled buffer (uniformly black,
 * white or transparent) does not count as a frame. Real windows have text,
 * decorations or anti-aliased edges (a foot window with just its prompt is
 * 95% one colour, weston-flower's flower about 90%).
 */
export function checkFrame(shot: Image, rect: Rect, options: FrameCheckOptions = {}): FrameCheck {
  const minDrawn = options.minDrawn ?? 0.05;
  const maxDominant = options.maxDominant ?? 0.99;
  const bg = options.background ?? WESTON_BACKGROUND;
  const bgR = (bg >>> 16) & 0xff;
  const bgG = (bg >>> 8) & 0xff;
  const bgB = bg & 0xff;
  const x1 = Math.max(0, Math.floor(rect.x));
  const y1 = Math.max(0, Math.floor(rect.y));
  const x2 = Math.min(shot.width, Math.floor(rect.x + rect.width));
  const y2 = Math.min(shot.height, Math.floor(rect.y + rect.height));
  const counts = new Map<number, number>();
  let total = 0;
  let drawnPixels = 0;
  const d = shot.data;
  for (let y = y1; y < y2; y++) {
    for (let x = x1; x < x2; x++) {
      const i = (y * shot.width + x) * 4;
      total++;
      const r = d[i]!;
      const g = d[i + 1]!;
      const b = d[i + 2]!;
      if (Math.abs(r - bgR) <= 2 && Math.abs(g - bgG) <= 2 && Math.abs(b - bgB) <= 2) continue;
      drawnPixels++;
      const key = (r << 16) | (g << 8) | b;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const drawn = total === 0 ? 0 : drawnPixels / total;
  const dominant = drawnPixels === 0 ? 1 : Math.max(...counts.values()) / drawnPixels;
  const summary =
    `region (${rect.x}, ${rect.y}) ${rect.width}x${rect.height}: ${(drawn * 100).toFixed(1)}% drawn, ` +
    `${counts.size} colours, the main one on ${(dominant * 100).toFixed(1)}% of the drawn pixels; holds ${describeRegion(shot, rect, 5)}`;
  return { ok: total > 0 && drawn >= minDrawn && dominant <= maxDominant, drawn, dominant, summary };
}

/**
 * Poll screenshots of `weston` until the region `where()` returns (taken
 * from the scene graph each time, or fixed) shows a frame; returns the last
 * screenshot and the check. Fails with the region's content on timeout.
 */
export async function waitForFrame(
  weston: Weston,
  where: Rect | (() => Promise<Rect>),
  timeoutMs = 10_000,
  options: FrameCheckOptions = {},
): Promise<{ shot: Image; rect: Rect; check: FrameCheck }> {
  let last = 'no screenshot taken';
  try {
    return await waitFor(
      'a frame on the receiving compositor',
      async () => {
        const rect = typeof where === 'function' ? await where() : where;
        const shot = await weston.screenshot();
        const check = checkFrame(shot, rect, options);
        last = check.summary;
        return check.ok ? { shot, rect, check } : undefined;
      },
      timeoutMs,
      200,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last screenshot: ${last}`);
  }
}
