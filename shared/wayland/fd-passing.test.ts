import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ShmMapping, closeFd, memfdCreate, socketPair, type ShmMapping as Mapping } from '../native.js';
import {
  WlBufferResource,
  WlCompositorResource,
  WlShmProxy,
  WlShmResource,
  XdgWmBaseResource,
} from '../generated/wayland/index.js';
import { silentLogger } from '../log.js';
import { WaylandClient } from './client.js';
import { WaylandServer } from './server.js';
import { tempRuntimeDir, waitFor, which, withTimeout } from './test/helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

interface Pool {
  readonly mapping: Mapping;
  readonly size: number;
}

/** A wl_shm global whose pools are mapped read-only, as a compositor reads client buffers. */
function shmServer(server: WaylandServer, pools: Pool[], buffers: { buffer: WlBufferResource; pool: Pool; offset: number; width: number; height: number; stride: number; format: number }[]): void {
  server.addGlobal(WlShmResource, 1, (shm) => {
    shm.sendFormat(0);
    shm.sendFormat(1);
    shm.listen({
      createPool: (poolResource, fd, size) => {
        const pool = { mapping: ShmMapping.map(fd.fd, 0, size, false), size };
        fd.close(); // the mapping does not need the fd
        pools.push(pool);
        poolResource.onDestroy(() => cleanups.push(() => pool.mapping.unmap()));
        poolResource.listen({
          createBuffer: (buffer, offset, width, height, stride, format) => buffers.push({ buffer, pool, offset, width, height, stride, format }),
        });
      },
    });
  });
}

describe('fd passing', () => {
  it('gets a memfd through wl_shm.create_pool; the server maps it and reads what the client wrote', async () => {
    const server = new WaylandServer({ logger: silentLogger });
    cleanups.push(() => server.close());
    const pools: Pool[] = [];
    const buffers: Parameters<typeof shmServer>[2] = [];
    shmServer(server, pools, buffers);
    const [a, b] = socketPair();
    server.addClientFd(a);
    const client = WaylandClient.fromFd(b, { logger: silentLogger });
    cleanups.push(() => client.close());

    const size = 64 * 64 * 4;
    const fd = memfdCreate('test-pool', size);
    const mine = ShmMapping.map(fd, 0, size, true);
    const pixels = new Uint8Array(mine.buffer);
    for (let i = 0; i < size; i++) pixels[i] = (i * 7 + 3) & 0xff;

    const registry = await client.registry();
    const pool = registry.bindFirst(WlShmProxy)!.createPool(fd, size);
    closeFd(fd); // the connection sent its own duplicate
    pool.createBuffer(4096, 32, 16, 128, 1);
    await client.roundtrip();

    expect(pools).toHaveLength(1);
    const seen = new Uint8Array(size);
    expect(pools[0]!.mapping.copyTo(0, seen)).toBe(true);
    expect(seen).toEqual(pixels);
    // Writes after the request are seen too: it is shared memory, not a copy.
    pixels[100] = 0x5a;
    expect(new Uint8Array(pools[0]!.mapping.buffer)[100]).toBe(0x5a);
    expect(buffers.map(({ offset, width, height, stride, format }) => [offset, width, height, stride, format])).toEqual([[4096, 32, 16, 128, 1]]);
    mine.unmap();
  });

  const noSimpleShm = which('weston-simple-shm') === undefined;
  if (noSimpleShm) console.warn('skipping the weston-simple-shm fd test: weston-simple-shm not installed');

  it.skipIf(noSimpleShm)('reads the pixels weston-simple-shm (libwayland) draws into the pool it passes', async () => {
    const dir = tempRuntimeDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = new WaylandServer({ logger: silentLogger, env: { XDG_RUNTIME_DIR: dir } });
    cleanups.push(() => server.close());
    const pools: Pool[] = [];
    const buffers: Parameters<typeof shmServer>[2] = [];
    shmServer(server, pools, buffers);
    const frames: { pixels: Uint8Array; width: number; height: number }[] = [];
    server.addGlobal(WlCompositorResource, 4, (compositor) => {
      compositor.listen({
        createSurface: (surface) => {
          let attached: WlBufferResource | null = null;
          surface.listen({
            attach: (buffer) => (attached = buffer),
            frame: (callback) => callback.sendDone(0),
            commit: () => {
              const info = buffers.find((b) => b.buffer === attached);
              if (info === undefined) return;
              const pixels = new Uint8Array(info.stride * info.height);
              info.pool.mapping.copyTo(info.offset, pixels);
              frames.push({ pixels, width: info.width, height: info.height });
              info.buffer.sendRelease();
            },
          });
        },
      });
    });
    server.addGlobal(XdgWmBaseResource, 1, (wm) => {
      wm.listen({
        getXdgSurface: (xdgSurface) => {
          xdgSurface.listen({
            getToplevel: (toplevel) => {
              toplevel.sendConfigure(0, 0, new Uint8Array(0));
              xdgSurface.sendConfigure(server.nextSerial());
            },
          });
        },
      });
    });
    server.listen('wl-shm-test');

    const child = spawn('weston-simple-shm', [], {
      env: { PATH: process.env['PATH'], XDG_RUNTIME_DIR: dir, WAYLAND_DISPLAY: 'wl-shm-test' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanups.push(() => child.kill('SIGKILL'));
    await waitFor(() => frames.length >= 2 || child.exitCode !== null, 10_000, `frames from weston-simple-shm (${stderr})`);
    child.kill('SIGINT');
    await withTimeout(exited, 5000, 'weston-simple-shm to exit');

    expect(pools.length).toBeGreaterThan(0);
    const { pixels, width, height } = frames[1]!;
    expect([width, height]).toEqual([250, 250]);
    // simple-shm paints a 20-pixel white (0xff) border and a pattern inside it.
    expect(pixels.subarray(0, width * 4).every((v) => v === 0xff)).toBe(true);
    const middle = (125 * width + 125) * 4;
    expect([...pixels.subarray(middle, middle + 4)]).not.toEqual([0xff, 0xff, 0xff, 0xff]);
  });
});
