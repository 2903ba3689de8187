// node bench/lib/compare.mjs DIR: the before / after table of bench/compare.sh.
//
// DIR holds the runs of two builds, alternated: base-1, head-1, base-2, head-2, ...
// each a bench/run.sh result directory with its summary.json. For every section,
// workload and mode, prints each run's median of the measured figures (ms a frame
// of each side, latency), then the median over the runs of each build and the
// ratio after / before.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median as medianOf } from './median.mjs';

/** The figures compared, as summary.json names them, and their column titles. */
export const FIGURES = [
  ['tx_ms_per_frame', 'tx ms/f'],
  ['rx_ms_per_frame', 'rx ms/f'],
  ['c2w_p50_ms', 'c->w p50'],
  ['c2w_p90_ms', 'c->w p90'],
];

/** The median of numbers (null for none). */
export function median(values) {
  return medianOf(values) ?? null;
}

/**
 * `runs`: { build: 'base' | 'head', summary: summary.json's `summary` rows }[], in the
 * order they ran. Returns one row per section, workload and mode that either build has:
 * each figure's values per run of each build, their medians and after / before.
 */
export function compare(runs) {
  const rows = new Map();
  for (const run of runs) {
    for (const s of run.summary) {
      const key = `${s.section}\t${s.workload}\t${s.mode}`;
      let row = rows.get(key);
      if (row === undefined) {
        row = { section: s.section, workload: s.workload, mode: s.mode, figures: {} };
        for (const [name] of FIGURES) row.figures[name] = { base: [], head: [] };
        rows.set(key, row);
      }
      for (const [name] of FIGURES) {
        const value = s[name];
        if (typeof value === 'number' && Number.isFinite(value)) row.figures[name][run.build].push(value);
      }
    }
  }
  return [...rows.values()].map((row) => {
    const figures = {};
    for (const [name] of FIGURES) {
      const { base, head } = row.figures[name];
      const before = median(base);
      const after = median(head);
      figures[name] = { base, head, before, after, ratio: before !== null && after !== null && before > 0 ? after / before : null };
    }
    return { section: row.section, workload: row.workload, mode: row.mode, figures };
  });
}

/** The runs of DIR (base-K and head-K with a summary.json), in the order they ran. */
export function readRuns(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const m = /^(base|head)-(\d+)$/.exec(name);
    if (m === null) continue;
    let summary;
    try {
      summary = JSON.parse(readFileSync(join(dir, name, 'summary.json'), 'utf8')).summary;
    } catch {
      continue; // a run that failed before its summary
    }
    found.push({ build: m[1], k: Number(m[2]), summary });
  }
  return found.sort((a, b) => a.k - b.k || (a.build === 'base' ? -1 : 1));
}

/** The table as text. */
export function format(rows) {
  const fmt = (x) => (x === null ? '-' : x.toFixed(2));
  const lines = [];
  for (const [name, title] of FIGURES) {
    lines.push(`${title}: each run before / each run after; medians; after / before`);
    for (const r of rows) {
      const f = r.figures[name];
      if (f.base.length === 0 && f.head.length === 0) continue;
      const label = `${r.section === 'main' ? '' : `${r.section} `}${r.workload} ${r.mode}`;
      lines.push(
        `  ${label.padEnd(28)} ${f.base.map(fmt).join(', ') || '-'} / ${f.head.map(fmt).join(', ') || '-'}; ${fmt(f.before)} / ${fmt(f.after)}; ${fmt(f.ratio)}`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error('usage: node bench/lib/compare.mjs DIR');
    process.exit(2);
  }
  const runs = readRuns(dir);
  if (runs.length === 0) {
    console.error(`no runs (base-K, head-K with a summary.json) in ${dir}`);
    process.exit(1);
  }
  process.stdout.write(format(compare(runs)));
}
