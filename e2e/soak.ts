/**
 * The soak run: four applications on one transmitter, shown by a receiver on
 * a headless weston, for a long time (30 minutes by default), while the
 * receiver is restarted every 2 minutes (SIGTERM and SIGKILL in turn) and the
 * link is cut for 10 s every 2 minutes in between (a TCP relay in this
 * process drops every connection and refuses new ones, then lets them in
 * again). Every 10 s it samples the file descriptors and RSS of both
 * commands and counts the applications' windows on the display; after each
 * restart and each cut it measures how long the picture takes to come back.
 * At the end it prints the samples as a table and checks that the
 * transmitter's fds and RSS stayed flat (last 5 minutes against the first 5
 * after warm-up) and every window came back each time.
 *
 *   npm run soak [-- --minutes 30]
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort, startReceiver, startTransmitter, type Receiver } from './bridge.js';
import { missingBinaries, sleep, spawnProcess, startWeston, type ManagedProcess } from './harness/index.js';

const APPS: readonly (readonly string[])[] = [
  ['weston-simple-shm'],
  ['weston-simple-damage'],
  ['weston-terminal', '--shell=/bin/sh'],
  ['weston-flower'],
];
const RESTART_EVERY_MS = 120_000;
const CUT_FOR_MS = 10_000;
const SAMPLE_EVERY_MS = 10_000;

function say(text: string): void {
  process.stdout.write(`soak: ${text}\n`);
}

interface Usage {
  readonly fds: number;
  readonly rssMiB: number;
}

function usage(pid: number): Usage | null {
  try {
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { fds, rssMiB: rss === null ? 0 : Number(rss[1]) / 1024 };
  } catch {
    return null;
  }
}

/** A TCP relay that can cut the link: drop every connection and refuse new ones until restored. */
class Relay {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  private readonly server: net.Server;

  constructor(private readonly target: () => number) {
    this.server = net.createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target(), '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    this.setCut(true);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Sample {
  readonly at: number;
  readonly event: string;
  readonly tx: Usage | null;
  readonly rx: Usage | null;
  readonly windows: number;
}

async function main(argv: readonly string[]): Promise<number> {
  const at = argv.indexOf('--minutes');
  const minutes = at >= 0 ? Number(argv[at + 1]) : 30;
  const missing = missingBinaries('weston', ...APPS.map((a) => a[0]!));
  if (missing.length > 0) {
    say(`missing ${missing.join(', ')}: run bash scripts/install-deps.sh first`);
    return 1;
  }
  const weston = await startWeston({ backend: 'headless', width: 1920, height: 1080 });
  const port = await freePort();
  let receiver: Receiver = await startReceiver(weston.env, [], { port });
  const relay = new Relay(() => port);
  const relayPort = await relay.listen();
  const transmitter = startTransmitter([`127.0.0.1:${relayPort}`], [], ['--log-level', 'info']);
  const apps: ManagedProcess[] = [];
  const samples: Sample[] = [];
  const recoveries: { event: string; ms: number | null }[] = [];
  const started = Date.now();
  let appsRunning: boolean[] = [];
  const windows = async (): Promise<number> => (await weston.sceneGraph()).filter((v) => v.visible && v.role === 'xdg_toplevel').length;
  const sample = async (event: string): Promise<void> => {
    const s = { at: (Date.now() - started) / 1000, event, tx: usage(transmitter.process.pid), rx: usage(receiver.process.pid), windows: await windows() };
    samples.push(s);
    say(`${s.at.toFixed(0)} s ${event}: tx ${s.tx?.fds ?? '-'} fds ${s.tx?.rssMiB.toFixed(0) ?? '-'} MiB, rx ${s.rx?.fds ?? '-'} fds ${s.rx?.rssMiB.toFixed(0) ?? '-'} MiB, ${s.windows} windows`);
  };
  /** How long until all applications' windows are on the display again (null: not within 30 s). */
  const recovered = async (event: string): Promise<void> => {
    const from = Date.now();
    while (Date.now() - from < 30_000) {
      if ((await windows()) >= APPS.length) {
        recoveries.push({ event, ms: Date.now() - from });
        return;
      }
      await sleep(100);
    }
    recoveries.push({ event, ms: null });
  };
  try {
    await transmitter.ready();
    for (const app of APPS) apps.push(spawnProcess(app[0]!, app.slice(1), { env: { ...transmitter.clientEnv }, name: app[0]! }));
    await recovered('start');
    await sample('start');
    const end = started + minutes * 60_000;
    let nextSample = Date.now() + SAMPLE_EVERY_MS;
    let nextRestart = started + RESTART_EVERY_MS;
    let nextCut = started + RESTART_EVERY_MS / 2;
    let restarts = 0;
    while (Date.now() < end) {
      const now = Date.now();
      if (now >= nextRestart) {
        const signal = restarts++ % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
        if (signal === 'SIGKILL') receiver.process.child.kill('SIGKILL');
        await receiver.stop();
        receiver = await startReceiver(weston.env, [], { port });
        await recovered(`receiver restart (${signal})`);
        await sample(`receiver restarted (${signal})`);
        nextRestart += RESTART_EVERY_MS;
        nextSample = Date.now() + SAMPLE_EVERY_MS;
      } else if (now >= nextCut) {
        relay.setCut(true);
        await sleep(CUT_FOR_MS);
        relay.setCut(false);
        await recovered('link restored');
        await sample('link restored');
        nextCut += RESTART_EVERY_MS;
        nextSample = Date.now() + SAMPLE_EVERY_MS;
      } else if (now >= nextSample) {
        await sample('');
        nextSample = Date.now() + SAMPLE_EVERY_MS;
      } else {
        await sleep(Math.min(nextSample, nextRestart, nextCut) - now);
      }
    }
    await sample('end');
    appsRunning = apps.map((a) => a.running);
  } finally {
    for (const app of apps) await app.stop();
    await transmitter.stop();
    await receiver.stop();
    await relay.close();
    await weston.stop();
  }

  process.stdout.write('\n| s | event | tx fds | tx RSS MiB | rx fds | rx RSS MiB | windows |\n|---|---|---|---|---|---|---|\n');
  for (const s of samples) {
    process.stdout.write(`| ${s.at.toFixed(0)} | ${s.event} | ${s.tx?.fds ?? '-'} | ${s.tx?.rssMiB.toFixed(1) ?? '-'} | ${s.rx?.fds ?? '-'} | ${s.rx?.rssMiB.toFixed(1) ?? '-'} | ${s.windows} |\n`);
  }
  // Flat: the transmitter over the last 5 minutes against the 5 minutes after a minute of warm-up
  // (or the last and first thirds of a shorter run); the receiver at equal age after each start.
  const plain = samples.filter((s) => s.tx !== null && s.event === '');
  const window = Math.max(1, Math.min(30, Math.floor(plain.length / 3)));
  const first = plain.slice(Math.min(6, plain.length - 2 * window), Math.min(6, plain.length - 2 * window) + window);
  const last = plain.slice(-window);
  const max = (list: Sample[], f: (u: Usage) => number): number => Math.max(...list.map((s) => f(s.tx!)));
  const checks: [string, boolean][] = [];
  if (first.length > 0 && last.length > 0) {
    const [f0, f1] = [max(first, (u) => u.fds), max(last, (u) => u.fds)];
    const [r0, r1] = [max(first, (u) => u.rssMiB), max(last, (u) => u.rssMiB)];
    checks.push([`transmitter fds ${f0} -> ${f1} (at most +4)`, f1 <= f0 + 4]);
    checks.push([`transmitter RSS ${r0.toFixed(0)} -> ${r1.toFixed(0)} MiB (at most +20 %)`, r1 <= r0 * 1.2]);
  } else {
    checks.push(['enough samples to compare (run at least 3 minutes)', false]);
  }
  const rxAfter = samples.filter((s) => s.event.startsWith('receiver restarted') && s.rx !== null).map((s) => s.rx!.fds);
  if (rxAfter.length >= 2) checks.push([`receiver fds after each restart ${rxAfter.join(', ')} (equal within 4)`, Math.max(...rxAfter) - Math.min(...rxAfter) <= 4]);
  const missed = recoveries.filter((r) => r.ms === null);
  const slowest = Math.max(...recoveries.map((r) => r.ms ?? Infinity));
  checks.push([`every window back after each of ${recoveries.length} events (slowest ${Number.isFinite(slowest) ? `${slowest} ms` : 'never'})`, missed.length === 0]);
  apps.forEach((app, i) => checks.push([`${app.name} still running`, appsRunning[i] === true]));
  process.stdout.write('\n');
  for (const [what, ok] of checks) process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
