import { describe, expect, it } from 'vitest';
import { ThreadCpu } from './thread-cpu.mjs';

describe('ThreadCpu (the sampler’s CPU time of a process)', () => {
  it('sums the threads listed, and keeps the time of a thread that ended', () => {
    const cpu = new ThreadCpu();
    expect(cpu.update(10, new Map([['10', 100], ['11', 50]]))).toBe(150);
    expect(cpu.update(10, new Map([['10', 120], ['11', 80]]))).toBe(200);
    // thread 11 ended: its 80 stay counted
    expect(cpu.update(10, new Map([['10', 130]]))).toBe(210);
    expect(cpu.update(10, new Map([['10', 140], ['12', 5]]))).toBe(225);
  });

  it('keeps the last value of a thread listed but not readable, and counts a reused id as a new thread', () => {
    const cpu = new ThreadCpu();
    expect(cpu.update(7, new Map([['7', 100], ['8', 40]]))).toBe(140);
    expect(cpu.update(7, new Map<string, number | undefined>([['7', 110], ['8', undefined]]))).toBe(150);
    // readable again, further on: the same thread, counted once
    expect(cpu.update(7, new Map([['7', 115], ['8', 45]]))).toBe(160);
    // id 8 again with a smaller count: a new thread; the old one's 45 stay
    expect(cpu.update(7, new Map([['7', 120], ['8', 3]]))).toBe(168);
  });

  it('keeps processes apart', () => {
    const cpu = new ThreadCpu();
    cpu.update(1, new Map([['1', 10]]));
    expect(cpu.update(2, new Map([['2', 5]]))).toBe(5);
    expect(cpu.update(1, new Map([['1', 12]]))).toBe(12);
  });
});
