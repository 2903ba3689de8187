/**
 * Real-board mode: WalT nodes (Raspberry Pis, or WalT's own virtual nodes)
 * as the boards of the scenarios. The image goes on with `waltham image
 * deploy` (which runs `walt node boot`), the nodes reboot with `walt node
 * reboot`; a board "powers off" by stopping its transmitter service
 * (`walt node run NODE systemctl stop waltham-transmitter`) and "boots" by
 * starting it again. Its logs are WalT's own (walt-log-echo on the board).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../harness/process.js';
import type { Waltham } from './waltham-cli.js';

const SERVICE = 'waltham-transmitter.service';

export interface RealBoardsOptions {
  /** --walt-server */
  readonly waltServer: string;
  /** --nodes: WalT node names. */
  readonly nodes: readonly string[];
  /** The boards' status token (--token, else $WALTHAM_TOKEN); null: each node's own, fetched with `walt node cp`. */
  readonly token: string | null;
  /** Build the image first (`waltham image build`). */
  readonly build: boolean;
  /** The receivers' address as the boards reach this machine (default: this machine's address towards the WalT server). */
  readonly receiverHost: string | null;
  /** The walt command (`$WALT_COMMAND`, default walt). */
  readonly walt: string;
  /** The boards' status port (default 34401). */
  readonly statusPort?: number;
}

/** The real-board options from the environment `npm run test:boards -- --walt-server ...` sets; null when not asked for. */
export function realBoardsFromEnv(env: NodeJS.ProcessEnv = process.env): RealBoardsOptions | null {
  const waltServer = env['WALTHAM_BOARDS_WALT_SERVER'];
  if (waltServer === undefined || waltServer === '') return null;
  const nodes = (env['WALTHAM_BOARDS_NODES'] ?? '').split(',').filter((n) => n !== '');
  if (nodes.length !== 2) throw new Error(`--nodes: give two WalT nodes (NODE1,NODE2), not '${env['WALTHAM_BOARDS_NODES'] ?? ''}'`);
  const token = env['WALTHAM_BOARDS_TOKEN'] || env['WALTHAM_TOKEN'] || null;
  return {
    waltServer,
    nodes,
    token,
    build: env['WALTHAM_BOARDS_BUILD'] === '1',
    receiverHost: env['WALTHAM_BOARDS_RECEIVER_HOST'] || null,
    walt: env['WALT_COMMAND'] ?? 'walt',
  };
}

/** Run `walt ARGS`; rejects with its output unless it exits 0. */
export function runWalt(walt: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 10 * 60_000): Promise<string> {
  return run(walt, args, { env, timeoutMs });
}

/**
 * Put the transmitter image on the nodes and reboot them: `waltham image
 * build` (when asked), `waltham image deploy NODES`, `walt node reboot NODES`.
 */
export async function deployAndReboot(waltham: Waltham, o: Pick<RealBoardsOptions, 'nodes' | 'build' | 'walt'>, log: (line: string) => void = () => {}, env: Record<string, string> = {}): Promise<void> {
  const set = o.nodes.join(',');
  if (o.build) {
    log('waltham image build');
    await waltham.ok(['image', 'build'], undefined, 60 * 60_000);
  }
  log(`waltham image deploy ${set}`);
  await waltham.ok(['image', 'deploy', set], undefined, 10 * 60_000);
  log(`walt node reboot ${set}`);
  await runWalt(o.walt, ['node', 'reboot', set], env);
}

/** A WalT node as a board of the scenarios. */
export class WaltNodeBoard {
  /** Its logs reach the WalT server (walt-log-echo on the board). */
  readonly sendsWaltLogs = true;
  /** Where the image persists the receiver (WalT's /persist on the board). */
  readonly persistFile = '/persist/waltham/transmitter.env';

  constructor(
    readonly name: string,
    readonly ip: string,
    private readonly options: Pick<RealBoardsOptions, 'token' | 'walt' | 'statusPort'>,
    private readonly env: Record<string, string> = {},
  ) {}

  get statusUrl(): string {
    return `http://${this.ip}:${this.options.statusPort ?? 34401}`;
  }

  private fetched: string | null = null;

  token(): string {
    const token = this.options.token ?? this.fetched;
    if (token === null) throw new Error(`${this.name}: no token yet (loadToken)`);
    return token;
  }

  /** Without a token given, the node's own: `walt node cp NODE:/persist/waltham/status-token DIR` (made at its first start). */
  async loadToken(): Promise<void> {
    if (this.options.token !== null) return;
    const dir = mkdtempSync(join(tmpdir(), 'wb-token-'));
    try {
      await runWalt(this.options.walt, ['node', 'cp', `${this.name}:/persist/waltham/status-token`, dir], this.env);
      this.fetched = readFileSync(join(dir, 'status-token'), 'utf8').trim();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Start its transmitter service; resolves once the status endpoint answers. */
  async start(timeoutMs = 300_000): Promise<void> {
    await runWalt(this.options.walt, ['node', 'run', this.name, `systemctl start ${SERVICE}`], this.env);
    await waitForHealth(this.statusUrl, this.name, timeoutMs);
  }

  /** Stop its transmitter service (the board stays up: WalT cannot switch every board off). */
  async stop(): Promise<void> {
    await runWalt(this.options.walt, ['node', 'run', this.name, `systemctl stop ${SERVICE}`], this.env);
  }

  tails(): string {
    return `--- ${this.name}: waltham log ${this.name} --board`;
  }

  async destroy(): Promise<void> {
    // The node keeps the image; nothing to undo.
  }
}

/** Resolves once `statusUrl`/healthz answers; `alive` throws when waiting is pointless (the board died). */
export async function waitForHealth(statusUrl: string, name: string, timeoutMs: number, alive: () => void = () => {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    alive();
    try {
      const res = await fetch(`${statusUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${name}: no status endpoint at ${statusUrl} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
