#!/usr/bin/env node
// The benchmark's figures, from the raw files of its runs.
//
//   node analyze.mjs run RUNDIR          -> RUNDIR/metrics.json, one line on stdout
//   node analyze.mjs table OUTDIR RUNDIR...
//       -> OUTDIR/summary.json, summary.csv, ratios.txt and the tables on stdout
//
// A run directory (bench/run.sh) holds meta.json, app.I.out and frames.I.csv
// (workload client instance I), app.I.err (WAYLAND_DEBUG of the terminal),
// cpu.log (lib/sample.mjs), relay.I.log (count-relay) and weston.tl (the
// run's part of weston's timeline; CLOCK_MONOTONIC like everything else).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './median.mjs';

const TERM_SKIP = 5; // terminal commits left out at the start (startup)

// ------------------------------------------------------------ helpers
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? undefined : s[Math.round((s.length - 1) * p)];
};
const lines = (path) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n') : []);

/** Commit times per title: core_commit_damage of the surfaces whose label holds 'TITLE'. */
function timeline(path, titles) {
  const ids = new Map(titles.map((t) => [t, new Set()]));
  const commits = new Map(titles.map((t) => [t, []]));
  for (const line of lines(path)) {
    if (!line.startsWith('{')) continue;
    let j;
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    if (j.id !== undefined) {
      if (typeof j.desc === 'string') for (const t of titles) if (j.desc.includes(`'${t}'`)) ids.get(t).add(j.id);
      continue;
    }
    if (j.N !== 'core_commit_damage') continue;
    for (const t of titles) if (ids.get(t).has(j.ws)) commits.get(t).push(j.T[0] * 1e9 + j.T[1]);
  }
  return commits;
}

/** The terminal's damaged commits of its main surface (CLOCK_MONOTONIC ns) from WAYLAND_DEBUG=client. */
function waylandDebugCommits(path, rtMinusMono, refRt) {
  // libwayland prints CLOCK_REALTIME microseconds cut to 32 bits
  const re = /^\[\s*(\d+)\.(\d{3})\]\s+-> (\w+)@(\d+)\.(\w+)\((.*)\)\s*$/;
  const refUs = Math.floor(refRt / 1000);
  let main;
  const damaged = new Set();
  const out = [];
  for (const line of lines(path)) {
    const m = re.exec(line);
    if (!m) continue;
    const [, ms, us, iface, id, msg, args] = m;
    const oid = Number(id);
    if (iface === 'xdg_wm_base' && msg === 'get_xdg_surface' && main === undefined) {
      const s = /wl_surface@(\d+)/.exec(args);
      if (s) main = Number(s[1]);
    } else if (iface === 'wl_surface') {
      if (msg === 'damage' || msg === 'damage_buffer') damaged.add(oid);
      else if (msg === 'commit') {
        if (oid === main && damaged.has(oid)) {
          const t32 = Number(ms) * 1000 + Number(us);
          const full = refUs - ((((refUs - t32) % 2 ** 32) + 2 ** 32) % 2 ** 32);
          out.push(full * 1000 - rtMinusMono);
        }
        damaged.delete(oid);
      }
    }
  }
  return out;
}

function result(path) {
  for (const line of lines(path)) {
    if (!line.startsWith('RESULT ')) continue;
    return Object.fromEntries(line.split(/\s+/).slice(1).filter(Boolean).map((kv) => {
      const [k, v] = kv.split('=');
      return [k, Number(v)];
    }));
  }
  return undefined;
}

/** role -> { t: [], cpu: [], hwm: [] } from lib/sample.mjs output; '__system' -> busy in cpu. */
function samples(path) {
  const series = new Map();
  for (const line of lines(path)) {
    const p = line.split(' ');
    if (p.length < 4) continue;
    const role = p[1];
    if (!series.has(role)) series.set(role, { t: [], cpu: [], hwm: [] });
    const s = series.get(role);
    s.t.push(Number(p[0]));
    s.cpu.push(Number(p[2]));
    s.hwm.push(Number(p[3]));
  }
  return series;
}

function interp(ts, vs, t) {
  if (ts.length === 0) return undefined;
  if (t <= ts[0]) return vs[0];
  if (t >= ts[ts.length - 1]) return vs[vs.length - 1];
  let lo = 0;
  let hi = ts.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] <= t) lo = mid;
    else hi = mid;
  }
  return vs[lo] + ((vs[hi] - vs[lo]) * (t - ts[lo])) / (ts[hi] - ts[lo]);
}

function relayBytes(dir, t0, t1) {
  let down = 0;
  let up = 0;
  for (const f of readdirSync(dir).filter((n) => /^relay\.\d+\.log$/.test(n))) {
    for (const line of lines(join(dir, f))) {
      if (line === '' || line.startsWith('#')) continue;
      const [t, d, n] = line.split(' ').map(Number);
      if (t < t0 || t > t1) continue;
      if (d === 0) down += n;
      else up += n;
    }
  }
  return { down, up };
}

// ------------------------------------------------------------ one run
function runMetrics(dir) {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  const m = { section: meta.section, workload: meta.workload, mode: meta.mode, rep: meta.rep, net: meta.net };
  if (meta.failed) m.error = 'a process did not start or timed out';
  const notes = [];
  let t0;
  let t1;
  let frames;
  const down = [];
  const doneLatency = [];
  const cpu = samples(join(dir, 'cpu.log'));

  if (meta.kind === 'client') {
    const titles = [];
    const per = [];
    for (let i = 1; i <= meta.instances; i++) {
      const r = result(join(dir, `app.${i}.out`));
      if (!r || !r.ok) {
        m.error = `client ${i} did not finish`;
        return m;
      }
      per.push(r);
      const rows = lines(join(dir, `frames.${i}.csv`)).slice(1).filter(Boolean).map((l) => l.split(',').map(Number));
      for (let s = 0; s < r.surfaces; s++) {
        const title = r.surfaces > 1 ? `${meta.titles[i - 1]}-${s}` : meta.titles[i - 1];
        titles.push({ title, rows: rows.filter((row) => row[0] === s), frames: r.frames });
      }
    }
    t0 = Math.min(...per.map((r) => r.t_begin_ns));
    t1 = Math.max(...per.map((r) => r.t_end_ns));
    frames = per.reduce((a, r) => a + r.frames * r.surfaces, 0);
    m.fps = per.reduce((a, r) => a + r.fps, 0) / per.length;
    m.fps_worst = Math.min(...per.map((r) => r.fps_min)); // slowest surface
    m.c2p_med_ms = median(per.map((r) => (r.c2p_n > 0 ? r.c2p_med_ms : undefined)));
    const tl = timeline(join(dir, 'weston.tl'), titles.map((x) => x.title));
    let shown = 0;
    for (const { title, rows, frames: measured } of titles) {
      const wst = tl.get(title);
      shown += wst.filter((t) => t >= t0 && t <= t1).length;
      // the k-th commit weston applied is the client's k-th commit
      if (wst.length !== rows.length) {
        notes.push(`${title}: weston applied ${wst.length} commits of ${rows.length}: latency left out`);
        continue;
      }
      for (let k = rows.length - measured; k < rows.length; k++) down.push((wst[k] - rows[k][2]) / 1e6);
    }
    // commit -> frame done, as the application sees it: defined even when a transport merges
    // commits (each merged commit's callback is answered when a newer frame is shown)
    for (const { rows, frames: measured } of titles) {
      for (const row of rows.slice(-measured)) if (row[3] > row[2]) doneLatency.push((row[3] - row[2]) / 1e6);
    }
    m.shown_fps = shown / titles.length / ((t1 - t0) / 1e9);
  } else if (meta.kind === 'terminal') {
    const wst = timeline(join(dir, 'weston.tl'), [meta.titles[0]]).get(meta.titles[0]);
    const skip = TERM_SKIP + (meta.term_extra ?? 0);
    if (wst.length < skip + 3) {
      m.error = `only ${wst.length} terminal commits seen`;
      return m;
    }
    t0 = wst[skip];
    t1 = wst[wst.length - 1];
    frames = wst.length - 1 - skip;
    m.fps = frames / ((t1 - t0) / 1e9);
    m.shown_fps = m.fps;
    const app = waylandDebugCommits(join(dir, 'app.1.err'), meta.rt_minus_mono_ns, meta.rt_end_ns);
    if (app.length === wst.length) {
      for (let k = skip + 1; k < wst.length; k++) down.push((wst[k] - app[k]) / 1e6);
    } else {
      notes.push(`${app.length} terminal commits vs ${wst.length} applied by weston: latency left out`);
    }
  } else {
    // idle: the last idle_s seconds before the sampler stopped
    const any = cpu.get('__system');
    if (!any || any.t.length < 2) {
      m.error = 'no samples';
      return m;
    }
    t1 = any.t[any.t.length - 1];
    t0 = t1 - meta.idle_s * 1e9;
    const wst = timeline(join(dir, 'weston.tl'), [meta.titles[0]]).get(meta.titles[0]);
    m.idle_commits = wst.filter((t) => t >= t0 && t <= t1).length;
    m.idle_shown = wst.length > 0 ? 1 : 0;
    if (wst.length === 0) m.error = 'the terminal was never shown';
  }
  const span = (t1 - t0) / 1e9;
  m.window_s = span;
  if (down.length > 0) {
    m.c2w_p50_ms = median(down);
    m.c2w_p90_ms = pct(down, 0.9);
    m.c2w_max_ms = Math.max(...down);
    // does latency stay bounded? p90 of the last frames against the first
    const n = Math.min(100, Math.floor(down.length / 2));
    if (n >= 10) {
      m.c2w_p90_first_ms = pct(down.slice(0, n), 0.9);
      m.c2w_p90_last_ms = pct(down.slice(-n), 0.9);
      m.c2w_growth = m.c2w_p90_last_ms / m.c2w_p90_first_ms;
    }
  }
  if (doneLatency.length > 0) {
    m.c2d_p50_ms = median(doneLatency);
    m.c2d_p90_ms = pct(doneLatency, 0.9);
    const n = Math.min(100, Math.floor(doneLatency.length / 2));
    if (n >= 10) m.c2d_growth = pct(doneLatency.slice(-n), 0.9) / pct(doneLatency.slice(0, n), 0.9);
  }
  if (frames !== undefined) m.frames = frames;

  if (meta.mode !== 'direct') {
    const { down: db, up: ub } = relayBytes(dir, t0, t1);
    if (frames !== undefined) {
      m.kib_per_frame = db / frames / 1024;
      m.up_b_per_frame = ub / frames;
    }
    m.down_mbit_s = (db * 8) / span / 1e6;
  }
  let ours = 0;
  for (const [role, s] of cpu) {
    if (role === '__system') continue;
    const a = interp(s.t, s.cpu, t0);
    const b = interp(s.t, s.cpu, t1);
    if (a === undefined) continue;
    ours += b - a;
    if (frames !== undefined) m[`${role}_ms_per_frame`] = (b - a) / 1e6 / frames;
    m[`${role}_cpu_pct`] = ((b - a) / 1e9 / span) * 100;
    m[`${role}_rss_mib`] = Math.max(...s.hwm) / 1024;
  }
  const sys = cpu.get('__system');
  if (sys) {
    const a = interp(sys.t, sys.cpu, t0);
    const b = interp(sys.t, sys.cpu, t1);
    m.other_cores = Math.max(0, (b - a - ours) / 1e9 / span);
  }
  if (notes.length > 0) m.note = notes.join('; ');
  return m;
}

// ------------------------------------------------------------ tables
const COLUMNS = {
  main: [
    ['fps', 'fps', 1],
    ['c2w_p50_ms', 'c->w p50', 2],
    ['c2w_p90_ms', 'p90', 2],
    ['kib_per_frame', 'KiB/f', 0],
    ['tx_ms_per_frame', 'tx ms/f', 2],
    ['rx_ms_per_frame', 'rx ms/f', 2],
    ['tx_rss_mib', 'tx MiB', 0],
    ['rx_rss_mib', 'rx MiB', 0],
    ['app_ms_per_frame', 'app ms/f', 2],
    ['weston_ms_per_frame', 'wst ms/f', 2],
    ['relay_ms_per_frame', 'relay', 2],
    ['sampler_ms_per_frame', 'sampler', 2],
    ['other_cores', 'other', 2],
  ],
  idle: [
    ['tx_cpu_pct', 'tx %core', 2],
    ['rx_cpu_pct', 'rx %core', 2],
    ['app_cpu_pct', 'app %', 2],
    ['weston_cpu_pct', 'weston %', 2],
    ['sampler_cpu_pct', 'sampler %', 2],
    ['idle_commits', 'commits', 0],
    ['down_mbit_s', 'Mbit/s', 3],
    ['tx_rss_mib', 'tx MiB', 0],
    ['rx_rss_mib', 'rx MiB', 0],
    ['other_cores', 'other', 2],
  ],
  link: [
    ['shown_fps', 'shown fps', 1],
    ['fps', 'app fps', 1],
    ['c2w_p50_ms', 'c->w p50', 1],
    ['c2w_p90_ms', 'p90', 1],
    ['c2w_p90_first_ms', 'p90 first', 1],
    ['c2w_p90_last_ms', 'p90 last', 1],
    ['c2w_growth', 'last/first', 2],
    ['c2d_p50_ms', 'c->done p50', 1],
    ['c2d_p90_ms', 'p90', 1],
    ['c2d_growth', 'last/first', 2],
    ['kib_per_frame', 'KiB/f', 0],
    ['down_mbit_s', 'Mbit/s', 1],
    ['tx_ms_per_frame', 'tx ms/f', 2],
    ['rx_ms_per_frame', 'rx ms/f', 2],
    ['tx_rss_mib', 'tx MiB', 0],
    ['rx_rss_mib', 'rx MiB', 0],
  ],
};
COLUMNS.quad = COLUMNS.main;
COLUMNS.two = COLUMNS.main;

const fmt = (v, d) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const render = (rows) => {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ').trimEnd()).join('\n');
};

function summarize(runs) {
  const groups = new Map();
  for (const r of runs) {
    const key = `${r.section}\t${r.workload}\t${r.mode}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const summary = [];
  for (const g of groups.values()) {
    const ok = g.filter((r) => r.error === undefined);
    const row = { section: g[0].section, workload: g[0].workload, mode: g[0].mode, reps: g.length, errors: g.length - ok.length };
    const keys = new Set(ok.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number' && k !== 'rep')));
    for (const k of keys) {
      const vs = ok.map((r) => r[k]).filter((v) => typeof v === 'number');
      row[k] = median(vs);
      row[`${k}_min`] = Math.min(...vs);
      row[`${k}_max`] = Math.max(...vs);
    }
    const notes = [...new Set(g.flatMap((r) => [r.note, r.error].filter(Boolean)))];
    if (notes.length > 0) row.notes = notes;
    summary.push(row);
  }
  return summary;
}

// Our modes against waypipe's best lossless mode (wp-none, wp-lz4, wp-zstd, or
// the same across TCP carriers: wpt-*) per workload and column; latency also
// against lz4; fps also against direct.
const WAYPIPES = {
  wp: "waypipe's best lossless mode (n none, l lz4, z zstd)",
  wpt: "waypipe across TCP, a carrier counted with each side: best lossless mode (n none, l lz4, z zstd)",
};
const RATIO_COLUMNS = {
  main: [
    ['fps', 'fps', 'max'],
    ['c2w_p50_ms', 'c->w p50', 'min'],
    ['c2w_p90_ms', 'p90', 'min'],
    ['kib_per_frame', 'KiB/f', 'min'],
    ['tx_ms_per_frame', 'tx ms/f', 'min'],
    ['rx_ms_per_frame', 'rx ms/f', 'min'],
    ['tx_rss_mib', 'tx MiB', 'min'],
    ['rx_rss_mib', 'rx MiB', 'min'],
  ],
  idle: [
    ['tx_cpu_pct', 'tx %core', 'min'],
    ['rx_cpu_pct', 'rx %core', 'min'],
    ['tx_rss_mib', 'tx MiB', 'min'],
    ['rx_rss_mib', 'rx MiB', 'min'],
  ],
  link: [
    ['shown_fps', 'shown fps', 'max'],
    ['c2w_p90_ms', 'p90', 'min'],
    ['kib_per_frame', 'KiB/f', 'min'],
    ['tx_ms_per_frame', 'tx ms/f', 'min'],
    ['rx_ms_per_frame', 'rx ms/f', 'min'],
  ],
};
RATIO_COLUMNS.quad = RATIO_COLUMNS.main;
RATIO_COLUMNS.two = RATIO_COLUMNS.main;
const SHORT = { none: 'n', lz4: 'l', zstd: 'z' };

function ratios(summary, section, family) {
  const rows = summary.filter((r) => r.section === section);
  const cols = RATIO_COLUMNS[section];
  const head = ['workload', 'mode', ...cols.map(([, name]) => name)];
  const extra = section === 'idle' ? [] : ['p50/lz4', 'p90/lz4', 'fps/direct'];
  const out = [[...head, ...extra]];
  for (const w of [...new Set(rows.map((r) => r.workload))]) {
    const of = (mode) => rows.find((r) => r.workload === w && r.mode === mode);
    const wp = Object.keys(SHORT)
      .map((c) => of(`${family}-${c}`))
      .filter(Boolean);
    for (const ours of rows.filter((r) => r.workload === w && /^wb(-|$)/.test(r.mode))) {
      const cells = [w, ours.mode];
      for (const [key, , best] of cols) {
        const cands = wp.filter((r) => Number.isFinite(r[key]) && r[key] > 0);
        if (!Number.isFinite(ours[key]) || cands.length === 0) {
          cells.push('-');
          continue;
        }
        const b = cands.reduce((x, y) => ((best === 'min' ? y[key] < x[key] : y[key] > x[key]) ? y : x));
        cells.push(`${fmt(ours[key] / b[key], 2)}${SHORT[b.mode.slice(family.length + 1)]}`);
      }
      if (extra.length > 0) {
        const lz4 = of(`${family}-lz4`);
        const direct = of('direct');
        cells.push(lz4 ? fmt(ours.c2w_p50_ms / lz4.c2w_p50_ms, 2) : '-');
        cells.push(lz4 ? fmt(ours.c2w_p90_ms / lz4.c2w_p90_ms, 2) : '-');
        cells.push(direct ? fmt(ours.fps / direct.fps, 2) : '-');
      }
      out.push(cells);
    }
  }
  return out.length > 1 ? render(out) : '';
}

const TITLES = {
  main: 'Main matrix (loopback)',
  quad: 'Four full-HD surfaces from one client (loopback; per-frame figures per surface frame)',
  two: 'Two clients, each through its own transmitter, into one receiver (loopback)',
  idle: 'Idle: a still weston-terminal (CPU in % of one core over the idle window)',
  link: 'Over a shaped link (two network namespaces, veth, tbf)',
};

function table(outDir, dirs) {
  const runs = dirs.map((d) => join(d, 'metrics.json')).filter(existsSync).map((p) => JSON.parse(readFileSync(p, 'utf8')));
  const summary = summarize(runs);
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify({ runs, summary }, null, 1));
  const keys = ['section', 'workload', 'mode', 'reps', 'errors'];
  for (const r of summary) for (const k of Object.keys(r)) if (!keys.includes(k) && k !== 'notes') keys.push(k);
  const csv = [keys.join(',')];
  for (const r of summary) csv.push(keys.map((k) => (r[k] === undefined ? '' : typeof r[k] === 'number' ? +r[k].toPrecision(6) : r[k])).join(','));
  writeFileSync(join(outDir, 'summary.csv'), csv.join('\n') + '\n');

  let text = '';
  let ratioText = '';
  for (const section of Object.keys(TITLES)) {
    const rows = summary.filter((r) => r.section === section);
    if (rows.length === 0) continue;
    const cols = COLUMNS[section];
    const t = [['workload', 'mode', 'n', ...cols.map(([, name]) => name)]];
    for (const r of rows) {
      t.push([r.workload, r.mode, String(r.reps - r.errors), ...cols.map(([k, , d]) => {
        const v = fmt(r[k], d);
        if (v === '-' || r.reps - r.errors < 2) return v;
        const spread = ((r[`${k}_max`] - r[`${k}_min`]) / Math.abs(r[k])) * 50;
        return spread >= 0.5 && Number.isFinite(spread) ? `${v}±${Math.round(spread)}%` : v;
      })]);
    }
    text += `\n${TITLES[section]}\n${render(t)}\n`;
    for (const r of rows) if (r.notes) text += `  ${r.workload} ${r.mode}: ${r.notes.join('; ')}\n`;
    for (const [family, title] of Object.entries(WAYPIPES)) {
      // waypipe on unix sockets always (fps/direct without it too); across TCP when it ran
      if (family !== 'wp' && !rows.some((r) => r.mode.startsWith(`${family}-`))) continue;
      const rt = ratios(summary, section, family);
      if (rt) ratioText += `\n${TITLES[section]}: ours / ${title}\n${rt}\n`;
    }
  }
  if (ratioText) {
    ratioText =
      'Ratios below 1 are better than waypipe, except fps columns (above 1 is better).\n' +
      'p50/lz4, p90/lz4: latency against waypipe lz4; fps/direct: against the client on weston directly.\n' +
      ratioText;
    writeFileSync(join(outDir, 'ratios.txt'), ratioText);
  }
  text += `
Columns: medians over repetitions, ±half the min-max spread in % of the median.
 fps          frames/s of the client (mean over its surfaces); shown fps: commits weston applied per second
 c->w p50/p90 ms from the client's wl_surface.commit to the display's weston applying it (timeline)
 c->done      (link) ms from the commit to its frame callback, as the client sees it; defined also
              when a transport merges commits (then c->w is left out); last/first: p90 of the last
              100 frames over the first 100 (a growing queue shows as > 1)
 KiB/f        bytes towards the display per frame (count-relay)
 tx/rx ms/f   CPU ms per frame of the application side (transmitter / waypipe server) and of the
              display side (receiver / waypipe client, with its children)
 tx/rx MiB    peak RSS of each side (sum of VmHWM of its processes)
 app, wst, relay, sampler  CPU ms per frame of the client, the display's weston, the counting
              relays and the CPU sampler
 other        cores busy outside this benchmark (noise from elsewhere)
`;
  process.stdout.write(text + (ratioText ? `\n${ratioText}` : ''));
}

// ------------------------------------------------------------ main
const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'run' && args.length === 1) {
  const m = runMetrics(args[0]);
  writeFileSync(join(args[0], 'metrics.json'), JSON.stringify(m, null, 1));
  const short = ['fps', 'shown_fps', 'c2w_p50_ms', 'c2w_p90_ms', 'kib_per_frame', 'tx_ms_per_frame', 'rx_ms_per_frame', 'tx_cpu_pct', 'rx_cpu_pct', 'error', 'note'];
  process.stdout.write(`   ${JSON.stringify(Object.fromEntries(short.filter((k) => m[k] !== undefined).map((k) => [k, typeof m[k] === 'number' ? +m[k].toFixed(2) : m[k]])))}\n`);
} else if (cmd === 'table' && args.length >= 1) {
  table(args[0], args.slice(1));
} else {
  process.stderr.write('usage: analyze.mjs run RUNDIR | table OUTDIR RUNDIR...\n');
  process.exit(2);
}
