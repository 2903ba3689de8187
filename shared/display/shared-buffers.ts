/**
 * wl_buffers over producers' shared memory (SharedPixels), for one local
 * compositor: content whose pixels are shared is attached as it is, with no
 * copy into a buffer of ours. A buffer is made once per SharedPixels (its own
 * wl_shm_pool over the memfd) and reused for every commit of that memory.
 *
 * From attach to wl_buffer.release the SharedPixels is held, so its producer
 * writes elsewhere; when the producer disposes of it, the wl_buffer and pool
 * are destroyed (at once, or at the release if the compositor still reads it).
 */
import type { PixelFormat } from '../scene/scene.js';
import type { SharedPixels } from '../scene/shared-pixels.js';
import type { WlBufferProxy, WlShmPoolProxy, WlShmProxy } from '../generated/wayland/index.js';
import { shmFormat } from './buffers.js';

interface Entry {
  readonly pool: WlShmPoolProxy;
  readonly buffer: WlBufferProxy;
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
  /** Attached and not released by the compositor. */
  busy: boolean;
  stopDispose: () => void;
}

export class SharedBuffers {
  private readonly entries = new Map<SharedPixels, Entry>();

  constructor(private readonly shm: WlShmProxy) {}

  /**
   * A wl_buffer showing `shared` as a `width` x `height` image, marked as read
   * by the compositor until it releases it; null when the memory cannot be
   * used (disposed, or smaller than the image).
   */
  attachable(shared: SharedPixels, width: number, height: number, format: PixelFormat): WlBufferProxy | null {
    if (shared.disposed || shared.size < width * height * 4) return null;
    let entry = this.entries.get(shared);
    if (entry !== undefined && (entry.width !== width || entry.height !== height || entry.format !== format)) {
      this.drop(shared, entry);
      entry = undefined;
    }
    entry ??= this.create(shared, width, height, format);
    if (!entry.busy) {
      entry.busy = true;
      shared.hold();
    }
    return entry.buffer;
  }

  /** The wl_buffer made for `shared` at this size and format, and whether the compositor reads it; null: none. */
  entryOf(shared: SharedPixels, width: number, height: number, format: PixelFormat): { readonly buffer: WlBufferProxy; readonly busy: boolean } | null {
    const entry = this.entries.get(shared);
    if (entry === undefined || entry.width !== width || entry.height !== height || entry.format !== format || entry.buffer.destroyed) return null;
    return entry;
  }

  /** Whether the compositor reads `shared`'s wl_buffer, as someone else learned (a native path that attached it or saw its release). */
  setBusy(shared: SharedPixels, width: number, height: number, format: PixelFormat, busy: boolean): void {
    const entry = this.entries.get(shared);
    if (entry === undefined || entry.width !== width || entry.height !== height || entry.format !== format || entry.busy === busy) return;
    entry.busy = busy;
    if (busy) shared.hold();
    else {
      if (shared.disposed) this.destroyEntry(entry);
      shared.release();
    }
  }

  /** Buffers made (for tests and stats). */
  get size(): number {
    return this.entries.size;
  }

  /** The connection to the compositor is gone: its objects died with it; every hold is given back. */
  forget(): void {
    for (const [shared, entry] of [...this.entries]) {
      entry.stopDispose();
      if (entry.busy) {
        entry.busy = false;
        shared.release();
      }
    }
    this.entries.clear();
  }

  private create(shared: SharedPixels, width: number, height: number, format: PixelFormat): Entry {
    // The connection duplicates the fd when it marshals the request.
    const pool = this.shm.createPool(shared.fd, shared.size);
    const buffer = pool.createBuffer(0, width, height, width * 4, shmFormat(format));
    const entry: Entry = { pool, buffer, width, height, format, busy: false, stopDispose: () => {} };
    buffer.listen({
      release: () => {
        if (!entry.busy) return;
        entry.busy = false;
        if (shared.disposed || this.entries.get(shared) !== entry) this.destroyEntry(entry);
        shared.release();
      },
    });
    entry.stopDispose = shared.onDispose(() => {
      const current = this.entries.get(shared);
      if (current !== undefined) this.drop(shared, current);
    });
    this.entries.set(shared, entry);
    return entry;
  }

  /** Forget `entry`; its objects go now, or at the release when the compositor still reads it. */
  private drop(shared: SharedPixels, entry: Entry): void {
    this.entries.delete(shared);
    entry.stopDispose();
    if (!entry.busy) this.destroyEntry(entry);
  }

  private destroyEntry(entry: Entry): void {
    if (!entry.buffer.destroyed) entry.buffer.destroy();
    if (!entry.pool.destroyed) entry.pool.destroy();
  }
}
