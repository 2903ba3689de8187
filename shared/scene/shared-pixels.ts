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
 * released). A SharedPixels that is garbage collected without `dispose()`
 * closes its fd then.
 */
import { closeFd, discardFdPages, memfdCreate, ShmMapping } from '../native.js';

const orphans = new FinalizationRegistry<{ fd: number; open: boolean }>((state) => {
  if (state.open) closeFd(state.fd);
});

export class SharedPixels {
  /** The whole mapping, `size` bytes. */
  readonly pixels: Uint8Array;
  private readonly state: { fd: number; open: boolean };
  private holds = 0;
  private readonly freeListeners = new Set<() => void>();
  private readonly disposeListeners = new Set<() => void>();

  private constructor(
    fd: number,
    readonly size: number,
    mapping: ShmMapping,
  ) {
    this.state = { fd, open: true };
    this.pixels = new Uint8Array(mapping.buffer, 0, size);
    orphans.register(this, this.state, this);
  }

  /** `size` bytes of zeroed shared memory. */
  static allocate(size: number, name = 'waltham-pixels'): SharedPixels {
    const fd = memfdCreate(name, size);
    try {
      return new SharedPixels(fd, size, ShmMapping.map(fd, 0, size, true));
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /** The memfd, for a wl_shm pool; -1 once disposed. */
  get fd(): number {
    return this.state.open ? this.state.fd : -1;
  }

  get disposed(): boolean {
    return !this.state.open;
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
    if (!this.state.open) return;
    // Given back now rather than when the mapping is collected (which may be long after).
    if (options.discard === true) discardFdPages(this.state.fd);
    this.state.open = false;
    orphans.unregister(this);
    closeFd(this.state.fd);
    for (const f of [...this.disposeListeners]) f();
    this.disposeListeners.clear();
    this.freeListeners.clear();
  }
}
