/**
 * Selection data over Waltham: one transfer carries the bytes of one
 * selection in one mime type from the side that owns the selection to the
 * side that pastes it (protocol/waltham.xml, wthp_clipboard).
 *
 * - `FdSender` (owner side) reads the pipe the selection's source writes
 *   into and sends chunks of at most `CHUNK_BYTES`; it stops reading while
 *   `WINDOW_BYTES` are unacknowledged, so it never reads faster than the
 *   peer writes out (backpressure reaches the source through its pipe).
 * - `FdReceiver` (pasting side) writes the chunks into the pipe of the
 *   application that pastes and acknowledges each chunk once written.
 * - Both count the bytes: past `limit` the transfer is cancelled with a log
 *   line; the peer stays connected.
 *
 * The fds are owned by the transfer from its creation and closed when it
 * ends, whichever way.
 */
import { Socket } from 'node:net';
import type { WalthamLogger as Logger } from '../waltham/connection.js';
import type { Fd } from '../fd.js';

/** Largest data message of a transfer. */
export const CHUNK_BYTES = 32768;
/** Most bytes sent and not yet acknowledged. */
export const WINDOW_BYTES = 262144;
/** Default size limit of one transfer. */
export const DEFAULT_CLIPBOARD_LIMIT = 16 * 1024 * 1024;
/** Most transfers under way at once with one peer; more are cancelled at once. */
export const MAX_TRANSFERS = 32;
/** Most mime types kept for one selection. */
export const MAX_MIME_TYPES = 256;

export type SelectionKind = 'clipboard' | 'primary';
export const SELECTION_KINDS: readonly SelectionKind[] = ['clipboard', 'primary'];

/** wthp_clipboard.kind of a selection kind, and back (undefined for an unknown value). */
export function kindCode(kind: SelectionKind): number {
  return kind === 'clipboard' ? 0 : 1;
}
export function kindOf(code: number): SelectionKind | undefined {
  return code === 0 ? 'clipboard' : code === 1 ? 'primary' : undefined;
}

/** What one side sends to the other about one transfer. */
export interface TransferWire {
  data(bytes: Uint8Array): void;
  done(): void;
  ack(bytes: number): void;
  cancel(): void;
}

export interface TransferOptions {
  readonly logger: Logger;
  /** How the transfer is named in log lines. */
  readonly label: string;
  readonly limit: number;
  /** Called once when the transfer ended (done, cancelled, failed). */
  readonly ended?: () => void;
}

/** One transfer's pipe end, made a socket that closes it; ended once, by either side. */
abstract class FdTransfer {
  protected readonly socket: Socket;
  protected total = 0;
  protected finished = false;

  /** `fd` is ours from now on; the socket made of it closes it. */
  constructor(
    fd: Fd,
    readable: boolean,
    protected readonly wire: TransferWire,
    protected readonly options: TransferOptions,
  ) {
    this.socket = new Socket({ fd: fd.take(), readable, writable: !readable, allowHalfOpen: readable });
  }

  /** Bytes moved so far. */
  get bytes(): number {
    return this.total;
  }

  /** The peer cancelled (or the link is gone): stop. */
  cancel(): void {
    this.finish();
  }

  protected finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.socket.destroy();
    this.options.ended?.();
  }
}

/** The owner side: reads `fd` (the read end of the source's pipe) and sends it in chunks. */
export class FdSender extends FdTransfer {
  private unacked = 0;

  constructor(fd: Fd, wire: TransferWire, options: TransferOptions) {
    super(fd, true, wire, options);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => {
      if (this.finished) return;
      this.wire.done();
      this.finish();
    });
    this.socket.on('error', (error) => {
      if (this.finished) return;
      this.options.logger.warn({ err: error }, `${this.options.label}: cannot read the selection: ${error.message}`);
      this.wire.cancel();
      this.finish();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    this.total += chunk.length;
    if (this.total > this.options.limit) {
      this.options.logger.warn({}, `${this.options.label}: cancelled at ${this.total} bytes, over the clipboard limit of ${this.options.limit} bytes`);
      this.wire.cancel();
      this.finish();
      return;
    }
    for (let at = 0; at < chunk.length; at += CHUNK_BYTES) this.wire.data(chunk.subarray(at, Math.min(chunk.length, at + CHUNK_BYTES)));
    this.unacked += chunk.length;
    if (this.unacked >= WINDOW_BYTES) this.socket.pause();
  }

  /** The peer wrote out `bytes` more. */
  ack(bytes: number): void {
    if (this.finished) return;
    this.unacked = Math.max(0, this.unacked - bytes);
    if (this.unacked < WINDOW_BYTES && this.socket.isPaused()) this.socket.resume();
  }

}

/** The pasting side: writes the chunks it gets into `fd` (the application's pipe) and acknowledges them. */
export class FdReceiver extends FdTransfer {
  constructor(fd: Fd, wire: TransferWire, options: TransferOptions) {
    super(fd, false, wire, options);
    this.socket.on('error', (error) => {
      if (this.finished) return;
      // EPIPE: the application stopped reading; nothing to report but to the peer.
      this.options.logger.debug({ err: error }, `${this.options.label}: the pasting application stopped reading: ${error.message}`);
      this.wire.cancel();
      this.finish();
    });
  }

  data(bytes: Uint8Array): void {
    if (this.finished) return;
    this.total += bytes.length;
    if (this.total > this.options.limit) {
      this.options.logger.warn({}, `${this.options.label}: cancelled at ${this.total} bytes, over the clipboard limit of ${this.options.limit} bytes`);
      this.wire.cancel();
      this.finish();
      return;
    }
    const n = bytes.length;
    // The message buffer is reused by the connection: write a copy.
    this.socket.write(Buffer.from(bytes), (error) => {
      if (error === undefined || error === null) {
        if (!this.finished) this.wire.ack(n);
      }
    });
  }

  /** The owner sent everything: close the pipe once written, so the application sees the end. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    this.socket.end(() => this.socket.destroy());
    this.options.ended?.();
  }

}

/** Transfer ids of one side: the transmitter's have the high bit clear, the receiver's set. */
export class TransferIds {
  private next = 1;
  constructor(private readonly highBit: boolean) {}

  take(): number {
    const id = ((this.next & 0x7fffffff) | (this.highBit ? 0x80000000 : 0)) >>> 0;
    this.next = (this.next % 0x7fffffff) + 1;
    return id;
  }
}

/**
 * The wthp_clipboard events that move a transfer's bytes, on both ends: data
 * and done to the receiving side, ack to the sending side, cancel to either.
 */
export function transferEvents(transfers: ReadonlyMap<number, FdSender | FdReceiver>): {
  data(transfer: number, bytes: Uint8Array): void;
  done(transfer: number): void;
  ack(transfer: number, bytes: number): void;
  cancel(transfer: number): void;
} {
  return {
    data: (transfer, bytes) => {
      const t = transfers.get(transfer);
      if (t instanceof FdReceiver) t.data(bytes);
    },
    done: (transfer) => {
      const t = transfers.get(transfer);
      if (t instanceof FdReceiver) t.done();
    },
    ack: (transfer, bytes) => {
      const t = transfers.get(transfer);
      if (t instanceof FdSender) t.ack(bytes);
    },
    cancel: (transfer) => transfers.get(transfer)?.cancel(),
  };
}
