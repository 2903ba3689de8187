/**
 * Fairness between windows on a slow link: each flush serves the windows
 * (a root surface with its subsurfaces and popups) that sent the fewest
 * bytes lately first, and stops once the socket holds more than the high
 * water mark. A window that sends big frames then waits behind the small
 * ones instead of the other way round: one heavy surface does not starve
 * the others, and still gets what bandwidth they leave.
 */
import type { SceneSurface } from '../../shared/scene/scene.js';

/** Bytes sent lately: an average that halves every HALF_LIFE_MS. */
const HALF_LIFE_MS = 1000;

export class FairShare {
  private readonly sent = new WeakMap<SceneSurface, { bytes: number; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Bytes `root`'s window sent lately. */
  recent(root: SceneSurface, now = this.now()): number {
    const e = this.sent.get(root);
    return e === undefined ? 0 : e.bytes * 0.5 ** ((now - e.at) / HALF_LIFE_MS);
  }

  /** `root`'s window just sent `bytes`. */
  charge(root: SceneSurface, bytes: number): void {
    if (bytes <= 0) return;
    const now = this.now();
    this.sent.set(root, { bytes: this.recent(root, now) + bytes, at: now });
  }

  /**
   * `items` grouped by window, the windows that sent least lately first;
   * within a window the order of `items` is kept (children before parents).
   */
  order<T>(items: readonly T[], sceneOf: (item: T) => SceneSurface): T[][] {
    const groups = new Map<SceneSurface, T[]>();
    for (const item of items) {
      const root = sceneOf(item).root;
      let g = groups.get(root);
      if (g === undefined) groups.set(root, (g = []));
      g.push(item);
    }
    const now = this.now();
    return [...groups.entries()].sort((a, b) => this.recent(a[0], now) - this.recent(b[0], now)).map(([, g]) => g);
  }
}
