// The before / after table of bench/compare.sh (bench/lib/compare.mjs) on result
// directories written here with known figures.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compare, format, median, readRuns, type SummaryRow } from './compare.mjs';

const script = join(import.meta.dirname, 'compare.mjs');
const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
});

function row(workload: string, mode: string, tx: number, rx: number, p50 = 1, p90 = 2): SummaryRow {
  return { section: 'main', workload, mode, reps: 3, tx_ms_per_frame: tx, rx_ms_per_frame: rx, c2w_p50_ms: p50, c2w_p90_ms: p90 };
}

function writeRun(dir: string, name: string, rows: SummaryRow[]): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(join(dir, name, 'summary.json'), JSON.stringify({ runs: [], summary: rows }));
}

describe('bench compare', () => {
  it('medians: odd, even, none, and values that are not numbers left out', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(median([null, 5, Number.NaN, undefined])).toBe(5);
  });

  it('gathers each figure per build across the runs, with medians and after / before', () => {
    const rows = compare([
      { build: 'base', summary: [row('term', 'wb', 1.2, 1.0), row('term', 'wp-lz4', 0.3, 0.2)] },
      { build: 'head', summary: [row('term', 'wb', 0.9, 1.1), row('term', 'wp-lz4', 0.3, 0.2)] },
      { build: 'base', summary: [row('term', 'wb', 1.4, 1.2)] },
      { build: 'head', summary: [row('term', 'wb', 1.1, 1.3), row('fhd-noise-1', 'wb', 0.8, 1.0)] },
    ]);
    const wb = rows.find((r) => r.workload === 'term' && r.mode === 'wb')!;
    const tx = wb.figures.tx_ms_per_frame!;
    expect(tx).toMatchObject({ base: [1.2, 1.4], head: [0.9, 1.1] });
    expect(tx.before).toBeCloseTo(1.3, 10);
    expect(tx.after).toBeCloseTo(1.0, 10);
    expect(tx.ratio).toBeCloseTo(1.0 / 1.3, 10);
    expect(wb.figures.rx_ms_per_frame!.ratio).toBeCloseTo(1.2 / 1.1, 10);
    const waypipe = rows.find((r) => r.mode === 'wp-lz4')!;
    expect(waypipe.figures.tx_ms_per_frame!.ratio).toBe(1);
    // A row only the new build has: no before, no ratio.
    const only = rows.find((r) => r.workload === 'fhd-noise-1')!;
    expect(only.figures.tx_ms_per_frame).toMatchObject({ base: [], head: [0.8], before: null, after: 0.8, ratio: null });
    expect(rows).toHaveLength(3);
  });

  it('reads base-K and head-K in the order they ran, skips a run without a summary, and prints the table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-compare-'));
    tmp.push(dir);
    writeRun(dir, 'head-2', [row('term', 'wb', 1.0, 1.0)]);
    writeRun(dir, 'base-1', [row('term', 'wb', 2.0, 1.0)]);
    writeRun(dir, 'head-1', [row('term', 'wb', 1.5, 1.0)]);
    writeRun(dir, 'base-10', [row('term', 'wb', 3.0, 1.0)]);
    mkdirSync(join(dir, 'base-2')); // failed before its summary
    mkdirSync(join(dir, 'raw'));
    const runs = readRuns(dir);
    expect(runs.map((r) => `${r.build}-${r.k}`)).toEqual(['base-1', 'head-1', 'head-2', 'base-10']);
    const text = format(compare(runs));
    expect(text).toContain('term wb');
    expect(text).toMatch(/tx ms\/f[^\n]*\n\s+term wb\s+2\.00, 3\.00 \/ 1\.50, 1\.00; 2\.50 \/ 1\.25; 0\.50/);
    const cli = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toBe(text);
  });

  it('says so when a directory holds no runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-compare-'));
    tmp.push(dir);
    const cli = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stderr).toContain('no runs');
  });
});
