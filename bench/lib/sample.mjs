#!/usr/bin/env node
// Samples the CPU time and peak memory of process roles, and the machine's
// busy time, until SIGTERM or until every role's root process has exited.
//
//   node sample.mjs OUT_FILE ROLE=SPEC ...
//
// SPEC: PID (that process and its threads), tree:PID (it and all its
// descendants) or desc:PID (only its descendants). A process in several
// roles belongs to the one whose root is its nearest ancestor, so
// `tx=PID app=desc:PID` splits a transmitter from the application it started.
//
// Every 50 ms it appends "<CLOCK_MONOTONIC ns> <role> <cpu ns> <hwm KiB>":
// cumulative on-CPU time (sum of /proc/PID/task/*/schedstat, a thread that
// ends keeping its last value: thread-cpu.mjs; a process that exits keeps its
// last value) and the sum of the processes' VmHWM (peak
// resident set) seen so far; the same for the sampler itself (role
// "sampler"); and "<ns> __system <busy ns> <total ns>" from /proc/stat.
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { ThreadCpu } from './thread-cpu.mjs';

const [out, ...specs] = process.argv.slice(2);
if (out === undefined || specs.length === 0) {
  process.stderr.write('usage: sample.mjs OUT_FILE ROLE=[tree:|desc:]PID ...\n');
  process.exit(2);
}
const roles = specs.map((s) => {
  const [name, spec] = s.split('=');
  const [kind, pid] = spec.includes(':') ? spec.split(':') : ['self', spec];
  return { name, kind, pid: Number(pid) };
});
const roots = new Set(roles.map((r) => r.pid));
const nsPerTick = 1e9 / 100; // /proc/stat counts USER_HZ ticks, 100 on Linux

const read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const children = (pid) => {
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((t) => (read(`/proc/${pid}/task/${t}/children`) ?? '').split(' ').filter(Boolean).map(Number));
};
const threadCpu = new ThreadCpu();
const cpuNs = (pid) => {
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const counts = new Map();
  for (const t of tids) {
    const text = read(`/proc/${pid}/task/${t}/schedstat`);
    const ns = text === undefined ? NaN : Number(text.split(' ')[0]);
    counts.set(t, Number.isFinite(ns) ? ns : undefined);
  }
  return threadCpu.update(pid, counts);
};
const hwmKiB = (pid) => {
  const m = /VmHWM:\s+(\d+)/.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) : undefined;
};
const systemNs = () => {
  const v = (read('/proc/stat') ?? '').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = v[3] + v[4];
  const total = v.reduce((a, b) => a + b, 0);
  return [(total - idle) * nsPerTick, total * nsPerTick];
};

const members = new Map(); // pid -> role name
const last = new Map(); // pid -> { role, cpu, hwm }
let nextScan = 0;
let stop = false;
process.on('SIGTERM', () => (stop = true));
process.on('SIGINT', () => (stop = true));
writeFileSync(out, '');

const scan = () => {
  members.clear();
  for (const r of roles) if (r.kind === 'self') members.set(r.pid, r.name);
  for (const r of roles) {
    if (r.kind === 'self') continue;
    if (r.kind === 'tree' && !members.has(r.pid)) members.set(r.pid, r.name);
    const stack = children(r.pid);
    while (stack.length > 0) {
      const p = stack.pop();
      if (roots.has(p)) continue; // another role's subtree
      if (!members.has(p)) members.set(p, r.name);
      stack.push(...children(p));
    }
  }
};

const sample = () => {
  const now = process.hrtime.bigint();
  if (now >= nextScan) {
    scan();
    nextScan = now + 250_000_000n;
  }
  for (const [pid, role] of members) {
    const cpu = cpuNs(pid);
    if (cpu === undefined) continue;
    const prev = last.get(pid);
    last.set(pid, { role, cpu, hwm: Math.max(hwmKiB(pid) ?? 0, prev?.hwm ?? 0) });
  }
  const sums = new Map(roles.map((r) => [r.name, { cpu: 0, hwm: 0 }]));
  for (const { role, cpu, hwm } of last.values()) {
    const s = sums.get(role);
    s.cpu += cpu;
    s.hwm += hwm;
  }
  let text = '';
  for (const [name, s] of sums) text += `${now} ${name} ${s.cpu} ${s.hwm}\n`;
  text += `${now} sampler ${cpuNs(process.pid) ?? 0} ${hwmKiB(process.pid) ?? 0}\n`;
  const [busy, total] = systemNs();
  text += `${now} __system ${busy} ${total}\n`;
  appendFileSync(out, text);
  const anyAlive = [...roots].some((p) => read(`/proc/${p}/stat`) !== undefined && !/\) Z /.test(read(`/proc/${p}/stat`) ?? ''));
  if (stop || !anyAlive) process.exit(0);
};
setInterval(sample, 50);
sample();
