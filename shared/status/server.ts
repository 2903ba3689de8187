/**
 * The status endpoint's HTTP server (node:http), shared by the transmitter
 * and the receiver: routes, JSON answers and errors in the shape of WalT's
 * `Prefer: errors=json` errors with a stable code, and the token check.
 * The contract is /work/notes/status-contract.md's copy in the README
 * ("Status endpoint"); in short: reads of `/status` and `/healthz` are open,
 * routes marked `token` need `Authorization: Bearer TOKEN`, and a server
 * started without a token refuses them (403 control_disabled).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WalthamLogger } from '../waltham/connection.js';
import { UsageError } from '../cli/args.js';

export const DEFAULT_STATUS_PORT = 34401;
/** Contract version (`api` in /status). */
export const STATUS_API = 1;
const MAX_BODY = 4096;

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'control_disabled'
  | 'not_found'
  | 'no_surface'
  | 'method_not_allowed'
  | 'not_supported'
  | 'internal';

const STATUS_OF: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  control_disabled: 403,
  not_found: 404,
  no_surface: 404,
  method_not_allowed: 405,
  not_supported: 409,
  internal: 500,
};

/** An answer that is an error of the contract. */
export class StatusError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
  get status(): number {
    return STATUS_OF[this.code];
  }
}

export interface Reply {
  readonly status?: number;
  readonly type: string;
  readonly body: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export const json = (value: unknown, status = 200): Reply => ({
  status,
  type: 'application/json; charset=utf-8',
  body: `${JSON.stringify(value)}\n`,
});

export interface Request {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** The parsed JSON body (POST), `{}` when empty. */
  readonly body: unknown;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Needs the token (control, pictures, logs). */
  readonly token?: boolean;
  readonly handle: (req: Request) => Promise<Reply> | Reply;
}

export interface StatusServerOptions {
  readonly routes: readonly Route[];
  /** The token; null: routes that need one are refused (403 control_disabled). */
  readonly token: string | null;
  readonly logger: WalthamLogger;
}

/** `ADDR[:PORT]`, `:PORT` or `ADDR` (port 34401); IPv6 in brackets. */
export function parseStatusAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d+))?$/.exec(text);
  if (m === null) throw new Error(`"${text}" is not ADDR[:PORT]`);
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]);
  const port = m[3] === undefined ? DEFAULT_STATUS_PORT : Number(m[3]);
  if (!Number.isInteger(port) || port > 65535) throw new Error(`"${text}": port out of range`);
  return { host, port };
}

/**
 * The token from `--status-token-file` (first line, trimmed) or
 * `$WALTHAM_STATUS_TOKEN`; null when neither gives one.
 */
/**
 * The `--status ADDR[:PORT]` and `--status-token-file FILE` options of both
 * commands: the address to serve and the control token, or null without
 * `--status`. Throws UsageError naming `--status`.
 */
export function statusOptions(status: string | undefined, tokenFile: string | undefined): { address: { host: string; port: number }; token: string | null } | null {
  if (status === undefined) return null;
  try {
    return { address: parseStatusAddress(status), token: readStatusToken(tokenFile) };
  } catch (err) {
    throw new UsageError(`--status: ${(err as Error).message}`);
  }
}

export function readStatusToken(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (file !== undefined) {
    const line = readFileSync(file, 'utf8').split('\n')[0]!.trim();
    if (line === '') throw new Error(`${file}: the token file is empty`);
    return line;
  }
  const fromEnv = env['WALTHAM_STATUS_TOKEN']?.trim();
  return fromEnv === undefined || fromEnv === '' ? null : fromEnv;
}

/** Constant-time comparison (of digests, so lengths do not leak either). */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export class StatusServer {
  private readonly server: Server;

  constructor(private readonly options: StatusServerOptions) {
    this.server = createServer((req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://status');
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      reply = await this.dispatch(req, method, url);
    } catch (err) {
      if (err instanceof StatusError) {
        reply = json({ error: err.message, code: err.code, status_code: err.status }, err.status);
        if (err.status === 401 || err.status === 403) {
          this.options.logger.warn({ path: url.pathname, from: req.socket.remoteAddress }, `status: ${method} ${url.pathname} refused (${err.code})`);
        }
      } else {
        this.options.logger.error({ err }, `status: ${method} ${url.pathname} failed: ${(err as Error).message}`);
        reply = json({ error: 'internal error (see the log)', code: 'internal', status_code: 500 }, 500);
      }
      if (err instanceof StatusError && err.code === 'method_not_allowed') {
        const allow = this.options.routes.filter((r) => r.path === url.pathname).map((r) => r.method);
        reply = { ...reply, headers: { Allow: allow.join(', ') } };
      }
    }
    if (res.destroyed) return;
    res.writeHead(reply.status ?? 200, { 'Content-Type': reply.type, 'Cache-Control': 'no-store', ...reply.headers });
    res.end(reply.body);
  }

  private async dispatch(req: IncomingMessage, method: string, url: URL): Promise<Reply> {
    const candidates = this.options.routes.filter((r) => r.path === url.pathname);
    if (candidates.length === 0) throw new StatusError('not_found', `no such path: ${url.pathname}`);
    const route = candidates.find((r) => r.method === method);
    if (route === undefined) throw new StatusError('method_not_allowed', `${url.pathname} takes ${candidates.map((r) => r.method).join(', ')}, not ${method}`);
    if (route.token === true) this.authorize(req);
    const body = method === 'POST' ? await readJson(req) : {};
    return route.handle({ method, path: url.pathname, query: url.searchParams, body });
  }

  private authorize(req: IncomingMessage): void {
    const expected = this.options.token;
    if (expected === null) throw new StatusError('control_disabled', 'this endpoint has no token configured, so control and pictures are disabled');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (m === null) throw new StatusError('unauthorized', 'a token is required (Authorization: Bearer TOKEN)');
    if (!sameToken(m[1]!, expected)) throw new StatusError('unauthorized', 'wrong token');
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new StatusError('bad_request', `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new StatusError('bad_request', 'the body is not JSON');
  }
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** pino JSON lines as the contract's `{time, level, msg}` (other fields kept). */
export function logLines(raw: readonly object[]): object[] {
  return raw.map((l) => {
    const { time, level, msg, pid: _pid, hostname: _host, ...rest } = l as { time?: number; level?: number; msg?: string; pid?: number; hostname?: string };
    return {
      time: typeof time === 'number' ? new Date(time).toISOString() : null,
      level: typeof level === 'number' ? (LEVELS[level] ?? String(level)) : 'info',
      msg: msg ?? '',
      ...rest,
    };
  });
}

/** `?lines=N`: default 100, at most 1000. */
export function linesParam(query: URLSearchParams): number {
  const text = query.get('lines');
  if (text === null) return 100;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new StatusError('bad_request', `lines=${text}: expected a whole number`);
  return Math.min(n, 1000);
}
