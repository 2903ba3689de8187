/**
 * Start-up time of the commands, as whole processes: `waltham --help`,
 * `waltham node show` against a local WalT server stand-in with two
 * transmitters answering (walt/test/lab.ts, without its silent board), and
 * `waltham-transmitter --help`, `waltham-receiver --help`; each interleaved
 * with Node alone (`node -e 0`) so the ratio holds on a busy machine.
 * Runs the built commands (dist/: npm run build). Reports wall time and each
 * process's own CPU time (bench/cpu-at-exit.cjs), which a busy machine
 * disturbs much less; the ratios are to Node alone, pair by pair.
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

interface Run {
  readonly wall: number;
  readonly cpu: number;
}

/** Wall and CPU time of one run, in seconds; fails on a non-zero exit. */
function once(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--require', join(root, 'bench', 'cpu-at-exit.cjs'), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = Number(/cpu-us: (\d+)\n$/.exec(stderr)?.[1] ?? NaN) / 1e6;
      if (code === 0) resolve({ wall, cpu });
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
lines.push(`${'command'.padEnd(28)}  ${'wall median s'.padStart(13)}  ${'min s'.padStart(6)}  ${'max s'.padStart(6)}  ${'node alone'.padStart(10)}  ${'ratio'.padStart(5)}  ${'cpu median s'.padStart(12)}  ${'node alone'.padStart(10)}  ${'ratio'.padStart(5)}`);
try {
  for (const [name, args] of cases) {
    const runsA: Run[] = [];
    const runsB: Run[] = [];
    for (let i = 0; i < WARMUP + runs; i++) {
      const a = await once(args, env);
      const b = await once(baseline, env);
      if (i >= WARMUP) {
        runsA.push(a);
        runsB.push(b);
      }
    }
    const wall = runsA.map((r) => r.wall);
    const cpu = runsA.map((r) => r.cpu);
    const f = (x: number, w: number): string => x.toFixed(3).padStart(w);
    lines.push(
      `${name.padEnd(28)}  ${f(median(wall), 13)}  ${f(Math.min(...wall), 6)}  ${f(Math.max(...wall), 6)}  ${f(median(runsB.map((r) => r.wall)), 10)}  ${median(runsA.map((r, i) => r.wall / runsB[i]!.wall)).toFixed(2).padStart(5)}  ` +
        `${f(median(cpu), 12)}  ${f(median(runsB.map((r) => r.cpu)), 10)}  ${median(runsA.map((r, i) => r.cpu / runsB[i]!.cpu)).toFixed(2).padStart(5)}`,
    );
  }
} finally {
  await lab.close();
}
lines.push(`target: a median of at most ${TARGET_S} s for each (Node alone takes about 0.07 s on an idle machine); on a busy one, read the ratios.`);
process.stdout.write(`${lines.join('\n')}\n`);
