/**
 * The wl_shm buffers of one local surface: one memfd pool per content size
 * and format, up to `maxBuffers` buffers in it (created as needed), each
 * mapped writable in our address space.
 *
 * A buffer the compositor holds (attached, not released yet) is never
 * written. Every buffer keeps the damage it has missed since it was last
 * brought up to date, so taking a free buffer copies only the rectangles that
 * changed since that buffer was last shown, not the whole frame.
 *
 * Per the wl_shm_pool spec the pool can be destroyed while its buffers live
 * on; buffers still held by the compositor are destroyed when released.
 */
import type { PixelFormat, Rect } from '../scene/scene.js';
import { closeFd, copyPixels, memfdCreate, ShmMapping } from '../native.js';
import type { ShmMapping as Mapping } from '../native.js';
import { WlShmFormat, type WlBufferProxy, type WlShmPoolProxy, type WlShmProxy } from '../generated/wayland/index.js';
import { Damage } from './damage.js';

export function shmFormat(format: PixelFormat): number {
  return format === 'argb8888' ? WlShmFormat.Argb8888 : WlShmFormat.Xrgb8888;
}

export class ShmBuffer {
  /** Attached and committed, not released by the compositor yet. */
  busy = false;
  /** What this buffer lacks compared with the newest content. */
  readonly stale: Damage;
  /** Bytes copied into it by the last `acquire`. */
  copied = 0;

  constructor(
    readonly wl: WlBufferProxy,
    /** This buffer's pixels inside the pool mapping. */
    readonly pixels: Uint8Array,
    width: number,
    height: number,
  ) {
    this.stale = new Damage(width, height);
    this.stale.addFull();
  }
}

export class ShmBufferSet {
  readonly stride: number;
  private readonly buffers: ShmBuffer[] = [];
  private readonly pool: WlShmPoolProxy;
  private readonly mapping: Mapping;
  private destroyed = false;

  constructor(
    shm: WlShmProxy,
    readonly width: number,
    readonly height: number,
    readonly format: PixelFormat,
    /** Called when a buffer becomes free again (to retry a frame waiting for one). */
    private readonly onRelease: () => void,
    readonly maxBuffers = 3,
    name = 'waltham-surface',
  ) {
    if (width <= 0 || height <= 0) throw new RangeError(`buffer size ${width}x${height}`);
    this.stride = width * 4;
    const size = this.stride * height * maxBuffers;
    const fd = memfdCreate(name, size);
    try {
      this.mapping = ShmMapping.map(fd, 0, size, true);
      // The connection duplicates the fd when it marshals; ours is closed below.
      this.pool = shm.createPool(fd, size);
    } finally {
      closeFd(fd);
    }
  }

  /** Record damage of a new frame: every buffer misses it until it is next used. */
  addDamage(rects: readonly Rect[]): void {
    for (const b of this.buffers) b.stale.addAll(rects);
  }

  /** Number of buffers created so far. */
  get count(): number {
    return this.buffers.length;
  }

  /** Buffers held by the compositor right now. */
  get busyCount(): number {
    return this.buffers.filter((b) => b.busy).length;
  }

  /**
   * A free buffer brought up to date from `pixels` (the newest content,
   * `width * 4` bytes per row), marked busy; null when all are held.
   */
  acquire(pixels: Uint8Array): ShmBuffer | null {
    if (this.destroyed) return null;
    let buffer = this.buffers.find((b) => !b.busy);
    if (buffer === undefined) {
      if (this.buffers.length >= this.maxBuffers) return null;
      buffer = this.create();
    }
    this.copy(pixels, buffer);
    buffer.busy = true;
    return buffer;
  }

  private create(): ShmBuffer {
    const index = this.buffers.length;
    const offset = index * this.stride * this.height;
    const wl = this.pool.createBuffer(offset, this.width, this.height, this.stride, shmFormat(this.format));
    const view = new Uint8Array(this.mapping.buffer, offset, this.stride * this.height);
    const buffer = new ShmBuffer(wl, view, this.width, this.height);
    wl.listen({
      release: () => {
        buffer.busy = false;
        if (this.destroyed) {
          if (!wl.destroyed) wl.destroy();
          return;
        }
        this.onRelease();
      },
    });
    this.buffers.push(buffer);
    return buffer;
  }

  private copy(src: Uint8Array, buffer: ShmBuffer): void {
    const dst = buffer.pixels;
    const stride = this.stride;
    buffer.copied = 0;
    if (src.length >= dst.length) {
      for (const r of buffer.stale.rects) {
        copyPixels(src, stride, r.x, r.y, dst, stride, r.x, r.y, r.width, r.height);
        buffer.copied += r.width * r.height * 4;
      }
      buffer.stale.clear();
      return;
    }
    // Content shorter than the buffer (not a full frame): copy what there is.
    const limit = src.length;
    for (const r of buffer.stale.rects) {
      const rowBytes = r.width * 4;
      for (let y = r.y; y < r.y + r.height; y++) {
        const start = y * stride + r.x * 4;
        if (start + rowBytes > limit) break;
        dst.set(src.subarray(start, start + rowBytes), start);
        buffer.copied += rowBytes;
      }
    }
    buffer.stale.clear();
  }

  /**
   * Destroy the pool and the free buffers now; buffers the compositor still
   * holds are destroyed when it releases them (or with the connection).
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.buffers) if (!b.busy && !b.wl.destroyed) b.wl.destroy();
    if (!this.pool.destroyed) this.pool.destroy();
    this.mapping.unmap();
  }
}
