/**
 * One HTTP request over node:http, with an overall deadline (connect, headers
 * and body), for the WalT web API and the boards' status endpoints. No
 * framework: node:http loads in a few milliseconds, which keeps `waltham`'s
 * start fast.
 */
import { Agent, request } from 'node:http';
import { bareHost, type HostPort } from './names.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export interface HttpRequest {
  readonly method?: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Whole-request deadline in ms; the request fails with a `TimeoutError`. */
  readonly timeoutMs: number;
  readonly agent?: Agent;
  /** Largest body accepted (bytes). */
  readonly maxBytes?: number;
}

/**
 * Keep-alive agents: one per target, so `waltham node show` reuses its
 * connection to the WalT server. Idle sockets do not keep the process alive.
 */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 8, timeout: 10_000 });
}

export function httpRequest(target: HostPort, req: HttpRequest): Promise<HttpAnswer> {
  const maxBytes = req.maxBytes ?? 64 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(req.body));
    }
    const r = request({
      host: bareHost(target.host),
      port: target.port,
      method: req.method ?? 'GET',
      path: req.path,
      headers,
      agent: req.agent ?? false,
    });
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${req.timeoutMs} ms`);
      err.name = 'TimeoutError';
      r.destroy(err);
    }, req.timeoutMs);
    r.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          r.destroy(new Error(`answer larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    r.end(req.body);
  });
}

/** The body as JSON, or undefined when it is not JSON. */
export function jsonBody(answer: HttpAnswer): unknown {
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
}
