/**
 * The token handshake: a shared secret proved by both sides before the first
 * Waltham message, so that no object exists on the receiver for a peer that
 * does not know it. The secret itself never goes on the wire: each side sends
 * an HMAC-SHA256 over both sides' fresh nonces, and the MACs are compared in
 * constant time.
 *
 * Wire format (version 1; the transmitter speaks first):
 *
 *   transmitter -> receiver   "WTHAUTH1" | u8 name length | name (UTF-8) | nonce (32)
 *   receiver -> transmitter   "WTHAUTH1" | nonce (32)
 *   transmitter -> receiver   HMAC(secret, "waltham-bridge token v1 transmitter\0" | name | 0 | tx nonce | rx nonce)
 *   receiver -> transmitter   0 | HMAC(secret, "waltham-bridge token v1 receiver\0" | name | 0 | tx nonce | rx nonce)
 *                          or 1 | u8 length | reason (UTF-8), then the receiver closes
 *
 * Then the Waltham stream starts. A transmitter without a token sends a
 * Waltham message first: the receiver answers it with `wth_display.error`
 * (which any Waltham client logs) and closes.
 *
 * Token files hold one token per line: `NAME SECRET`, or only `SECRET`.
 * `#` starts a comment line. A named token proves the transmitter's identity
 * (its name); an unnamed one only proves it knows the shared secret. The
 * transmitter uses the first token of its file.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defaultWalthamTable } from '../waltham/connection.js';
import { encodeMessage } from '../waltham/wire.js';

export const TOKEN_MAGIC = Buffer.from('WTHAUTH1', 'latin1');
const NONCE_BYTES = 32;
const MAC_BYTES = 32;
/** The shortest secret accepted (bytes of its text). */
export const MIN_SECRET_BYTES = 16;
const MAX_NAME_BYTES = 255;

export interface Token {
  /** null: an unnamed (shared) token. */
  readonly name: string | null;
  readonly secret: Buffer;
}

export class TokenFileError extends Error {
  readonly code = 'ERR_TOKEN_FILE';
}

/** Parse a token file's text; `file` names it in errors. */
export function parseTokens(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    if (parts.length > 2) throw new TokenFileError(`${file}:${i + 1}: expected NAME SECRET or SECRET`);
    const [name, secret] = parts.length === 2 ? [parts[0]!, parts[1]!] : [null, parts[0]!];
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      throw new TokenFileError(`${file}:${i + 1}: the secret is shorter than ${MIN_SECRET_BYTES} characters (make one with: openssl rand -hex 32)`);
    }
    if (name !== null && Buffer.byteLength(name) > MAX_NAME_BYTES) throw new TokenFileError(`${file}:${i + 1}: the name is longer than ${MAX_NAME_BYTES} bytes`);
    if (tokens.some((t) => t.name === name)) throw new TokenFileError(`${file}:${i + 1}: ${name === null ? 'a second unnamed token' : `a second token named ${name}`}`);
    tokens.push({ name, secret: Buffer.from(secret) });
  }
  if (tokens.length === 0) throw new TokenFileError(`${file}: no token in the file`);
  return tokens;
}

export function readTokens(file: string): Token[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TokenFileError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseTokens(text, file);
}

function mac(secret: Buffer, side: 'transmitter' | 'receiver', name: string, txNonce: Buffer, rxNonce: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update(`waltham-bridge token v1 ${side}\0`)
    .update(name)
    .update(Buffer.of(0))
    .update(txNonce)
    .update(rxNonce)
    .digest();
}

/** The outcome of a handshake: who the peer proved to be, and bytes that followed it (the start of the Waltham stream). */
export interface TokenResult {
  /** The token's name (receiver side: the name the transmitter proved; null for an unnamed token). */
  readonly name: string | null;
  readonly rest: Uint8Array;
}

export class TokenRefused extends Error {
  readonly code = 'ERR_TOKEN_REFUSED';
}

/** Bytes in, a verdict out: the state both handshakes share. */
abstract class Handshake {
  protected buf = Buffer.alloc(0);
  private finished = false;

  constructor(
    protected readonly write: (bytes: Uint8Array) => void,
    private readonly done: (err: TokenRefused | null, result: TokenResult | null) => void,
  ) {}

  /** Bytes from the peer (copied as needed: `chunk` may be reused after this returns). */
  feed(chunk: Uint8Array): void {
    if (this.finished) return;
    this.buf = Buffer.concat([this.buf, chunk]);
    try {
      this.step();
    } catch (err) {
      this.fail(err instanceof TokenRefused ? err : new TokenRefused((err as Error).message));
    }
  }

  /** The peer closed the stream before the end. */
  ended(): void {
    if (!this.finished) this.fail(new TokenRefused(this.endedText()));
  }

  /** The handshake took longer than `ms`. */
  timedOut(ms: number): void {
    if (!this.finished) this.fail(new TokenRefused(`no token handshake within ${ms} ms`));
  }

  get isFinished(): boolean {
    return this.finished;
  }

  protected abstract step(): void;
  protected abstract endedText(): string;

  /** `n` bytes from the input, or null while they have not all arrived. */
  protected take(n: number): Buffer | null {
    if (this.buf.length < n) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  protected succeed(name: string | null): void {
    this.finished = true;
    this.done(null, { name, rest: Uint8Array.from(this.buf) });
  }

  protected fail(err: TokenRefused): void {
    if (this.finished) return;
    this.finished = true;
    this.done(err, null);
  }
}

/**
 * The receiver's side. `tokens` are those of its token file; `done` gets the
 * proved name, or the reason of the refusal (already sent to the peer).
 */
export class TokenServerHandshake extends Handshake {
  private state: 'hello' | 'proof' = 'hello';
  private name = '';
  private txNonce = Buffer.alloc(0);
  private readonly rxNonce = randomBytes(NONCE_BYTES);

  constructor(
    private readonly tokens: readonly Token[],
    write: (bytes: Uint8Array) => void,
    done: (err: TokenRefused | null, result: TokenResult | null) => void,
  ) {
    super(write, done);
  }

  protected endedText(): string {
    return this.state === 'hello' ? 'the transmitter closed the connection before the token handshake' : 'the transmitter closed the connection during the token handshake';
  }

  protected step(): void {
    if (this.state === 'hello') {
      if (this.buf.length >= 1 && !TOKEN_MAGIC.subarray(0, Math.min(this.buf.length, TOKEN_MAGIC.length)).equals(this.buf.subarray(0, TOKEN_MAGIC.length))) {
        // A Waltham client without a token: tell it in the one language it speaks.
        const text = 'authentication required: this receiver needs a token (--token-file)';
        this.write(walthamError(text));
        throw new TokenRefused('no token: the transmitter sent Waltham messages without the token handshake');
      }
      if (this.buf.length < TOKEN_MAGIC.length + 1) return;
      const nameLength = this.buf[TOKEN_MAGIC.length]!;
      const hello = this.take(TOKEN_MAGIC.length + 1 + nameLength + NONCE_BYTES);
      if (hello === null) return;
      this.name = hello.subarray(TOKEN_MAGIC.length + 1, TOKEN_MAGIC.length + 1 + nameLength).toString('utf8');
      this.txNonce = Buffer.from(hello.subarray(hello.length - NONCE_BYTES));
      this.state = 'proof';
      this.write(Buffer.concat([TOKEN_MAGIC, this.rxNonce]));
    }
    const proof = this.take(MAC_BYTES);
    if (proof === null) return;
    // An unnamed token is tried when the name is not in the file (a transmitter may name itself freely then).
    const token = this.tokens.find((t) => t.name === this.name) ?? this.tokens.find((t) => t.name === null);
    // Compared against something even for an unknown name: the answer takes as long either way.
    const expected = mac(token?.secret ?? randomBytes(32), 'transmitter', this.name, this.txNonce, this.rxNonce);
    if (!timingSafeEqual(expected, proof) || token === undefined) {
      this.refuse('wrong token');
      throw new TokenRefused(`wrong token${this.name === '' ? '' : ` (the transmitter named itself "${this.name}"${token === undefined ? ', a name not in the token file' : ''})`}`);
    }
    this.write(Buffer.concat([Buffer.of(0), mac(token.secret, 'receiver', this.name, this.txNonce, this.rxNonce)]));
    this.succeed(token.name);
  }

  private refuse(reason: string): void {
    const text = Buffer.from(reason, 'utf8').subarray(0, 255);
    this.write(Buffer.concat([Buffer.of(1, text.length), text]));
  }
}

/** The transmitter's side, with the first token of its file. */
export class TokenClientHandshake extends Handshake {
  private state: 'challenge' | 'verdict' = 'challenge';
  private readonly name: string;
  private readonly txNonce = randomBytes(NONCE_BYTES);
  private rxNonce = Buffer.alloc(0);

  constructor(
    private readonly token: Token,
    write: (bytes: Uint8Array) => void,
    done: (err: TokenRefused | null, result: TokenResult | null) => void,
  ) {
    super(write, done);
    this.name = token.name ?? '';
    const name = Buffer.from(this.name, 'utf8');
    write(Buffer.concat([TOKEN_MAGIC, Buffer.of(name.length), name, this.txNonce]));
  }

  protected endedText(): string {
    return this.state === 'challenge'
      ? 'the receiver closed the connection at the token handshake (does it use a token?)'
      : 'the receiver closed the connection during the token handshake';
  }

  protected step(): void {
    if (this.state === 'challenge') {
      if (this.buf.length >= 1 && !TOKEN_MAGIC.subarray(0, Math.min(this.buf.length, TOKEN_MAGIC.length)).equals(this.buf.subarray(0, TOKEN_MAGIC.length))) {
        // A Waltham message instead: the receiver's reason for refusing us (a certificate), when it is one.
        const text = walthamErrorText(this.buf);
        if (text === undefined) return; // not all of it yet
        throw new TokenRefused(text ?? 'the receiver does not speak the token handshake (is it started with --token-file?)');
      }
      const challenge = this.take(TOKEN_MAGIC.length + NONCE_BYTES);
      if (challenge === null) return;
      this.rxNonce = Buffer.from(challenge.subarray(TOKEN_MAGIC.length));
      this.state = 'verdict';
      this.write(mac(this.token.secret, 'transmitter', this.name, this.txNonce, this.rxNonce));
    }
    if (this.buf.length < 1) return;
    if (this.buf[0] !== 0) {
      if (this.buf.length < 2 || this.buf.length < 2 + this.buf[1]!) return;
      throw new TokenRefused(`the receiver refused the token: ${this.buf.subarray(2, 2 + this.buf[1]!).toString('utf8')}`);
    }
    const verdict = this.take(1 + MAC_BYTES);
    if (verdict === null) return;
    if (!timingSafeEqual(verdict.subarray(1), mac(this.token.secret, 'receiver', this.name, this.txNonce, this.rxNonce))) {
      throw new TokenRefused('the receiver did not prove the token (it has another secret: not the receiver you expect?)');
    }
    this.succeed(this.token.name);
  }
}

/** `wth_display.error(wth_display, invalid_method, text)` as a Waltham message. */
export function walthamError(text: string): Uint8Array {
  const display = defaultWalthamTable().get('wth_display')!;
  const error = display.events.find((m) => m.name === 'error')!;
  // The object argument by id: the display is object 1 on both sides.
  return encodeMessage(error, 1, [1, 1, text], 'wth_display');
}

/** The text of a whole `wth_display.error` message at the start of `buf`; undefined while incomplete; null when it is something else. */
function walthamErrorText(buf: Buffer): string | null | undefined {
  if (buf.length < 8) return undefined;
  const size = buf.readUInt16LE(2);
  if (size < 24 || size > 4096) return null;
  if (buf.length < size) return undefined;
  const display = defaultWalthamTable().get('wth_display')!;
  const error = display.events.find((m) => m.name === 'error')!;
  if (buf.readUInt16LE(4) !== error.opcode || buf.readUInt32LE(8) !== 1) return null;
  const length = buf.readUInt32LE(20);
  if (24 + length > size) return null;
  return buf.subarray(24, 24 + length).toString('utf8').replace(/\0$/, '');
}
