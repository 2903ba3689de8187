/**
 * A board's status endpoint (walt/status-contract.md): reading its state with
 * a short deadline (a board that does not answer in time is "unknown", never a
 * hang), and the token-protected requests: control, screenshot, log.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WalthamError, networkReason } from './errors.js';
import { httpRequest, jsonBody, type HttpAnswer } from './http.js';
import { formatHostPort, type HostPort } from './names.js';
import { STATUS_PORT, type LogLine, type ReceiverStatus, type TransmitterStatus } from './status-types.js';
import type { WaltNodeRecord } from './walt-api.js';

/** How long `node show` waits for a board by default. */
export const STATUS_TIMEOUT_MS = 500;

/** What probing a status endpoint found. */
export type Probe<S> =
  /** It answered as ours. */
  | { readonly kind: 'up'; readonly status: S }
  /** Nothing listens there (refused, unreachable host): the transmitter is not running. */
  | { readonly kind: 'down'; readonly reason: string }
  /** No answer in time, or no address: state unknown, shown as `?`. */
  | { readonly kind: 'unknown'; readonly reason: string }
  /** Something answered, but not our transmitter/receiver. */
  | { readonly kind: 'foreign'; readonly reason: string };

/**
 * Where a node's status endpoint is: its `ip` on the status port, or, for a
 * node behind WalT's NAT, the server port that `expose` redirects to it.
 */
export function statusAddress(node: Pick<WaltNodeRecord, 'ip' | 'config'>, waltServer: HostPort | null, port = STATUS_PORT): HostPort | null {
  const { netsetup, expose } = node.config as { netsetup?: unknown; expose?: unknown };
  if (netsetup === 'NAT' && typeof expose === 'string' && expose !== 'none' && waltServer !== null) {
    const pairs = expose.split(',').map((p) => p.split(':').map(Number) as [number, number]).filter(([s, n]) => s > 0 && n > 0);
    const pair = pairs.find(([, n]) => n === port) ?? pairs[0];
    if (pair !== undefined) return { host: waltServer.host, port: pair[0] };
  }
  if (node.ip === null || node.ip === '') return null;
  return { host: node.ip, port };
}

export async function probe<S extends TransmitterStatus | ReceiverStatus>(
  addr: HostPort | null,
  service: S['service'],
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<Probe<S>> {
  if (addr === null) return { kind: 'unknown', reason: 'no IP address' };
  let answer: HttpAnswer;
  try {
    answer = await httpRequest(addr, { path: '/status', headers: { accept: 'application/json' }, timeoutMs, maxBytes: 1024 * 1024 });
  } catch (err) {
    const reason = networkReason(err);
    const e = err as NodeJS.ErrnoException;
    const down = e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH';
    return { kind: down ? 'down' : 'unknown', reason };
  }
  const body = jsonBody(answer) as { service?: unknown } | undefined;
  if (answer.status !== 200 || body?.service !== service) {
    return { kind: 'foreign', reason: `${formatHostPort(addr)} answers, but not as ${service} (HTTP ${answer.status})` };
  }
  return { kind: 'up', status: body as S };
}

/**
 * The token for control requests: `--token`, else `$WALTHAM_TOKEN`, else
 * the first line of `$XDG_CONFIG_HOME/waltham/token` (~/.config/waltham/token).
 */
export function boardToken(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env['WALTHAM_TOKEN'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const config = env['XDG_CONFIG_HOME'] ?? join(env['HOME'] ?? homedir(), '.config');
  try {
    const line = readFileSync(join(config, 'waltham', 'token'), 'utf8').split('\n')[0]!.trim();
    return line === '' ? null : line;
  } catch {
    return null;
  }
}

/** Token-protected requests to one board's status endpoint. */
export class BoardEndpoint {
  constructor(
    readonly name: string,
    readonly address: HostPort,
    private readonly token: string | null,
    private readonly timeoutMs = 5000,
  ) {}

  connect(to: string): Promise<TransmitterStatus> {
    return this.json('POST', '/control/connect', JSON.stringify({ to })) as Promise<TransmitterStatus>;
  }

  disconnect(): Promise<TransmitterStatus> {
    return this.json('POST', '/control/disconnect', '{}') as Promise<TransmitterStatus>;
  }

  async log(lines = 100): Promise<LogLine[]> {
    return ((await this.json('GET', `/log?lines=${lines}`)) as { lines: LogLine[] }).lines;
  }

  /** The PNG of the board's current scene. */
  async screenshot(): Promise<Buffer> {
    const answer = await this.request('GET', '/screenshot.png');
    const png = answer.body;
    if (png.length < 8 || png.readUInt32BE(0) !== 0x89504e47) {
      throw new WalthamError('ERR_BOARD_ANSWER', `${this.name}: the screenshot is not a PNG`);
    }
    return png;
  }

  private async json(method: 'GET' | 'POST', path: string, body?: string): Promise<unknown> {
    const answer = await this.request(method, path, body);
    const parsed = jsonBody(answer);
    if (parsed === undefined) throw new WalthamError('ERR_BOARD_ANSWER', `${this.name}: ${method} ${path} did not answer JSON`);
    return parsed;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: string): Promise<HttpAnswer> {
    if (this.token === null) {
      throw new WalthamError('ERR_NO_TOKEN', `${this.name}: this needs the board's token: give --token, set WALTHAM_TOKEN, or write it to ~/.config/waltham/token`);
    }
    const where = formatHostPort(this.address);
    let answer: HttpAnswer;
    try {
      answer = await httpRequest(this.address, {
        method,
        path,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
        ...(body === undefined ? {} : { body }),
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      throw new WalthamError('ERR_BOARD_UNREACHABLE', `${this.name}: the transmitter does not answer at ${where} (${networkReason(err)})`, { cause: err });
    }
    if (answer.status >= 200 && answer.status < 300) return answer;
    const error = jsonBody(answer) as { error?: unknown; code?: unknown } | undefined;
    const detail = typeof error?.error === 'string' ? error.error : `HTTP ${answer.status}`;
    const hint = error?.code === 'unauthorized' && !/token/i.test(detail) ? ' (wrong token?)' : '';
    throw new WalthamError('ERR_BOARD_ANSWER', `${this.name}: ${detail}${hint}`);
  }
}
