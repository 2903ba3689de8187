/**
 * The scenario helpers' own checks: what a failure message shows of the
 * processes' logs.
 */
import { describe, expect, it } from 'vitest';
import { spawnProcess } from './harness/index.js';
import { logTails } from './scenario.js';

describe('logTails', () => {
  it("leaves the steady paths' hand-overs and per-frame chatter out of a tail, and keeps what says why", async () => {
    const meaningful = [
      'receiver 127.0.0.1:1: steady commits: surface 2 not handed over: no room',
      'clipboard selection of client 3 refused: serial 16 is older than its keyboard focus (19)',
      'receiver 127.0.0.1:1: steady commits: surface 2 could not be taken back: gone',
    ];
    const chatter = [
      'receiver 127.0.0.1:1: steady commits: surface 2 handed over',
      'receiver 127.0.0.1:1: steady commits: surface 2 taken back after 26 commits, one in flight',
      'steady frames: surface 12 handed over',
      'steady frames: surface 12 taken back after 493 commits',
      'wthp_seat@13.name: no handler',
    ];
    // Each meaningful line followed by more chatter than the tail holds.
    const lines = meaningful.flatMap((m) => [JSON.stringify({ msg: m }), ...Array.from({ length: 8 }, () => chatter.map((c) => JSON.stringify({ msg: c }))).flat()]);
    lines.push(JSON.stringify({ msg: 'stats', sent: 1 }));
    const proc = spawnProcess('sh', ['-c', 'printf "%s\\n" "$@"', 'sh', ...lines], { name: 'printer' });
    await proc.exited;
    expect(proc.lines).toHaveLength(lines.length);

    const tail = logTails({ printer: proc }, 15);
    for (const m of meaningful) expect(tail).toContain(m);
    for (const c of chatter) expect(tail).not.toContain(c);
    expect(tail).not.toContain('"stats"');
    expect(tail).toContain('--- printer (exited 0)');
  });
});
