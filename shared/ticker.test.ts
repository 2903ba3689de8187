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

/** Calls of a callback registered with `every`: when (performance.now()) and in which turn. */
function record(periodMs: number): { t: number; turn: object }[] {
  const calls: { t: number; turn: object }[] = [];
  ticks.push(every(periodMs, () => calls.push({ t: performance.now(), turn: currentTurn() })));
  return calls;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('ticker', () => {
  it('wakes the callbacks of one period together, at multiples of the period, whenever each was registered', async () => {
    const a = record(30);
    await sleep(11);
    const b = record(30);
    await sleep(200);
    expect(b.length).toBeGreaterThanOrEqual(4);
    const turns = new Set(a.map((c) => c.turn));
    for (const { t, turn } of b) {
      // In the same turn as a call of `a`, near a multiple of 30 ms (timers fire a little late,
      // and the clock of Node's timers may be a millisecond behind this one).
      expect(turns.has(turn)).toBe(true);
      expect(Math.min(t % 30, 30 - (t % 30))).toBeLessThan(12);
    }
  });

  it('wakes a period with one it divides, once a period each', async () => {
    const short = record(20);
    await sleep(7);
    const long = record(40);
    await sleep(220);
    expect(long.length).toBeGreaterThanOrEqual(3);
    const turns = new Set(short.map((c) => c.turn));
    for (const { turn } of long) expect(turns.has(turn)).toBe(true);
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
