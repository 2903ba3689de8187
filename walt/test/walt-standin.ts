/**
 * A stand-in for a WalT server's web API, for tests only: it is NOT a WalT
 * server. No WalT server can run here, so this answers `GET /api/v1/nodes`,
 * `/api/v1/images` and `/api/v1/logs` exactly as ../shared/walt-fixtures
 * describes walt-python-packages 10 (same keys in the same order, the same
 * filters, the same errors in HTML or, with `Prefer: errors=json`, JSON),
 * serving the fixtures' JSON, with the nodes' addresses replaceable so they
 * point at local boards. Live boards (the board suite's virtual boards) can be
 * added: their nodes are listed, and their logs are what each board's
 * walt-log-echo stand-in wrote (JSON lines {timestamp, stream, line}).
 * Used by the CLI's tests (walt/test/lab.ts) and the board suite (e2e/boards/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { WaltImageRecord, WaltLogRecord, WaltNodeRecord } from '../client/walt-api.js';

/** `../shared/walt-fixtures` beside the checkout (or `$WALT_FIXTURES`). */
export const FIXTURES_DIR = process.env['WALT_FIXTURES'] ?? fileURLToPath(new URL('../../../shared/walt-fixtures', import.meta.url));
export const fixturesPresent = existsSync(`${FIXTURES_DIR}/nodes.json`);

export function fixture<T>(name: 'nodes' | 'images' | 'logs'): T {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}/${name}.json`, 'utf8')) as T;
}

/** A live board the stand-in lists: its node, and the file its walt-log-echo writes. */
export interface StandinBoard {
  readonly node: WaltNodeRecord;
  /** JSON lines {timestamp, stream, line}; null when the board has none. */
  readonly logFile: string | null;
}

export interface WaltStandinOptions {
  /** Replaces the fixtures' nodes (kept in WalT's key order, sorted by name); [] for none but the boards added. */
  readonly nodes?: readonly WaltNodeRecord[];
  readonly logs?: readonly WaltLogRecord[];
  /** Answer 500 on everything, as WalT does when its daemon is unreachable. */
  readonly daemonDown?: boolean;
}

const NODE_FILTERS = ['name', 'model', 'virtual', 'image', 'booted', 'ip', 'mac'];
const IMAGE_FILTERS = ['fullname', 'user', 'id', 'in_use'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class WaltStandin {
  private readonly server: Server;
  /** Every request's path and query, for tests that check what was sent. */
  readonly requests: string[] = [];
  nodes: WaltNodeRecord[];
  readonly images: WaltImageRecord[];
  readonly logs: WaltLogRecord[];
  daemonDown: boolean;
  private readonly logFiles = new Map<string, string>();

  constructor(options: WaltStandinOptions = {}) {
    this.nodes = [...(options.nodes ?? fixture<{ nodes: WaltNodeRecord[] }>('nodes').nodes)].map(nodeInWaltOrder).sort((a, b) => a.name.localeCompare(b.name));
    this.images = fixture<{ images: WaltImageRecord[] }>('images').images;
    this.logs = [...(options.logs ?? fixture<{ logs: WaltLogRecord[] }>('logs').logs)];
    this.daemonDown = options.daemonDown ?? false;
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  async listen(host = '127.0.0.1', port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, host, resolve));
    return `${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The same, as the board suite's cleanup calls it. */
  stop(): Promise<void> {
    return this.close();
  }

  /** List a live board: its node among the others (sorted by name), its log file served as WalT's logs. */
  addBoard(board: StandinBoard): void {
    this.nodes = [...this.nodes.filter((n) => n.name !== board.node.name), nodeInWaltOrder(board.node)].sort((a, b) => a.name.localeCompare(b.name));
    if (board.logFile !== null) this.logFiles.set(board.node.name, board.logFile);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://walt');
    this.requests.push(`${url.pathname}${url.search}`);
    const jsonErrors = /errors=json/.test(String(req.headers['prefer'] ?? ''));
    try {
      if (req.method !== 'GET') throw new HttpError(405, 'Method not allowed.');
      let body: unknown;
      if (url.pathname === '/api/v1/nodes') body = this.answer(url, 'nodes', this.nodes, NODE_FILTERS);
      else if (url.pathname === '/api/v1/images') body = this.answer(url, 'images', this.images, IMAGE_FILTERS);
      else if (url.pathname === '/api/v1/logs') body = this.logsAnswer(url);
      else throw new HttpError(404, 'Not Found');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const message = (err as Error).message;
      if (jsonErrors) {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: message, status_code: status }));
      } else {
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html>\n<html lang=en>\n<title>${status}</title>\n<h1>Error</h1>\n<p>${message}</p>\n`);
      }
    }
  }

  private answer<T extends object>(url: URL, key: 'nodes' | 'images', items: readonly T[], filters: readonly string[]): unknown {
    if (this.daemonDown) throw new HttpError(500, 'Internal Server Error');
    let selected = items;
    for (const [k, v] of url.searchParams) {
      if (!filters.includes(k)) throw new HttpError(400, `'${k}' is not a valid filtering field.`);
      selected = selected.filter((item) => matches((item as Record<string, unknown>)[k], v));
    }
    return { [`num_${key}`]: selected.length, [key]: selected };
  }

  private logsAnswer(url: URL): unknown {
    if (this.daemonDown) throw new HttpError(500, 'Internal Server Error');
    const q = url.searchParams;
    if (!q.has('from') || !q.has('to')) throw new HttpError(400, "Query parameters 'from' and 'to' are required.");
    const scale = q.get('ts_unit') === 'ms' ? 1000 : 1;
    const from = Number(q.get('from')) / scale;
    const to = Number(q.get('to')) / scale;
    const now = Date.now() / 1000;
    for (const [name, v] of [['from', from], ['to', to]] as const) {
      if (!Number.isFinite(v) || v < 1340000000 || v > now + 2) throw new HttpError(400, `Invalid value for '${name}'.`);
    }
    const issuer = q.get('issuer');
    if (issuer !== null && !/^[a-zA-Z][a-zA-Z0-9-]+$/.test(issuer)) {
      // The real server pastes it into SQL: what it would do is undefined; refuse loudly here.
      throw new HttpError(500, 'issuer reached SQL unescaped');
    }
    const stream = q.get('stream');
    const re = stream === null ? null : new RegExp(`^(?:${stream})$`);
    const logs = [...this.logs, ...this.boardLogs()]
      .filter((l) => l.timestamp > from && l.timestamp < to && (issuer === null || l.issuer === issuer) && (re === null || re.test(l.stream)))
      .sort((a, b) => a.timestamp - b.timestamp);
    return { num_logs: logs.length, logs: logs.map((l) => ({ ...l, timestamp: l.timestamp * scale })) };
  }

  /** What the live boards' walt-log-echo wrote so far, as WalT's log records. */
  private boardLogs(): WaltLogRecord[] {
    const logs: WaltLogRecord[] = [];
    for (const [issuer, file] of this.logFiles) {
      if (!existsSync(file)) continue;
      for (const text of readFileSync(file, 'utf8').split('\n')) {
        if (text === '') continue;
        const l = JSON.parse(text) as { timestamp: number; stream: string; line: string };
        logs.push({ timestamp: l.timestamp, line: l.line, issuer, stream: l.stream });
      }
    }
    return logs;
  }
}

function matches(value: unknown, query: string): boolean {
  if (typeof value === 'boolean') return (['true', '1'].includes(query) && value) || (['false', '0'].includes(query) && !value);
  return String(value) === query;
}

/** The 8 keys of a WalT node, in WalT's order. */
function nodeInWaltOrder(n: WaltNodeRecord): WaltNodeRecord {
  return { name: n.name, model: n.model, virtual: n.virtual, image: n.image, booted: n.booted, ip: n.ip, mac: n.mac, config: n.config };
}
