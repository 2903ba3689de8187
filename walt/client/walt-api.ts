/**
 * A client of WalT's web API (`GET /api/v1/nodes|images|logs`, JSON), as
 * walt-python-packages 10 serves it (../shared/walt-fixtures/README.md):
 * node:http with keep-alive, `Prefer: errors=json` so errors come back as
 * `{"error", "status_code"}`, and every name checked before it goes into a
 * query.
 */
import { WalthamError, networkReason } from './errors.js';
import { httpRequest, jsonBody, keepAliveAgent } from './http.js';
import { checkNodeName, formatHostPort, type HostPort } from './names.js';

export interface WaltNodeRecord {
  readonly name: string;
  readonly model: string;
  readonly virtual: boolean;
  readonly image: string;
  readonly booted: boolean;
  readonly ip: string | null;
  readonly mac: string;
  readonly config: Readonly<Record<string, unknown>>;
}

export interface WaltImageRecord {
  readonly fullname: string;
  readonly user: string;
  readonly id: string;
  readonly in_use: boolean;
  readonly created: string;
  readonly compatibility: readonly string[];
}

export interface WaltLogRecord {
  readonly timestamp: number;
  readonly line: string;
  readonly issuer: string;
  readonly stream: string;
}

export interface LogQuery {
  /** Seconds since the epoch, exclusive bounds. */
  readonly from: number;
  readonly to: number;
  readonly issuer?: string;
  /** An anchored POSIX regular expression on stream names. */
  readonly stream?: string;
}

/** WalT refuses log bounds before this (2012-06-18). */
export const WALT_LOGS_EPOCH = 1340000000;

export class WaltApi {
  private readonly agent = keepAliveAgent();

  constructor(
    readonly server: HostPort,
    private readonly timeoutMs = 5000,
  ) {}

  /** The platform's nodes, sorted by name; `name` (checked) restricts to one. */
  async nodes(filter: { name?: string } = {}): Promise<WaltNodeRecord[]> {
    const query = filter.name === undefined ? '' : `?name=${encodeURIComponent(checkNodeName(filter.name))}`;
    const body = await this.get(`/api/v1/nodes${query}`, 'nodes');
    return (body as { nodes: WaltNodeRecord[] }).nodes;
  }

  async images(): Promise<WaltImageRecord[]> {
    const body = await this.get('/api/v1/images', 'images');
    return (body as { images: WaltImageRecord[] }).images;
  }

  async logs(q: LogQuery): Promise<WaltLogRecord[]> {
    const params = new URLSearchParams({ from: q.from.toFixed(3), to: q.to.toFixed(3), ts_unit: 's' });
    if (q.issuer !== undefined) params.set('issuer', checkNodeName(q.issuer));
    if (q.stream !== undefined) params.set('stream', q.stream);
    const body = await this.get(`/api/v1/logs?${params.toString()}`, 'logs');
    return (body as { logs: WaltLogRecord[] }).logs;
  }

  close(): void {
    this.agent.destroy();
  }

  private async get(path: string, key: 'nodes' | 'images' | 'logs'): Promise<unknown> {
    const where = formatHostPort(this.server);
    let answer;
    try {
      answer = await httpRequest(this.server, {
        path,
        headers: { accept: 'application/json', prefer: 'errors=json' },
        timeoutMs: this.timeoutMs,
        agent: this.agent,
      });
    } catch (err) {
      throw new WalthamError('ERR_WALT_UNREACHABLE', `WalT server ${where} unreachable (${networkReason(err)})`, { cause: err });
    }
    const body = jsonBody(answer);
    if (answer.status !== 200) {
      const error = (body as { error?: unknown } | undefined)?.error;
      const detail = typeof error === 'string' ? error : `HTTP ${answer.status}`;
      if (typeof error !== 'string' && answer.status === 404) {
        throw new WalthamError('ERR_WALT_ANSWER', `${where} does not answer as a WalT server (GET ${path.split('?')[0]}: HTTP 404)`);
      }
      throw new WalthamError('ERR_WALT_ANSWER', `WalT server ${where}: ${detail}`);
    }
    if (typeof body !== 'object' || body === null || !Array.isArray((body as Record<string, unknown>)[key])) {
      throw new WalthamError('ERR_WALT_ANSWER', `${where} does not answer as a WalT server (GET ${path.split('?')[0]}: no '${key}' list)`);
    }
    return body;
  }
}
