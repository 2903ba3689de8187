import { describe, expect, it } from 'vitest';
import { rateLimited } from './log.js';

describe('rate-limited log lines', () => {
  it('passes a burst, drops what goes over the rate, and says how many it dropped once tokens are back', () => {
    let now = 0;
    const lines: string[] = [];
    const sink = rateLimited({ write: (l) => lines.push(l) }, 'test', 10, 5, () => now);
    for (let i = 0; i < 50; i++) sink.write(`line ${i}\n`);
    expect(lines).toEqual(['line 0\n', 'line 1\n', 'line 2\n', 'line 3\n', 'line 4\n']);
    now += 1000; // ten tokens at 10 a second, capped to the burst of five
    sink.write('after\n');
    expect(lines).toHaveLength(7);
    expect(JSON.parse(lines[5]!)).toMatchObject({ level: 40, name: 'test', msg: '45 log lines dropped: more than 10 a second' });
    expect(lines[6]).toBe('after\n');
    // A steady 10 a second all get through.
    lines.length = 0;
    for (let i = 0; i < 30; i++) {
      now += 100;
      sink.write(`steady ${i}\n`);
    }
    expect(lines).toHaveLength(30);
  });
});
