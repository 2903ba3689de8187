/**
 * Start-up time of the commands, as whole processes: `waltham --help`,
 * `waltham node show` against a local WalT server stand-in with two
 * transmitters answering (walt/test/lab.ts, without its silent board), and
 * `waltham-transmitter --help`, `waltham-receiver --help`; each interleaved
 * with Node alone (`node -e 0`) so the ratio holds on a busy machine.
 * Runs the built commands (dist/: npm run build).
 *
 *   npx tsx bench/startup.ts [-n RUNS]      # default 20 runs each, after 3 warm-ups
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_TOKEN, startLab } from '../walt/test/lab.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nArg = process.argv.indexOf('-n');
const runs = nArg > 0 ? Number(process.argv[nArg + 1]) : 20;
const WARMUP = 3;
const TARGET_S = 0.1;

/** Wall time of one run, in seconds; fails on a non-zero exit. */
function once(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code === 0) resolve(s);
      else reject(new Error(`node ${args.join(' ')}: exit ${code}\n${stderr}`));
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

for (const f of ['dist/waltham/waltham.js', 'dist/transmitter/main.js', 'dist/receiver/main.js']) {
  if (!existsSync(join(root, f))) {
    process.stderr.write(`bench: ${f} is missing (npm run build)\n`);
    process.exit(1);
  }
}

const lab = await startLab({ silentNat: false });
const env = { ...process.env, WALTHAM_TOKEN: LAB_TOKEN, HOME: '/nonexistent' };
const cases: [string, string[]][] = [
  ['waltham --help', [join(root, 'dist/waltham/waltham.js'), '--help']],
  ['waltham node show', [join(root, 'dist/waltham/waltham.js'), 'node', 'show', ...lab.args]],
  ['waltham-transmitter --help', [join(root, 'dist/transmitter/main.js'), '--help']],
  ['waltham-receiver --help', [join(root, 'dist/receiver/main.js'), '--help']],
];
const baseline = ['-e', '0'];

const lines: string[] = [];
lines.push(`start-up, ${runs} runs each after ${WARMUP} warm-ups, interleaved with node alone (node ${process.version})`);
lines.push(`${'command'.padEnd(28)}  ${'median s'.padStart(8)}  ${'min s'.padStart(7)}  ${'max s'.padStart(7)}  ${'node alone s'.padStart(12)}  ${'ratio'.padStart(6)}  ≤ ${TARGET_S} s`);
try {
  for (const [name, args] of cases) {
    const times: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < WARMUP + runs; i++) {
      const a = await once(args, env);
      const b = await once(baseline, env);
      if (i >= WARMUP) {
        times.push(a);
        base.push(b);
      }
    }
    const m = median(times);
    const ratios = times.map((t, i) => t / base[i]!);
    lines.push(
      `${name.padEnd(28)}  ${m.toFixed(3).padStart(8)}  ${Math.min(...times).toFixed(3).padStart(7)}  ${Math.max(...times).toFixed(3).padStart(7)}  ${median(base).toFixed(3).padStart(12)}  ${median(ratios).toFixed(2).padStart(6)}  ${m <= TARGET_S ? 'yes' : 'no'}`,
    );
  }
} finally {
  await lab.close();
}
process.stdout.write(`${lines.join('\n')}\n`);
