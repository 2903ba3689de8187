/**
 * wl_shm v1: pools and buffers in client shared memory.
 *
 * Pools are never mapped whole. Clients such as foot create 512 MiB sparse
 * pools and place buffers at offsets like 128 MiB; a buffer is mapped on its
 * first use, only `[offset, offset + stride * height)`, and stays mapped
 * until the buffer is destroyed. A pool's fd lives as long as the pool or one
 * of its buffers (gtk3 and simple-shm destroy the pool right after
 * create_buffer).
 *
 * A client that shrinks its file under a buffer makes reads fault; the native
 * mapping turns that into zeros and a `truncated` flag (no SIGBUS crash), and
 * the client gets wl_shm.error invalid_fd on the buffer and is disconnected,
 * as libwayland does (wl_shm_buffer_end_access).
 *
 * Validation follows libwayland's src/wayland-shm.c, with the stride checked
 * against the pixel size (4 bytes for the two formats offered).
 */
import type { Rect } from '../../shared/scene/scene.js';
import type { PixelFormat } from '../../shared/scene/scene.js';
import type { Fd } from '../../shared/fd.js';
import { ShmMapping, copyChanged, copyPixels, fdSize, type ShmMapping as Mapping } from '../../shared/native.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import { WlBufferResource, WlShmError, WlShmFormat, WlShmPoolResource, WlShmResource } from '../../shared/generated/wayland/index.js';
import type { DisplayContext } from './context.js';

/** Formats offered: every surveyed client runs with these two. */
export const SHM_FORMATS: ReadonlyMap<number, PixelFormat> = new Map<number, PixelFormat>([
  [WlShmFormat.Argb8888, 'argb8888'],
  [WlShmFormat.Xrgb8888, 'xrgb8888'],
]);

const INT32_MAX = 0x7fffffff;
/**
 * Largest buffer accepted, in pixels (8K UHD): every committed buffer is
 * copied, so a client must not make the display allocate without bound.
 */
export const MAX_BUFFER_PIXELS = 7680 * 4320;

/** The pool's fd, shared by its buffers: closed when the pool and its last buffer are gone. */
class ShmPool {
  private refs = 1;

  constructor(
    private readonly file: Fd,
    public size: number,
  ) {}

  get fd(): number {
    return this.file.fd;
  }

  ref(): void {
    this.refs++;
  }

  unref(): void {
    if (--this.refs > 0) return;
    this.file.close();
  }
}

export type CopyResult = 'ok' | 'truncated' | 'unmappable';

/** The server side of one wl_buffer created from a wl_shm_pool. */
export class ShmBuffer {
  private mapping: Mapping | null = null;
  /** The mapping's bytes (an external ArrayBuffer: no copy). */
  private view: Uint8Array | null = null;

  constructor(
    readonly resource: WlBufferResource,
    private readonly pool: ShmPool,
    readonly offset: number,
    readonly width: number,
    readonly height: number,
    readonly stride: number,
    readonly format: PixelFormat,
  ) {
    resource.onDestroy(() => {
      this.mapping?.unmap();
      this.mapping = null;
      this.view = null;
      this.pool.unref();
    });
  }

  get destroyed(): boolean {
    return this.resource.destroyed;
  }

  /**
   * wl_buffer.release: sent once for each commit that used the buffer, once
   * its pixels were copied (with the commit's frame callbacks when it asked
   * for any, see Surface.heldReleases).
   */
  release(): void {
    if (!this.resource.destroyed) this.resource.sendRelease();
  }

  private map(): Mapping | null {
    if (this.mapping === null) {
      try {
        this.mapping = ShmMapping.map(this.pool.fd, this.offset, this.stride * this.height, false);
      } catch {
        return null;
      }
    }
    return this.mapping;
  }

  /** The buffer's mapping for native code that reads it across calls (null: it cannot be read). */
  steadyMapping(): Mapping | null {
    const m = this.destroyed ? null : this.map();
    return m === null || m.truncated ? null : m;
  }

  /**
   * Copy the buffer's pixels into `dst` (width * 4 bytes per row): every row,
   * or only `rects` (buffer pixels, already clipped to the buffer). One native
   * copy per rectangle: a read that faults (the client shrank its file) reads
   * zeros and sets the mapping's `truncated` flag.
   */
  copyTo(dst: Uint8Array, rects: readonly Rect[] | null): CopyResult {
    const m = this.map();
    if (m === null) return 'unmappable';
    const view = (this.view ??= new Uint8Array(m.buffer));
    const rowBytes = this.width * 4;
    for (const r of rects ?? [{ x: 0, y: 0, width: this.width, height: this.height }]) {
      copyPixels(view, this.stride, r.x, r.y, dst, rowBytes, r.x, r.y, r.width, r.height);
    }
    return m.truncated ? 'truncated' : 'ok';
  }

  /**
   * `copyTo` of `rects` over the previous pixels of `dst`, writing only what
   * differs, with where it differed: rectangles cut to a `grid`-pixel grid
   * (at most `maxRects`; past that, the rectangle that needed more counts as
   * changed whole). Clients damage more than they change (a terminal damages
   * its window for every line); consumers then look at what changed only.
   */
  copyChangedTo(dst: Uint8Array, rects: readonly Rect[], grid: number, maxRects: number): { result: CopyResult; changed: Rect[] } {
    const m = this.map();
    if (m === null) return { result: 'unmappable', changed: [] };
    const view = (this.view ??= new Uint8Array(m.buffer));
    const rowBytes = this.width * 4;
    const changed: Rect[] = [];
    for (const r of rects) {
      const room = Math.max(0, maxRects - changed.length);
      if (changedScratch.length < 4 * room) changedScratch = new Int32Array(4 * room);
      const out = changedScratch.subarray(0, 4 * room);
      const n = copyChanged(view, this.stride, dst, rowBytes, r.x, r.y, r.width, r.height, grid, out);
      if (n < 0) {
        changed.push(r);
        continue;
      }
      for (let i = 0; i < n; i++) changed.push({ x: out[4 * i]!, y: out[4 * i + 1]!, width: out[4 * i + 2]!, height: out[4 * i + 3]! });
    }
    return { result: m.truncated ? 'truncated' : 'ok', changed };
  }

  /** Report a failed copy to the client (it is disconnected). */
  postAccessError(result: Exclude<CopyResult, 'ok'>): void {
    const what = result === 'truncated' ? 'error accessing SHM buffer' : 'failed to map the SHM buffer';
    this.resource.postError(WlShmError.InvalidFd, what);
  }
}

/** Where `copyChangedTo` gets the changed rectangles (one thread: one scratch). */
let changedScratch = new Int32Array(4 * 64);

const buffers = new WeakMap<WlBufferResource, ShmBuffer>();

/** The shm buffer behind a wl_buffer, if it is one of ours. */
export function shmBufferOf(resource: WlBufferResource): ShmBuffer | undefined {
  return buffers.get(resource);
}

export function registerShm(ctx: DisplayContext): void {
  ctx.server.addGlobal(WlShmResource, 1, (shm, client) => {
    shm.listen({
      createPool: (pool, fd, size) => createPool(ctx, client, shm, pool, fd, size),
    });
    for (const format of SHM_FORMATS.keys()) shm.sendFormat(format);
  });
}

function createPool(
  ctx: DisplayContext,
  client: WaylandServerClient,
  shm: WlShmResource,
  resource: WlShmPoolResource,
  fd: Fd,
  size: number,
): void {
  if (size <= 0) {
    fd.close();
    shm.postError(WlShmError.InvalidStride, `invalid size (${size})`);
    return;
  }
  try {
    fdSize(fd.fd); // fstat: an fd we can map at all
  } catch (error) {
    const n = fd.fd;
    fd.close();
    shm.postError(WlShmError.InvalidFd, `failed mmap fd ${n}: ${(error as Error).message}`);
    return;
  }
  const pool = new ShmPool(fd, size);
  resource.onDestroy(() => pool.unref());
  resource.listen({
    createBuffer: (id, offset, width, height, stride, format) => {
      const pixelFormat = SHM_FORMATS.get(format >>> 0);
      if (pixelFormat === undefined) {
        resource.postError(WlShmError.InvalidFormat, `invalid format 0x${(format >>> 0).toString(16)}`);
        return;
      }
      if (
        offset < 0 ||
        width <= 0 ||
        height <= 0 ||
        stride < width * 4 ||
        Math.floor(INT32_MAX / stride) <= height ||
        offset > pool.size - stride * height
      ) {
        resource.postError(WlShmError.InvalidStride, `invalid width, height or stride (${width}x${height}, ${stride})`);
        return;
      }
      if (width * height > MAX_BUFFER_PIXELS) {
        resource.postError(WlShmError.InvalidStride, `buffer too large (${width}x${height}, at most ${MAX_BUFFER_PIXELS} pixels)`);
        return;
      }
      pool.ref();
      const buffer = new ShmBuffer(id, pool, offset, width, height, stride, pixelFormat);
      buffers.set(id, buffer);
      id.listen({ destroy: () => {} });
    },
    resize: (newSize) => {
      if (newSize < pool.size) {
        resource.postError(WlShmError.InvalidStride, 'shrinking pool invalid');
        return;
      }
      pool.size = newSize;
    },
    destroy: () => {},
  });
  ctx.logger.trace({ client: client.toString(), size }, 'shm pool created');
}
