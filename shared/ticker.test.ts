import { afterEach, describe, expect, it } from 'vitest';
import { every, type Tick } from './ticker.js';

const ticks: Tick[] = [];
afterEach(() => {
  for (const t of ticks.splice(0)) t.stop();
});

/** The synchronous run of timer callbacks going on now: one object per turn of the loop. */
let turn: object | null = null;
function currentTurn(): object {
  if (turn === null) {
    turn = {};
    queueMicrotask(() => (turn = null));
  }
  return turn;
}

/** A call of a callback registered with `every`: when (performance.now()) and in which turn. */
interface Call {
  t: number;
  turn: object;
}

function record(periodMs: number): Call[] {
  const calls: Call[] = [];
  ticks.push(every(periodMs, () => calls.push({ t: performance.now(), turn: currentTurn() })));
  return calls;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A callback of period `first`, then `laterMs` later one of period `second`, both recorded for
 * `forMs`; every call of the second must fall in a turn of the first.
 */
async function registeredApart(first: number, laterMs: number, second: number, forMs: number): Promise<{ a: Call[]; b: Call[] }> {
  const a = record(first);
  await sleep(laterMs);
  const b = record(second);
  await sleep(forMs);
  const turns = new Set(a.map((c) => c.turn));
  for (const { turn } of b) expect(turns.has(turn)).toBe(true);
  return { a, b };
}

describe('ticker', () => {
  it('wakes the callbacks of one period together, at multiples of the period, whenever each was registered', async () => {
    const { b } = await registeredApart(30, 11, 30, 200);
    expect(b.length).toBeGreaterThanOrEqual(4);
    // Near a multiple of 30 ms (timers fire a little late, and the clock of Node's timers may be
    // a millisecond behind this one).
    for (const { t } of b) expect(Math.min(t % 30, 30 - (t % 30))).toBeLessThan(12);
  });

  it('wakes a period with one it divides, once a period each', async () => {
    const { a: short, b: long } = await registeredApart(20, 7, 40, 220);
    expect(long.length).toBeGreaterThanOrEqual(3);
    const gaps = short.slice(1).map((c, i) => c.t - short[i]!.t);
    expect(Math.min(...gaps)).toBeGreaterThan(10);
  });

  it('stops a callback, also from inside it, and one stopped by another in the same turn is not called', async () => {
    let calls = 0;
    const self: Tick = every(15, () => {
      calls++;
      self.stop();
    });
    // Registered before the victim, so it runs before it in a turn: at its second call it stops
    // the victim, which is then not called in that turn.
    let killer = 0;
    let victim: Tick | null = null;
    ticks.push(
      every(15, () => {
        if (killer++ === 1) victim?.stop();
      }),
    );
    let victimCalls = 0;
    victim = every(15, () => victimCalls++);
    ticks.push(victim);
    await sleep(120);
    expect(killer).toBeGreaterThan(2);
    expect(calls).toBe(1);
    expect(victimCalls).toBe(1);
    expect(() => every(0, () => undefined)).toThrow(RangeError);
  });
});
