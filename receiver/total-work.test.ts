/**
 * The work budget over every transmitter: many transmitters each under
 * their own budget cannot together spend more than the total; once it is
 * spent the one over its fair share is refused, never one within its share.
 * On a clock of its own (no timing).
 */
import { describe, expect, it } from 'vitest';
import { TotalWork, type WorkShare } from './total-work.js';

/**
 * Run `rates` for `steps` of 100 ms: pixels per step, or [pixels, every n steps]
 * (bursty); which transmitters were refused, at which step. A refused one leaves.
 */
function run(total: { perSecond: number; burst: number }, rates: (number | [number, number])[], steps: number): (number | null)[] {
  let now = 0;
  const budget = new TotalWork(total.perSecond, total.burst, () => now);
  const shares: (WorkShare | null)[] = rates.map(() => budget.join());
  const refusedAt: (number | null)[] = rates.map(() => null);
  for (let step = 0; step < steps; step++) {
    now = step * 100;
    for (const [i, rate] of rates.entries()) {
      const share = shares[i];
      const [pixels, every] = typeof rate === 'number' ? [rate, 1] : rate;
      if (share === null || share === undefined || pixels === 0 || step % every !== 0) continue;
      if (!share.charge(pixels)) {
        refusedAt[i] = step;
        share.leave();
        shares[i] = null;
      }
    }
  }
  return refusedAt;
}

describe('TotalWork', () => {
  it('transmitters that together stay under the total rate are never refused, even past their fair share', () => {
    // 30 + 30 + 30 = 90/s of 100/s; and 80 + 5 = 85/s, the first over its fair 50/s.
    expect(run({ perSecond: 100, burst: 100 }, [3, 3, 3], 600)).toEqual([null, null, null]);
    expect(run({ perSecond: 100, burst: 100 }, [8, 0.5], 600)).toEqual([null, null]);
  });

  it('past the total rate, the one over its fair share is refused and the light one never; the rest then fit', () => {
    // 10 + 60 + 60 = 130/s of 100/s, 33/s each being fair.
    // The light one writes 10/s in bursts of 5, last in its step, when the bucket is emptiest.
    const refused = run({ perSecond: 100, burst: 100 }, [6, 6, [5, 5]], 600);
    expect(refused[2]).toBeNull();
    expect(refused.slice(0, 2).filter((r) => r !== null)).toHaveLength(1);
  });

  it('several heavy ones are refused one by one until the others fit', () => {
    // 5 + 4 x 40 = 165/s of 100/s: two heavy ones must go (5 + 2 x 40 = 85 fits).
    const refused = run({ perSecond: 100, burst: 200 }, [4, 4, 4, 4, [5, 10]], 1200);
    expect(refused[4]).toBeNull();
    expect(refused.slice(0, 4).filter((r) => r !== null)).toHaveLength(2);
  });

  it('one transmitter alone has the whole budget as its share', () => {
    expect(run({ perSecond: 100, burst: 100 }, [9], 600)).toEqual([null]);
    expect(run({ perSecond: 100, burst: 100 }, [12], 600)[0]).not.toBeNull();
  });
});
