/**
 * The connection to one receiver, kept up: connects (TCP within
 * `tcpConnectMs`; TLS, the token and the handshake each bounded by
 * `connectTimeoutMs`), pings with wth_display.sync to find a receiver that
 * is gone without a word, and reconnects after a loss or a failed attempt
 * with exponential backoff (0.2 s doubling to 1 s, ±25 % jitter; at once
 * after a TCP connect that got no answer; 5 s after the receiver refused our
 * certificate or token).
 */
import type { WalthamLogger } from '../../shared/waltham/connection.js';
import type { WalthamClient } from '../../shared/waltham/display.js';
import { connectWaltham } from '../../shared/waltham/tcp.js';
import { describeTlsError } from '../../shared/security/tls.js';
import { TokenRefused } from '../../shared/security/token.js';
import { PeerError } from '../../shared/wire/errors.js';
import type { ReceiverLinkOptions } from './link.js';
import type { ConnectionState } from './remote.js';
import { every } from '../../shared/ticker.js';

/** After the receiver refused us (certificate, token), the next attempt waits this long. */
const REFUSED_RETRY_MS = 5000;

export interface ReconnectHooks {
  /** Bind the receiver's globals on a new connection. */
  handshake(client: WalthamClient): Promise<ConnectionState>;
  /** `conn` is up (after the handshake). */
  connected(conn: ConnectionState): void;
  /** `conn` is gone; a reconnection is scheduled unless stopped. */
  lost(conn: ConnectionState, reason: Error | undefined): void;
}

export class Reconnector {
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly connectTimeout: number;
  private readonly pingMs: number;
  private readonly deadMs: number;
  private readonly tcpConnectMs: number;
  /** The last failure logged at warn level (the same one again goes to debug). */
  private lastFailure = '';

  /** The connection now, or null. */
  conn: ConnectionState | null = null;
  running = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | null = null;
  /** Aborts the TCP connect of the attempt under way. */
  private connectAbort: AbortController | null = null;
  /** The connection of the attempt under way, during its handshake. */
  private handshaking: WalthamClient | null = null;

  constructor(
    private readonly options: ReceiverLinkOptions,
    private readonly logger: WalthamLogger,
    private readonly where: string,
    private readonly hooks: ReconnectHooks,
  ) {
    this.initialDelay = options.backoff?.initialMs ?? 200;
    this.maxDelay = options.backoff?.maxMs ?? 1000;
    this.connectTimeout = options.connectTimeoutMs ?? 5000;
    this.pingMs = options.liveness?.pingMs ?? 1000;
    this.deadMs = options.liveness?.deadMs ?? 3500;
    this.tcpConnectMs = Math.min(options.liveness?.tcpConnectMs ?? 1000, this.connectTimeout);
  }

  /** Connect now and whenever the connection is lost. */
  start(): void {
    this.running = true;
    this.connectSoon(0);
  }

  /** No more attempts; an attempt under way is abandoned. */
  halt(): void {
    this.running = false;
    this.connectAbort?.abort();
    this.handshaking?.destroy();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /** After `halt`: close the connection, giving the receiver `graceMs` to close its side. */
  async close(graceMs: number | undefined): Promise<void> {
    await this.connecting?.catch(() => undefined);
    const conn = this.conn;
    if (conn !== null) await conn.client.close(graceMs);
  }

  private connectSoon(delay: number): void {
    if (!this.running || this.reconnectTimer !== undefined || this.connecting !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connecting = this.connect().then((retryIn) => {
        this.connecting = null;
        if (retryIn !== null) this.connectSoon(retryIn);
      });
    }, delay);
  }

  private nextDelay(): number {
    const base = Math.min(this.maxDelay, this.initialDelay * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** One connection attempt; resolves with the delay before the next one, or null. */
  private async connect(): Promise<number | null> {
    const { host, port } = this.options;
    let client: WalthamClient;
    const abort = new AbortController();
    this.connectAbort = abort;
    try {
      const connecting = connectWaltham(host, port, {
        maxOutgoingBytes: 256 * 1024 * 1024,
        ...this.options.connection,
        logger: this.logger,
        label: this.where,
        signal: abort.signal,
        tcpTimeoutMs: this.tcpConnectMs,
        ...(this.options.security !== undefined ? { security: this.options.security } : {}),
      });
      client = await withTimeout(connecting, this.connectTimeout, 'connection timed out', (late) => late.destroy());
    } catch (err) {
      abort.abort(); // a connect that timed out is dropped
      if (!this.running) return null; // stop() abandoned the attempt
      const refused = isRefusal(err);
      // No answer to the SYN: the time is already spent; a new SYN goes out at once.
      const silent = /no TCP connection within/.test((err as Error).message);
      const delay = refused ? REFUSED_RETRY_MS : silent ? Math.round(50 + Math.random() * 100) : this.nextDelay();
      const why = refused || silent ? (err as Error).message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      this.logFailure(refused ? `refused: ${why}` : `cannot connect (${why})`, delay);
      return delay;
    } finally {
      this.connectAbort = null;
    }
    if (!this.running) {
      client.destroy();
      return null;
    }
    this.handshaking = client;
    try {
      const conn = await withTimeout(this.hooks.handshake(client), this.connectTimeout, 'no answer from the receiver');
      this.handshaking = null;
      if (!this.running || !client.isOpen) {
        client.destroy();
        return this.running ? this.nextDelay() : null;
      }
      this.attempt = 0;
      this.lastFailure = '';
      this.conn = conn;
      client.once('close', (reason) => this.onClosed(conn, reason));
      this.watch(conn);
      this.logger.info({ host, port }, `${this.where}: connected`);
      this.hooks.connected(conn);
      return null;
    } catch (err) {
      this.handshaking = null;
      client.destroy();
      if (!this.running) return null; // stop() abandoned the attempt
      const tlsCode = tlsErrorCode(err);
      const refused = tlsCode !== null || isRefusal(err);
      const delay = refused ? REFUSED_RETRY_MS : this.nextDelay();
      const cause = (err as Error).cause;
      const why =
        tlsCode !== null && cause instanceof Error
          ? describeTlsError(cause, 'transmitter')
          : err instanceof PeerError && refused
            ? `the receiver says: ${err.text.replace(/^refused: /, '')}`
            : (err as Error).message;
      this.logFailure(refused ? `refused: ${why}` : `handshake failed (${why})`, delay);
      return delay;
    }
  }

  /** A failed attempt: at warn level when it is news, else at debug level. */
  private logFailure(what: string, delay: number): void {
    const text = `${this.where}: ${what}; retrying in ${delay} ms`;
    const { host, port } = this.options;
    if (what !== this.lastFailure) this.logger.warn({ host, port }, text);
    else this.logger.debug({ host, port }, text);
    this.lastFailure = what;
  }

  /** Ping the receiver with wth_display.sync; drop a connection that stopped answering. */
  private watch(conn: ConnectionState): void {
    let lastAnswer = Date.now();
    let lastPing = 0;
    let waiting = false;
    // One check a ping: a silent link is noticed within deadMs and a ping (the periodic checks of
    // the process share these wake-ups: shared/ticker.ts).
    const period = Math.min(this.pingMs, this.deadMs / 2);
    const timer = every(period, () => {
      if (this.conn !== conn || !conn.client.isOpen) {
        timer.stop();
        return;
      }
      // Anything read from the receiver is a sign of life too (an answer may queue behind a slow link's frames).
      if (Date.now() - Math.max(lastAnswer, conn.client.lastReadAt) > this.deadMs) {
        timer.stop();
        this.logger.warn({}, `${this.where}: no answer for ${this.deadMs} ms`);
        conn.client.destroy(new Error(`no answer for ${this.deadMs} ms`));
        return;
      }
      // The checks fall on multiples of the period: a ping every pingMs, not a check later.
      if (waiting || Date.now() - lastPing < this.pingMs - period / 2) return;
      waiting = true;
      lastPing = Date.now();
      conn.client.sync().then(
        () => {
          waiting = false;
          lastAnswer = Date.now();
        },
        () => undefined,
      );
    });
  }

  private onClosed(conn: ConnectionState, reason: Error | undefined): void {
    if (this.conn !== conn) return;
    this.conn = null;
    if (this.running) {
      const delay = this.nextDelay();
      this.logger.warn(
        { host: this.options.host, port: this.options.port },
        `${this.where}: connection lost${reason !== undefined ? ` (${reason.message})` : ''}; reconnecting in ${delay} ms`,
      );
      this.connectSoon(delay);
    }
    this.hooks.lost(conn, reason);
  }
}

/** The receiver refused our token, or our certificate (or we refused its). */
function isRefusal(err: unknown): boolean {
  if (err instanceof PeerError) return /^(refused: |authentication required)/.test(err.text);
  return err instanceof TokenRefused || (err instanceof Error && err.message.startsWith('TLS: '));
}

/** The TLS alert code of a connection that failed after the TLS handshake (TLS 1.3 rejects a client certificate then), or null. */
function tlsErrorCode(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_SSL_')) return code;
  }
  return null;
}

/**
 * `promise`, or a rejection after `ms`. A value that arrives after the
 * timeout is handed to `late` (to close a connection nobody waits for).
 */
function withTimeout<T>(promise: Promise<T>, ms: number, text: string, late?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new Error(text));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (expired) late?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!expired) reject(err as Error);
      },
    );
  });
}
