/**
 * What one frame costs a Node process that does nothing but relay it: one
 * message in over TCP (from the transmitter's side), one out to a Unix socket
 * (the compositor), its answer back, one message out over TCP: the two
 * wake-ups a receiver needs per frame at least (the frame arrives, then the
 * compositor's frame events), with no work between them. Measured at 60
 * exchanges a second, as frames come, and back to back, where the loop never
 * sleeps; the difference is what waking from idle costs. The relay
 * (bench/lib/floor-relay.ts, built into dist/) reports its own CPU time after
 * its warm-up exchanges; the peers run in this process. The `epoll` row is the
 * same relay as a plain C program (bench/client/floor-relay.c, built here with
 * make): what a native process pays for the same exchanges.
 *
 *   npm run build:ts && npx tsx bench/loop-floor.ts [-r REPS] [-n EXCHANGES]
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const relay = join(root, 'dist/bench/lib/floor-relay.js');
const build = join(root, 'out/bench-build');
const nativeRelay = join(build, 'floor-relay');
const arg = (flag: string, fallback: number): number => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const reps = arg('-r', 3);
const exchanges = arg('-n', 600);
const WARMUP = 60;
const FRAME = Buffer.alloc(200, 1);
const ANSWER = Buffer.alloc(50, 2);

function listen(server: net.Server, where: string | number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'string') server.listen(where, resolve);
    else server.listen(where, '127.0.0.1', resolve);
  });
}

/** CPU ms of the relay per exchange, `gapMs` apart (0: back to back). */
async function measure(variant: string, gapMs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'loop-floor-'));
  const compositor = net.createServer((s) => s.on('data', () => s.write(ANSWER)));
  const transmitter = net.createServer();
  try {
    await listen(compositor, join(dir, 'compositor'));
    await listen(transmitter, 0);
    const port = (transmitter.address() as net.AddressInfo).port;
    const args = [String(port), join(dir, 'compositor'), String(WARMUP)];
    const child =
      variant === 'epoll'
        ? spawn(nativeRelay, args, { stdio: ['ignore', 'pipe', 'inherit'] })
        : spawn(process.execPath, [relay, variant, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(child, 'exit');
    const [socket] = (await once(transmitter, 'connection')) as [net.Socket];
    socket.setNoDelay(true);
    const start = performance.now();
    for (let i = 0; i < WARMUP + exchanges; i++) {
      const answered = once(socket, 'data');
      socket.write(FRAME);
      await answered;
      const wait = start + (i + 1) * gapMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
    socket.end();
    const [code] = (await exited) as [number | null];
    if (code !== 0) throw new Error(`relay ${variant} exited with ${code}`);
    const result = JSON.parse(output.trim()) as { exchanges: number; cpuUs: number | null };
    if (result.cpuUs === null || result.exchanges !== exchanges) throw new Error(`relay ${variant} counted ${result.exchanges} exchanges, expected ${exchanges}`);
    return result.cpuUs / 1000 / result.exchanges;
  } finally {
    compositor.close();
    transmitter.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!existsSync(relay)) {
  console.error(`${relay} is missing: npm run build:ts first`);
  process.exit(1);
}
console.log(`relay CPU ms per exchange, median of ${reps} reps of ${exchanges} exchanges after ${WARMUP} warm-up`);
console.log(`${'relay'.padEnd(8)}  ${'60/s'.padStart(7)}  ${'back to back'.padStart(12)}  ${'ratio'.padStart(5)}`);
execFileSync('make', ['-s', '-C', join(root, 'bench/client'), `OUT=${build}`, join(build, 'floor-relay')], { stdio: 'inherit' });
for (const variant of ['net', 'shim', 'epoll']) {
  const paced: number[] = [];
  const packed: number[] = [];
  for (let r = 0; r < reps; r++) {
    paced.push(await measure(variant, 1000 / 60));
    packed.push(await measure(variant, 0));
  }
  const a = median(paced);
  const b = median(packed);
  console.log(`${variant.padEnd(8)}  ${a.toFixed(3).padStart(7)}  ${b.toFixed(3).padStart(12)}  ${(a / b).toFixed(2).padStart(5)}`);
}
