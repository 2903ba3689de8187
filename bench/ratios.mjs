#!/usr/bin/env node
// Ratios of waltham-bridge's figures to waypipe's, per workload, from the
// runner's summary.json: latency (commit->weston applied, median and p90),
// bytes per frame, and CPU per frame on each side. Below 1 is better than
// waypipe. Usage: node bench/ratios.mjs OUT/summary.json [BASELINE_MODE]
import { readFileSync } from 'node:fs';

const [file, baseline = 'wp-lz4'] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: ratios.mjs summary.json [baseline-mode]\n');
  process.exit(2);
}
const { runs } = JSON.parse(readFileSync(file, 'utf8'));

const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const metrics = [
  ['fps', 'fps'],
  ['commit->wst', 'down_med_ms'],
  ['p90', 'down_p90_ms'],
  ['KiB/frame', 'down_kib_per_frame'],
  ['tx ms/f', 'cpu_tx_ms_per_frame'],
  ['rx ms/f', 'cpu_rx_ms_per_frame'],
];
const groups = new Map();
for (const r of runs) {
  const key = `${r.workload}\t${r.mode}`;
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(r);
}
const value = (workload, mode, field) => median((groups.get(`${workload}\t${mode}`) ?? []).map((r) => r[field]));
const workloads = [...new Set(runs.map((r) => r.workload))];
const ours = [...new Set(runs.map((r) => r.mode))].filter((m) => m === 'wb' || m.startsWith('wb-'));

const fmt = (x) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) : '-');
const rows = [['workload', 'mode', ...metrics.map(([name]) => name)]];
for (const w of workloads) {
  for (const m of ours) {
    rows.push([w, `${m}/${baseline}`, ...metrics.map(([, field]) => fmt(value(w, m, field) / value(w, baseline, field)))]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
process.stdout.write(`\nratios to ${baseline} (below 1: better than waypipe; fps: above 1 is better)\n`);
for (const r of rows) process.stdout.write(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ') + '\n');
