/**
 * The receivers a transmitter sends to, changeable at run time: one
 * ReceiverLink per remote output, each with its state as the status endpoint
 * reports it (connecting / connected, since when, the last error, bytes per
 * second on the wire). `connect` replaces every receiver with one,
 * `disconnect` drops them all; both persist the choice in a state file (an
 * environment file, `WALTHAM_TO=HOST:PORT`, empty for none, which a systemd
 * unit can read too) that wins over the command line at the next start.
 * State changes go to WalT's log stream through `walt-log-echo` when the
 * board has it.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { parseHostPort, plainOutput, routeSurface, type RemoteOutputConfig } from '../shared/config/transmitter.js';
import type { OutputInfo } from '../shared/scene/output.js';
import type { Scene, SceneSurface } from '../shared/scene/scene.js';
import type { WalthamLogger } from '../shared/waltham/connection.js';
import { ReceiverLink, type LinkCodec } from './remote/link.js';
import { every, type Tick } from '../shared/ticker.js';

export type TargetState = 'connecting' | 'connected';

export interface Target {
  readonly output: RemoteOutputConfig;
  readonly link: ReceiverLink;
  state: TargetState;
  since: Date;
  lastError: string | null;
  /** (time ms, wire bytes) once a second, the last 6 s. */
  readonly samples: { t: number; bytes: number }[];
}

export interface TargetsEvents {
  /** A receiver described its output, and the configuration fixed no mode (the virtual display's output adopts it). */
  output: [info: OutputInfo, output: RemoteOutputConfig];
  /** A receiver's link state changed (also when receivers were replaced). */
  change: [];
}

export interface TargetsOptions {
  readonly scene: Scene;
  readonly logger: WalthamLogger;
  readonly codec: LinkCodec;
  /** The receivers of the command line or configuration. */
  readonly outputs: readonly RemoteOutputConfig[];
  /** Where connect/disconnect persist the choice; null: not persisted. */
  readonly stateFile: string | null;
  readonly version: string;
  /** Options passed to every link (tests shorten the backoff). */
  readonly link?: Partial<ConstructorParameters<typeof ReceiverLink>[0]>;
}

/** `KEY=VALUE` lines; `#` comments and blank lines skipped; values may be double-quoted. */
export function readEnvFile(file: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m === null || line.trimStart().startsWith('#')) continue;
    const raw = m[2]!;
    values.set(m[1]!, raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw);
  }
  return values;
}

/**
 * The receivers persisted in `file`: undefined when the file (or its
 * WALTHAM_TO) does not exist, else the list (empty: "no receiver").
 */
export function readPersisted(file: string | null): RemoteOutputConfig[] | undefined {
  if (file === null || !existsSync(file)) return undefined;
  const to = readEnvFile(file).get('WALTHAM_TO');
  if (to === undefined) return undefined;
  return to
    .split(/[\s,]+/)
    .filter((t) => t !== '')
    .map((t, i) => plainOutput(`to-${i + 1}`, parseHostPort(t)));
}

/** `HOST[:PORT]` of a control request: host `[A-Za-z0-9.-]+` or a bracketed IPv6, port 1..65535. */
export function parseReceiverAddress(text: unknown): { host: string; port: number } {
  if (typeof text !== 'string' || !/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(text)) {
    throw new Error(`"to" must be HOST[:PORT], got ${JSON.stringify(text)}`);
  }
  const addr = parseHostPort(text);
  if (addr.port < 1) throw new Error(`"to": port ${addr.port} out of range 1..65535`);
  return addr;
}

/** A program in PATH, or undefined. */
function findProgram(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export const addressOf = (o: { host: string; port: number }): string => (o.host.includes(':') ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`);

export class Targets extends EventEmitter<TargetsEvents> {
  private current: Target[] = [];
  private outputs: RemoteOutputConfig[];
  private readonly sampler: Tick;
  private readonly logEcho: string | undefined = findProgram('walt-log-echo');
  /** Where the choice was read from or last written to; null when nothing is persisted. */
  persisted: string | null = null;

  constructor(private readonly options: TargetsOptions) {
    super();
    const saved = readPersisted(options.stateFile);
    if (saved !== undefined) {
      this.persisted = options.stateFile;
      options.logger.info(
        { stateFile: options.stateFile },
        `receivers from ${options.stateFile}: ${saved.length === 0 ? 'none' : saved.map(addressOf).join(', ')} (set by a control request)`,
      );
    }
    this.outputs = saved ?? [...options.outputs];
    this.sampler = every(1000, () => this.sample());
  }

  get targets(): readonly Target[] {
    return this.current;
  }

  /** The outputs a root surface goes to (by app_id, or by ivi id for an ivi_application surface). */
  routedTo(root: SceneSurface): RemoteOutputConfig[] {
    const role = root.role;
    return routeSurface(this.outputs, { appId: root.appId, iviId: role !== null && role.kind === 'ivi' ? role.iviId : null });
  }

  start(): void {
    for (const out of this.outputs) this.current.push(this.open(out));
  }

  /** Send to `to` only from now on; persisted. */
  async connect(to: { host: string; port: number }): Promise<void> {
    const out = plainOutput('to-1', to);
    await this.replace([out]);
  }

  /** Send nowhere; persisted. */
  async disconnect(): Promise<void> {
    await this.replace([]);
  }

  async stop(graceMs: number): Promise<void> {
    this.sampler.stop();
    const old = this.current;
    this.current = [];
    await Promise.all(old.map((t) => t.link.stop({ graceMs })));
  }

  /** Bytes per second on the wire of one receiver, over the last 5 s. */
  bytesPerSecond(t: Target): number {
    const first = t.samples[0];
    const last = t.samples[t.samples.length - 1];
    if (first === undefined || last === undefined || last.t === first.t) return 0;
    return Math.round(((last.bytes - first.bytes) * 1000) / (last.t - first.t) * 10) / 10;
  }

  private async replace(outputs: RemoteOutputConfig[]): Promise<void> {
    const old = this.current;
    this.current = [];
    this.outputs = outputs;
    this.persist();
    for (const t of old) this.echo('down', t.output);
    await Promise.all(old.map((t) => t.link.stop({ graceMs: 1000 })));
    for (const out of outputs) this.current.push(this.open(out));
    this.emit('change');
  }

  private open(out: RemoteOutputConfig): Target {
    const { logger } = this.options;
    const link = new ReceiverLink({
      ...this.options.link,
      host: out.host,
      port: out.port,
      scene: this.options.scene,
      filter: (root) => this.routedTo(root).includes(out),
      logger,
      codec: this.options.codec,
    });
    const target: Target = { output: out, link, state: 'connecting', since: new Date(), lastError: null, samples: [] };
    const live = (): boolean => this.current.includes(target);
    link.on('connected', () => {
      target.state = 'connected';
      target.since = new Date();
      logger.info({ output: out.name }, `connected to ${out.name} (${addressOf(out)})`);
      this.echo('ready', out);
      this.emit('change');
    });
    link.on('disconnected', (reason) => {
      if (reason !== undefined) target.lastError = reason.message;
      if (!live()) return; // replaced or stopping: not news
      target.state = 'connecting';
      target.since = new Date();
      logger.warn({ output: out.name }, `lost ${out.name}${reason === undefined ? '' : `: ${reason.message}`}; reconnecting`);
      this.echo('connecting', out);
      this.emit('change');
    });
    // The receiver describes the output applications see unless the configuration fixed its mode.
    if (out.mode === null) link.on('output', (info) => this.emit('output', info, out));
    link.start();
    this.echo('connecting', out);
    return target;
  }

  private persist(): void {
    const file = this.options.stateFile;
    if (file === null) return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.tmp`;
      writeFileSync(
        tmp,
        `# Written by waltham-transmitter (status endpoint control requests); read at start.\nWALTHAM_TO=${this.outputs.map(addressOf).join(',')}\n`,
      );
      renameSync(tmp, file);
      this.persisted = file;
    } catch (err) {
      this.options.logger.error({ err }, `cannot persist the receivers in ${file}: ${(err as Error).message}`);
    }
  }

  /** `walt-log-echo waltham.tx "state=... receiver=HOST:PORT version=X"`, when the board has it. */
  private echo(state: 'ready' | 'connecting' | 'down', out: RemoteOutputConfig): void {
    if (this.logEcho === undefined) return;
    const child = spawn(this.logEcho, ['waltham.tx', `state=${state} receiver=${addressOf(out)} version=${this.options.version}`], { stdio: 'ignore' });
    child.on('error', (err) => this.options.logger.debug({ err }, `walt-log-echo failed: ${err.message}`));
    child.unref();
  }

  private sample(): void {
    const now = Date.now();
    for (const t of this.current) {
      t.samples.push({ t: now, bytes: t.link.stats().wireBytes });
      while (t.samples.length > 6) t.samples.shift();
    }
  }
}
