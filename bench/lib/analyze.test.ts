// The benchmark's analysis (bench/lib/analyze.mjs) on run directories written
// here with known figures: latency from the client's commits and weston's
// timeline, bytes, CPU and peak RSS per frame inside the measured window, and
// the ratios to waypipe's best lossless mode.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const analyze = join(import.meta.dirname, 'analyze.mjs');
const T0 = 5_000_000_000_000; // CLOCK_MONOTONIC ns of the first commit
const FRAME_NS = 25_000_000;
const WARMUP = 5;
const FRAMES = 20;

interface Fixture {
  mode: string;
  /** ms from commit to weston applying it, for even and odd frames */
  latencyMs: [number, number];
  txMsPerFrame: number;
  rxMsPerFrame: number;
  bytesPerFrame: number;
  txHwmKiB: number;
  /** leave out weston's commit of this frame */
  dropFrame?: number;
}

const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
});

function writeRun(root: string, f: Fixture): string {
  const dir = join(root, `main.fhd-noise-1.${f.mode}.1`);
  mkdirSync(dir, { recursive: true });
  const total = WARMUP + FRAMES;
  const commit = (k: number): number => T0 + k * FRAME_NS;
  const done = (k: number): number => commit(k) + 20_000_000;
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({
      section: 'main', workload: 'fhd-noise-1', mode: f.mode, rep: 1, net: 'lo', kind: 'client', instances: 1,
      titles: ['wbb-1'], idle_s: 30, failed: 0, rt_minus_mono_ns: 0, rt_begin_ns: 0, rt_end_ns: 0,
    }),
  );
  writeFileSync(
    join(dir, 'app.1.out'),
    `RESULT ok=1 fps=40.000 fps_min=40.000 surfaces=1 frames=${FRAMES} c2d_med_ms=20 c2d_p90_ms=20 ` +
      `c2p_med_ms=-1 c2p_p90_ms=-1 c2p_n=0 first_frame_ms=10 client_cpu_s=0.1 ` +
      `t_begin_ns=${commit(WARMUP)} t_end_ns=${done(total - 1)}\n`,
  );
  const csv = ['surface,frame,commit_mono_ns,done_mono_ns,c2p_ns'];
  const tl = ['{ "id":7, "type":"weston_surface", "desc":"top-level window \'wbb-1\' of wb-bench-client" }'];
  const relay: string[] = [];
  for (let k = 0; k < total; k++) {
    csv.push(`0,${k},${commit(k)},${done(k)},-1`);
    const t = commit(k) + f.latencyMs[k % 2] * 1e6;
    if (k !== f.dropFrame) tl.push(`{ "T":[${Math.floor(t / 1e9)}, ${t % 1e9}], "N":"core_commit_damage", "ws":7 }`);
    relay.push(`${commit(k) + 500_000} 0 ${f.bytesPerFrame}`, `${done(k)} 1 100`);
  }
  writeFileSync(join(dir, 'frames.1.csv'), csv.join('\n') + '\n');
  writeFileSync(join(dir, 'weston.tl'), tl.join('\n') + '\n');
  writeFileSync(join(dir, 'relay.1.log'), relay.join('\n') + `\n# total 0 0\n`);
  // CPU grows linearly: txMsPerFrame per FRAME_NS
  const cpu: string[] = [];
  for (let t = T0 - 200_000_000; t <= done(total - 1) + 200_000_000; t += 50_000_000) {
    const frames = (t - T0) / FRAME_NS;
    cpu.push(`${t} tx ${Math.round(Math.max(0, frames) * f.txMsPerFrame * 1e6)} ${f.txHwmKiB}`);
    cpu.push(`${t} rx ${Math.round(Math.max(0, frames) * f.rxMsPerFrame * 1e6)} 51200`);
    cpu.push(`${t} __system ${t} ${2 * t}`);
  }
  writeFileSync(join(dir, 'cpu.log'), cpu.join('\n') + '\n');
  return dir;
}

function run(...args: string[]): string {
  const r = spawnSync(process.execPath, [analyze, ...args], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

const metrics = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));

const base: Fixture = { mode: 'wb', latencyMs: [1, 3], txMsPerFrame: 2, rxMsPerFrame: 1, bytesPerFrame: 10240, txHwmKiB: 102400 };

describe('bench analysis', () => {
  it('measures latency, bytes, CPU and peak RSS over the measured frames only', () => {
    const root = mkdtempSync(join(tmpdir(), 'wbb-analyze-'));
    tmp.push(root);
    const dir = writeRun(root, base);
    run('run', dir);
    const m = metrics(dir);
    expect(m.error).toBeUndefined();
    expect(m.note).toBeUndefined();
    expect(m.c2w_p50_ms).toBeCloseTo(2, 6); // ten frames at 1 ms, ten at 3 ms
    expect(m.c2w_p90_ms).toBeCloseTo(3, 6);
    expect(m.kib_per_frame).toBeCloseTo(10, 6);
    expect(m.tx_ms_per_frame).toBeCloseTo(2 * (FRAMES - 0.2) / FRAMES, 3); // the window ends at the last frame callback
    expect(m.rx_ms_per_frame).toBeCloseTo(1 * (FRAMES - 0.2) / FRAMES, 3);
    expect(m.tx_rss_mib).toBe(100);
    expect(m.rx_rss_mib).toBe(50);
    expect(m.fps).toBe(40);
  });

  it('leaves latency out, with a note, when weston applied fewer commits than the client made', () => {
    const root = mkdtempSync(join(tmpdir(), 'wbb-analyze-'));
    tmp.push(root);
    const dir = writeRun(root, { ...base, dropFrame: 12 });
    run('run', dir);
    const m = metrics(dir);
    expect(m.c2w_p50_ms).toBeUndefined();
    expect(String(m.note)).toContain('weston applied 24 commits of 25');
    expect(m.kib_per_frame).toBeCloseTo(10, 6);
  });

  /** Our base run and waypipe runs differing from it by `others`, analyzed and tabled: the table's output, its ratios and its directory. */
  function tabled(others: Partial<typeof base>[]): { out: string; ratios: string; root: string } {
    const root = mkdtempSync(join(tmpdir(), 'wbb-analyze-'));
    tmp.push(root);
    const dirs = [writeRun(root, base), ...others.map((o) => writeRun(root, { ...base, ...o }))];
    for (const d of dirs) run('run', d);
    const out = run('table', root, ...dirs);
    return { out, ratios: readFileSync(join(root, 'ratios.txt'), 'utf8'), root };
  }

  it('divides our figures by the best lossless waypipe mode per column', () => {
    const { out, ratios, root } = tabled([
      { mode: 'wp-none', latencyMs: [4, 4], txMsPerFrame: 4, bytesPerFrame: 40960 },
      { mode: 'wp-lz4', latencyMs: [8, 8], txMsPerFrame: 8, bytesPerFrame: 20480 },
    ]);
    expect(out).toContain(ratios);
    const row = ratios.split('\n').find((l) => l.startsWith('fhd-noise-1'));
    expect(row).toBeDefined();
    const cells = row!.trim().split(/\s+/);
    // workload mode fps p50 p90 KiB/f tx rx txMiB rxMiB p50/lz4 p90/lz4 fps/direct
    expect(cells.slice(1, 10)).toEqual(['wb', '1.00n', '0.50n', '0.75n', '0.50l', '0.50n', '1.00n', '1.00n', '1.00n']);
    expect(cells.slice(10)).toEqual(['0.25', '0.38', '-']);
    const summary = JSON.parse(readFileSync(join(root, 'summary.json'), 'utf8')) as { summary: { mode: string }[] };
    expect(summary.summary.map((r) => r.mode)).toEqual(['wb', 'wp-none', 'wp-lz4']);
  });

  it('has a table against waypipe across TCP carriers, apart from waypipe on unix sockets', () => {
    const { ratios } = tabled([
      { mode: 'wp-lz4', latencyMs: [8, 8], txMsPerFrame: 8, bytesPerFrame: 20480 },
      { mode: 'wpt-none', latencyMs: [4, 4], txMsPerFrame: 16, bytesPerFrame: 40960 },
    ]);
    const parts = ratios.split(/\n(?=Main matrix)/);
    const rowOf = (title: RegExp): string[] => {
      const part = parts.find((p) => title.test(p.split('\n')[0]!));
      expect(part).toBeDefined();
      return part!.split('\n').find((l) => l.startsWith('fhd-noise-1'))!.trim().split(/\s+/);
    };
    // tx ms/f against each family alone: 2 / 8 (wp-lz4) and 2 / 16 (wpt-none)
    expect(rowOf(/waypipe's best lossless/)[6]).toBe('0.25l');
    const tcp = rowOf(/waypipe across TCP/);
    expect(tcp[6]).toBe('0.13n');
    // no wpt-lz4 run: no latency ratio against lz4 in that table
    expect(tcp.slice(10, 12)).toEqual(['-', '-']);
  });
});
