/**
 * An owned file descriptor, like Rust's `OwnedFd`: one `Fd` object owns one descriptor and closes
 * it exactly once.
 *
 * - `close()` is idempotent: the first call closes the descriptor, later calls do nothing. A close
 *   that the kernel refuses with EBADF means someone else closed our descriptor (and its number
 *   may already name another file): that is a bug, so it throws instead of being swallowed.
 * - `fd` is the number, for calls that borrow it (sendmsg, mmap, fstat); it throws once the
 *   object is closed or taken, so a stale number is never used.
 * - `take()` hands the number and the duty to close it to someone else (a native call that
 *   closes it, the kernel via sendmsg, another owner); the object is then closed without closing.
 *
 * `using` works too (Node 20 has Symbol.dispose): the block's end closes what is still owned.
 *
 * No FinalizationRegistry: a descriptor is closed by its owner, never by the garbage collector
 * (a late close by the collector could hit a number reused meanwhile).
 */
import { closeFd, dupFd, isNativeError } from './native.js';

/** The descriptor of an `Fd` was used after `close()` or `take()`. */
export class FdClosedError extends Error {
  readonly code = 'ERR_FD_CLOSED';
  constructor(what: string) {
    super(`fd ${what}`);
    this.name = 'FdClosedError';
  }
}

export class Fd implements Disposable {
  private num: number;
  /** How the descriptor left this object, for the error of a late use. */
  private gone: 'closed' | 'taken' | null = null;

  /** Own `fd` from now on (the caller gives up its number). */
  constructor(fd: number) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`not an fd: ${fd}`);
    this.num = fd;
  }

  /** Own every number of `fds` (e.g. the fds of one recvmsg). */
  static all(fds: readonly number[]): Fd[] {
    return fds.map((fd) => new Fd(fd));
  }

  /** True once the descriptor was closed or taken. */
  get closed(): boolean {
    return this.gone !== null;
  }

  /** The descriptor, borrowed: still owned (and closed) by this object. Throws once closed or taken. */
  get fd(): number {
    if (this.gone !== null) throw new FdClosedError(`${this.num} already ${this.gone}`);
    return this.num;
  }

  /** A new owned descriptor for the same open file (dup, close-on-exec). */
  dup(): Fd {
    return new Fd(dupFd(this.fd));
  }

  /** Give the number and the duty to close it away; this object no longer closes it. */
  take(): number {
    const fd = this.fd;
    this.gone = 'taken';
    return fd;
  }

  /** Close the descriptor; a second call does nothing. */
  close(): void {
    if (this.gone !== null) return;
    this.gone = 'closed';
    try {
      closeFd(this.num);
    } catch (error) {
      // EINTR/EIO still release the number on Linux: only EBADF is a double close elsewhere.
      if (isNativeError(error, 'EBADF')) throw new Error(`fd ${this.num} was closed behind its owner's back`, { cause: error });
    }
  }

  /** `using fd = new Fd(n)`: closed at the end of the block unless taken. */
  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.gone === null ? `fd ${this.num}` : `fd ${this.num} (${this.gone})`;
  }
}

/** Close every fd of `fds` that is still open (the ones nobody took). */
export function closeAll(fds: Iterable<Fd>): void {
  let failure: unknown;
  for (const fd of fds) {
    try {
      fd.close();
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}
