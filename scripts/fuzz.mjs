#!/usr/bin/env node
// npm run fuzz [-- --inputs N] [-- --seed S]: every decoder the network reaches, fuzzed with N
// inputs each (default 1,000,000; a connection-level input is one message): the Rust tile
// writer and codecs (including the LZ4 decoder against lz4_flex's), the Waltham codec and both
// Waltham roles over TCP, and the transmitter's Wayland server with fds over its Unix socket.
// Prints a table; exits non-zero when any part failed. The test command runs the same parts
// for a second or two each.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const inputs = Number(option('--inputs', '1000000'));
const seed = option('--seed', String(Math.floor(Math.random() * 2 ** 31)));
const env = { ...process.env, FUZZ_INPUTS: String(inputs), FUZZ_SEED: seed, FUZZ_MS: '0' };
const rows = [];

function run(command, argv) {
  const started = Date.now();
  const result = spawnSync(command, argv, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
  process.stdout.write(result.stdout ?? '');
  return { ok: result.status === 0, out: result.stdout ?? '', seconds: (Date.now() - started) / 1000 };
}

console.log(`fuzzing with ${inputs} inputs per part, seed ${seed}`);

const rust = run('cargo', [
  'test', '--release', '--manifest-path', 'native/wayland-shim/Cargo.toml', '--lib', '--',
  'fuzz::', 'codec::tests::fuzzed_inputs', 'codec::tests::the_lz4_decoder_agrees', '--nocapture', '--test-threads', '1',
]);
for (const m of rust.out.matchAll(/fuzz (.+?): (\d+) inputs in ([\d.]+) s/g)) rows.push([`rust: ${m[1]}`, Number(m[2]), Number(m[3]), rust.ok]);
if (!rust.ok) rows.push(['rust', 0, rust.seconds, false]);

const vitest = (file) => run('npx', ['vitest', 'run', file, '--testTimeout=0', '--reporter=default']);
const waltham = vitest('shared/waltham/wire.fuzz.test.ts');
const stats = JSON.parse(/fuzz seed \d+: (\{.*\})/.exec(waltham.out)?.[1] ?? '{}');
const sum = (pattern) => Object.entries(stats).filter(([k]) => pattern.test(k)).reduce((n, [, v]) => n + v, 0);
rows.push(['waltham: valid streams, chunked', sum(/^valid streams$/), waltham.seconds, waltham.ok]);
rows.push(['waltham: garbage and mutated streams', sum(/^garbage/), waltham.seconds, waltham.ok]);
rows.push(['waltham: server peers (messages)', sum(/^server messages$/), waltham.seconds, waltham.ok]);
rows.push(['waltham: client (messages)', sum(/^client messages$/), waltham.seconds, waltham.ok]);

const wayland = vitest('transmitter/compositor/fuzz.test.ts');
const wstats = JSON.parse(/wayland fuzz seed \d+: (\{.*\})/.exec(wayland.out)?.[1] ?? '{}');
rows.push(['wayland server with fds (messages)', wstats.messages ?? 0, wayland.seconds, wayland.ok]);

console.log('\n| part | inputs | seconds | result |\n|---|---|---|---|');
for (const [name, n, s, ok] of rows) console.log(`| ${name} | ${n} | ${s.toFixed(0)} | ${ok ? 'no crash' : 'FAILED'} |`);
console.log(`seed ${seed} (npm run fuzz -- --seed ${seed} repeats the run)`);
process.exit(rows.every((r) => r[3]) ? 0 : 1);
