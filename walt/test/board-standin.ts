/**
 * Stand-ins for a board's status endpoint, for tests of the `waltham` CLI and
 * API only: they are NOT our transmitter or receiver. They answer
 * walt/status-contract.md (version 1) from a state the test sets, so the
 * client side can be tested on real HTTP against many boards at once; the
 * real endpoints are tested against the same contract with the real
 * transmitter and receiver.
 * Also a "silent board" that accepts connections and never answers, and a
 * board whose port answers something else than our transmitter.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import sharp from 'sharp';
import type { LogLine, ReceiverLinkStatus, ReceiverStatus, SurfaceStatus, TransmitterPeerStatus, TransmitterStatus } from '../client/status-types.js';

export interface StandinSurface extends SurfaceStatus {
  /** The colour it is drawn in, for screenshots: [r, g, b]. */
  readonly rgb: readonly [number, number, number];
}

export interface TransmitterStandinOptions {
  readonly hostname: string;
  readonly token: string | null;
  readonly receivers?: readonly string[];
  readonly surfaces?: readonly StandinSurface[];
  /** Where connect/disconnect persist the receiver (as the board's env file would). */
  readonly persistFile?: string | null;
  readonly log?: readonly LogLine[];
}

const STARTED = new Date();

function common(hostname: string) {
  return {
    api: 1,
    version: '0.1.0',
    hostname,
    pid: process.pid,
    started: STARTED.toISOString(),
    uptime_s: Math.round((Date.now() - STARTED.getTime()) / 100) / 10,
  };
}

class StandinError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

abstract class EndpointStandin {
  protected readonly server: Server;
  readonly requests: string[] = [];

  constructor(protected readonly token: string | null) {
    this.server = createServer((req, res) => void this.dispatch(req, res));
  }

  async listen(host: string, port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  protected abstract route(method: string, path: string, query: URLSearchParams, body: string): Promise<{ type: string; body: string | Buffer }>;

  protected authorize(req: IncomingMessage): void {
    if (this.token === null) throw new StandinError(403, 'control_disabled', 'control is disabled: no token configured');
    if (req.headers.authorization !== `Bearer ${this.token}`) throw new StandinError(401, 'unauthorized', 'missing or wrong token');
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://board');
    this.requests.push(`${req.method} ${url.pathname}`);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      if (body.length > 4096) throw new StandinError(400, 'bad_request', 'body over 4 KiB');
      if (url.pathname !== '/status' && url.pathname !== '/healthz') this.authorize(req);
      const answer = await this.route(req.method ?? 'GET', url.pathname, url.searchParams, body);
      res.writeHead(200, { 'content-type': answer.type });
      res.end(answer.body);
    } catch (err) {
      const e = err instanceof StandinError ? err : new StandinError(500, 'internal', (err as Error).message);
      res.writeHead(e.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(`${JSON.stringify({ error: e.message, code: e.code, status_code: e.status })}\n`);
    }
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

export class TransmitterStandin extends EndpointStandin {
  receivers: ReceiverLinkStatus[];
  surfaces: StandinSurface[];
  readonly logLines: LogLine[];

  constructor(private readonly options: TransmitterStandinOptions) {
    super(options.token);
    this.receivers = (options.receivers ?? []).map((address, i) => link(address, i));
    this.surfaces = [...(options.surfaces ?? [])];
    this.logLines = [...(options.log ?? [])];
  }

  status(): TransmitterStatus {
    return {
      ...common(this.options.hostname),
      service: 'waltham-transmitter',
      display: 'waltham-0',
      receivers: this.receivers,
      surfaces: this.surfaces.map(({ rgb: _, ...s }) => ({ ...s, receivers: this.receivers.map((r) => r.address) })),
      persisted: this.options.persistFile ?? null,
    };
  }

  protected async route(method: string, path: string, query: URLSearchParams, body: string): Promise<{ type: string; body: string | Buffer }> {
    const json = (v: unknown) => ({ type: JSON_TYPE, body: `${JSON.stringify(v)}\n` });
    const want = (m: string) => {
      if (method !== m) throw new StandinError(405, 'method_not_allowed', `${path} takes ${m}`);
    };
    switch (path) {
      case '/healthz':
        return json({ ok: true });
      case '/status':
        want('GET');
        return json(this.status());
      case '/control/connect': {
        want('POST');
        let to: unknown;
        try {
          to = (JSON.parse(body) as { to?: unknown }).to;
        } catch {
          throw new StandinError(400, 'bad_request', 'the body is not JSON');
        }
        if (typeof to !== 'string' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(to)) throw new StandinError(400, 'bad_request', "'to' must be HOST[:PORT]");
        const address = /:\d+$/.test(to) ? to : `${to}:34400`;
        this.receivers = [link(address, 0)];
        this.persist(address);
        return json(this.status());
      }
      case '/control/disconnect':
        want('POST');
        this.receivers = [];
        this.persist('');
        return json(this.status());
      case '/screenshot.png':
        want('GET');
        return { type: 'image/png', body: await this.screenshot() };
      case '/log': {
        want('GET');
        const n = Math.min(Number(query.get('lines') ?? 100), 1000);
        return json({ lines: this.logLines.slice(-n) });
      }
      default:
        throw new StandinError(404, 'not_found', `no ${path} here`);
    }
  }

  private persist(address: string): void {
    if (this.options.persistFile != null) writeFileSync(this.options.persistFile, `WALTHAM_RECEIVER=${address}\n`);
  }

  /** The surfaces side by side in their colours, as the contract composes them. */
  private async screenshot(): Promise<Buffer> {
    if (this.surfaces.length === 0) throw new StandinError(404, 'no_surface', 'nothing is mapped');
    const width = this.surfaces.reduce((w, s) => w + s.width, 0);
    const height = Math.max(...this.surfaces.map((s) => s.height));
    let left = 0;
    const layers = [];
    for (const s of this.surfaces) {
      const [r, g, b] = s.rgb;
      layers.push({ input: { create: { width: s.width, height: s.height, channels: 4 as const, background: { r, g, b, alpha: 1 } } }, left, top: 0 });
      left += s.width;
    }
    return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .composite(layers)
      .png()
      .toBuffer();
  }
}

function link(address: string, i: number): ReceiverLinkStatus {
  return { name: `to-${i + 1}`, address, state: 'connected', since: new Date().toISOString(), reconnects: 0, last_error: null, bytes_per_s: 1000 };
}

export class ReceiverStandin extends EndpointStandin {
  constructor(
    private readonly hostname: string,
    public transmitters: TransmitterPeerStatus[],
  ) {
    super(null);
  }

  status(): ReceiverStatus {
    return { ...common(this.hostname), service: 'waltham-receiver', listen: '0.0.0.0:34400', transmitters: this.transmitters };
  }

  protected async route(method: string, path: string): Promise<{ type: string; body: string }> {
    if (path === '/status' && method === 'GET') return { type: JSON_TYPE, body: `${JSON.stringify(this.status())}\n` };
    throw new StandinError(404, 'not_found', `no ${path} here`);
  }
}

/** A board whose port accepts connections and never answers: its state is unknown, `?`. */
export class SilentBoard {
  private readonly server: TcpServer;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor() {
    this.server = createTcpServer((s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    });
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A board whose status port answers, but as something else (another service's HTTP). */
export class ForeignBoard {
  private readonly server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<h1>It works!</h1>\n');
  });

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, resolve);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
