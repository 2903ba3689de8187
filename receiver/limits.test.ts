import { describe, expect, it } from 'vitest';
import { WorkBudget } from './limits.js';
import { limitText } from '../shared/wire/errors.js';

describe('WorkBudget', () => {
  it('allows the burst at once, then the rate over time, and refuses more', () => {
    let now = 0;
    const budget = new WorkBudget(100, 300, () => now);
    expect(budget.charge(300)).toBe(true);
    expect(budget.charge(1)).toBe(false);
    now = 2000; // 2 s: 200 back (after the debt of 1)
    expect(budget.charge(199)).toBe(true);
    expect(budget.charge(1)).toBe(false);
    now = 100_000; // refilled up to the burst, not beyond
    expect(budget.charge(301)).toBe(false);
  });

  it('names the limit by its [receiver] key', () => {
    expect(limitText('work-rate', 'too much')).toBe('limit work-rate: too much');
  });
});
