/**
 * A stand-in for a WalT server, for the board suite only: it is NOT a WalT
 * server (none can run here). It answers the three reads of WalT's web API
 * the way ../shared/walt-fixtures/README.md documents walt-python-packages 10:
 * `GET /api/v1/nodes` (the 8 keys in WalT's order, sorted by name, exact-match
 * filters, 400 on an unknown filter), `GET /api/v1/images` and
 * `GET /api/v1/logs` (from/to required, exclusive bounds, issuer and stream
 * filters); errors as HTML, or as JSON with `Prefer: errors=json`. Its nodes
 * are the virtual boards; their logs are what each board's walt-log-echo
 * stand-in wrote.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandinNode {
  name: string;
  model: string;
  virtual: boolean;
  image: string;
  booted: boolean;
  ip: string | null;
  mac: string;
  config: Record<string, unknown>;
}

export interface StandinBoard {
  readonly node: StandinNode;
  /** JSON lines {timestamp, stream, line} (the board's walt-log-echo). */
  readonly logFile: string;
}

const NODE_FILTERS = ['name', 'model', 'virtual', 'image', 'booted', 'ip', 'mac'] as const;

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
  readonly boards: StandinBoard[] = [];

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(host: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, resolve);
    });
    const a = this.server.address() as AddressInfo;
    return `${a.address}:${a.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Stop as a label, for Cleanup. */
  stop(): Promise<void> {
    return this.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://walt');
    const jsonErrors = /errors=json/.test(String(req.headers['prefer'] ?? ''));
    try {
      if (req.method !== 'GET') throw new HttpError(405, 'Method not allowed.');
      let body: unknown;
      if (url.pathname === '/api/v1/nodes') body = this.nodes(url.searchParams);
      else if (url.pathname === '/api/v1/images') body = this.images();
      else if (url.pathname === '/api/v1/logs') body = this.logs(url.searchParams);
      else throw new HttpError(404, 'Not Found');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const message = (err as Error).message;
      if (jsonErrors) {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: message, status_code: status }));
      } else {
        res.writeHead(status, { 'Content-Type': 'text/html' });
        res.end(`<!doctype html><title>${status}</title><h1>Error ${status}</h1><p>${message.replace(/</g, '&lt;')}</p>`);
      }
    }
  }

  private nodes(query: URLSearchParams): { num_nodes: number; nodes: StandinNode[] } {
    for (const key of query.keys()) {
      if (!(NODE_FILTERS as readonly string[]).includes(key)) throw new HttpError(400, `'${key}' is not a valid filtering field.`);
    }
    const matches = (n: StandinNode): boolean =>
      [...query.entries()].every(([k, v]) => {
        const value = n[k as (typeof NODE_FILTERS)[number]];
        if (typeof value === 'boolean') return (['true', '1'].includes(v.toLowerCase()) ? true : ['false', '0'].includes(v.toLowerCase()) ? false : null) === value;
        return String(value) === v;
      });
    const nodes = this.boards
      .map((b) => b.node)
      .filter(matches)
      .sort((a, b) => a.name.localeCompare(b.name))
      // WalT's key order.
      .map((n) => ({ name: n.name, model: n.model, virtual: n.virtual, image: n.image, booted: n.booted, ip: n.ip, mac: n.mac, config: n.config }));
    return { num_nodes: nodes.length, nodes };
  }

  private images(): { num_images: number; images: object[] } {
    const names = [...new Set(this.boards.map((b) => b.node.image))].sort();
    const images = names.map((fullname, i) => ({
      fullname,
      user: fullname.split('/')[0],
      id: `${(i + 1).toString(16).padStart(12, '0')}`,
      in_use: this.boards.some((b) => b.node.image === fullname),
      created: '2026-12-04 19:00:00',
      compatibility: [...new Set(this.boards.filter((b) => b.node.image === fullname).map((b) => b.node.model))],
    }));
    return { num_images: images.length, images };
  }

  private logs(query: URLSearchParams): { num_logs: number; logs: object[] } {
    const from = query.get('from');
    const to = query.get('to');
    if (from === null || to === null) throw new HttpError(400, "Query parameters 'from' and 'to' are required.");
    const unit = query.get('ts_unit') ?? 's';
    const scale = unit === 'ms' ? 1000 : 1;
    const lo = Number(from) / scale;
    const hi = Number(to) / scale;
    if (!(lo >= 1340000000) || !(hi <= Date.now() / 1000 + 2)) throw new HttpError(400, 'Invalid time bounds.');
    const issuer = query.get('issuer');
    if (issuer !== null && !/^[a-zA-Z][a-zA-Z0-9-]+$/.test(issuer)) throw new HttpError(400, `Invalid issuer '${issuer}'.`);
    const stream = query.get('stream');
    const streamRe = stream === null ? null : new RegExp(`^(?:${stream})$`);
    const logs: { timestamp: number; line: string; issuer: string; stream: string }[] = [];
    for (const b of this.boards) {
      if (issuer !== null && b.node.name !== issuer) continue;
      if (!existsSync(b.logFile)) continue;
      for (const text of readFileSync(b.logFile, 'utf8').split('\n')) {
        if (text === '') continue;
        const l = JSON.parse(text) as { timestamp: number; stream: string; line: string };
        if (l.timestamp <= lo || l.timestamp >= hi) continue;
        if (streamRe !== null && !streamRe.test(l.stream)) continue;
        logs.push({ timestamp: l.timestamp * scale, line: l.line, issuer: b.node.name, stream: l.stream });
      }
    }
    logs.sort((a, b) => a.timestamp - b.timestamp);
    return { num_logs: logs.length, logs };
  }
}
