/**
 * Pixels in shared memory (a memfd) that a local compositor can read
 * directly: a producer that writes its content here lets a display attach the
 * memory as a wl_shm buffer instead of copying it into one of its own
 * (the receiver decodes tiles straight into the buffer weston reads).
 *
 * While a compositor reads the memory (from attach to wl_buffer.release) the
 * display holds it (`hold` / `release`) and the producer must not write it:
 * it picks another buffer (`busy`). `dispose()` says the producer is done
 * with it: the fd is closed and displays drop their wl_buffers for it (once
 * released).
 *
 * The memfd is owned (an `Fd`) and closed by `dispose()` only, never by the
 * garbage collector: its producer disposes of every SharedPixels it made
 * (the receiver's surfaces do when a buffer leaves them or they are
 * destroyed). The mapping itself stays readable until it is collected.
 */
import { Fd } from '../fd.js';
import { discardFdPages, memfdCreate, ShmMapping } from '../native.js';

export class SharedPixels {
  /** The whole mapping, `size` bytes. */
  readonly pixels: Uint8Array;
  private holds = 0;
  private readonly freeListeners = new Set<() => void>();
  private readonly disposeListeners = new Set<() => void>();

  private constructor(
    private readonly memfd: Fd,
    readonly size: number,
    mapping: ShmMapping,
  ) {
    this.pixels = new Uint8Array(mapping.buffer, 0, size);
  }

  /** `size` bytes of zeroed shared memory. */
  static allocate(size: number, name = 'waltham-pixels'): SharedPixels {
    const memfd = new Fd(memfdCreate(name, size));
    try {
      return new SharedPixels(memfd, size, ShmMapping.map(memfd.fd, 0, size, true));
    } catch (err) {
      memfd.close();
      throw err;
    }
  }

  /** The memfd, borrowed (for a wl_shm pool: the connection duplicates it); -1 once disposed. */
  get fd(): number {
    return this.memfd.closed ? -1 : this.memfd.fd;
  }

  get disposed(): boolean {
    return this.memfd.closed;
  }

  /** A compositor reads the memory now: the producer must not write it. */
  get busy(): boolean {
    return this.holds > 0;
  }

  hold(): void {
    this.holds++;
  }

  release(): void {
    if (this.holds === 0) return;
    this.holds--;
    if (this.holds === 0) for (const f of [...this.freeListeners]) f();
  }

  /** Called each time the last hold goes. */
  onFree(listener: () => void): () => void {
    this.freeListeners.add(listener);
    return () => this.freeListeners.delete(listener);
  }

  /** Called once when the producer disposes of it. */
  onDispose(listener: () => void): () => void {
    this.disposeListeners.add(listener);
    return () => this.disposeListeners.delete(listener);
  }

  /**
   * The producer is done: close the fd; displays drop their buffers for it. The mapping stays
   * readable until collected; with `discard` its memory is given back at once and it reads as
   * zeros (for pixels nobody is to see again: a surface that is gone).
   */
  dispose(options: { discard?: boolean } = {}): void {
    if (this.memfd.closed) return;
    // Given back now rather than when the mapping is collected (which may be long after).
    if (options.discard === true) discardFdPages(this.memfd.fd);
    this.memfd.close();
    for (const f of [...this.disposeListeners]) f();
    this.disposeListeners.clear();
    this.freeListeners.clear();
  }
}
