import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  WlCompositorResource,
  WlOutputResource,
  WlShmResource,
  XdgWmBaseResource,
  wlCompositorInterface,
  wlDisplayInterface,
  wlOutputInterface,
  wlRegistryInterface,
  wlSurfaceInterface,
} from '../generated/wayland/index.js';
import { memfdCreate, closeFd } from '../native.js';
import { silentLogger } from '../log.js';
import type { WireError } from '../wire/errors.js';
import { WaylandClient } from './client.js';
import { WaylandServer, type WaylandServerClient } from './server.js';
import { MAX_MESSAGE_SIZE } from './wire.js';
import { RawClient, decodeStream, openFdCount, parseWaylandInfo, run, tempRuntimeDir, waitFor, which, withTimeout } from './test/helpers.js';

const SHM_FORMATS = [0, 1, 0x36314752]; // ARGB8888, XRGB8888, RGB565

/** A server with a few globals, as a small compositor would offer them. */
function demoServer(dir: string): WaylandServer {
  const server = new WaylandServer({ logger: silentLogger, env: { XDG_RUNTIME_DIR: dir } });
  server.addGlobal(WlCompositorResource, 4, () => {});
  server.addGlobal(WlShmResource, 1, (shm) => {
    shm.listen({ createPool: (_pool, fd) => fd.close() });
    for (const format of SHM_FORMATS) shm.sendFormat(format);
  });
  server.addGlobal(WlOutputResource, 3, (output) => {
    output.sendGeometry(10, 20, 300, 200, 0, 'waltham', 'virtual', 0);
    output.sendScale(2);
    output.sendMode(3, 1920, 720, 60000);
    output.sendDone();
  });
  server.addGlobal(XdgWmBaseResource, 3, () => {});
  return server;
}

let dir: string;
let server: WaylandServer;
let socketPath: string;
const cleanups: (() => void)[] = [];

beforeEach(() => {
  dir = tempRuntimeDir();
  server = demoServer(dir);
  socketPath = server.listen('wl-ours');
});
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const clientEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'], XDG_RUNTIME_DIR: dir, WAYLAND_DISPLAY: 'wl-ours' });

const noWaylandInfo = which('wayland-info') === undefined;
if (noWaylandInfo) console.warn('skipping the wayland-info tests: wayland-info (wayland-utils) not installed');

describe.skipIf(noWaylandInfo)('WaylandServer with libwayland’s wayland-info as client', () => {
  it('lists our globals with our versions, the shm formats and the output mode we sent', async () => {
    const info = await run('wayland-info', [], clientEnv());
    expect(info.stderr).toBe('');
    expect(info.code).toBe(0);
    expect(parseWaylandInfo(info.stdout)).toEqual([
      { interface: 'wl_compositor', version: 4, name: 1 },
      { interface: 'wl_shm', version: 1, name: 2 },
      { interface: 'wl_output', version: 3, name: 3 },
      { interface: 'xdg_wm_base', version: 3, name: 4 },
    ]);
    expect(info.stdout).toMatch(/0x36314752 = 'RG16'/);
    expect(info.stdout).toMatch(/^\s*1 = 'XR24'$/m);
    expect(info.stdout).toMatch(/^\s*0 = 'AR24'$/m);
    expect(info.stdout).toMatch(/x: 10, y: 20, scale: 2,/);
    expect(info.stdout).toMatch(/physical_width: 300 mm, physical_height: 200 mm,/);
    expect(info.stdout).toMatch(/make: 'waltham', model: 'virtual',/);
    expect(info.stdout).toMatch(/width: 1920 px, height: 720 px, refresh: 60.000 Hz,\s*flags: current preferred/);
    await waitFor(() => server.clients.size === 0, 5000, 'wayland-info to disconnect');
  });

  describe('traces with WAYLAND_DEBUG', () => {
    let saved: string | undefined;
    beforeEach(() => {
      saved = process.env['WAYLAND_DEBUG'];
    });
    afterEach(() => {
      if (saved === undefined) delete process.env['WAYLAND_DEBUG'];
      else process.env['WAYLAND_DEBUG'] = saved;
      vi.restoreAllMocks();
    });

    it('prints the same lines as libwayland prints for the same messages, with its stamp', async () => {
      process.env['WAYLAND_DEBUG'] = 'server'; // libwayland's value for compositors
      const ours: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
        if (/^\[\s*\d+\.\d{3}\] /.test(text)) {
          ours.push(...text.split('\n').filter((l) => l !== ''));
          return true;
        }
        return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      });
      const info = await run('wayland-info', [], { ...clientEnv(), WAYLAND_DEBUG: '1' });
      expect(info.code).toBe(0);
      await waitFor(() => server.clients.size === 0, 5000, 'wayland-info to disconnect');
      vi.restoreAllMocks();

      const stamp = /^\[\s*(\d{1,7}\.\d{3})\] (.*)$/;
      const theirs = info.stderr.split('\n').filter((l) => stamp.test(l));
      expect(theirs.length).toBeGreaterThan(10);
      expect(ours.every((l) => stamp.test(l))).toBe(true);
      // Their requests are our received lines, their events our sent lines (" -> ").
      const body = (l: string): string => stamp.exec(l)![2]!;
      const flip = (b: string): string => (b.startsWith(' -> ') ? b.slice(4) : ` -> ${b}`);
      const theirsFlipped = theirs.map((l) => flip(body(l))).sort();
      expect(ours.map(body).sort()).toEqual(theirsFlipped);
      const outputId = /"wl_output", 3, new id \[unknown\]@(\d+)/.exec(theirs.join('\n'))![1];
      expect(ours.map(body)).toContain(`wl_registry@2.bind(3, "wl_output", 3, new id [unknown]@${outputId})`);
      expect(ours.map(body)).toContain(` -> wl_output@${outputId}.geometry(10, 20, 300, 200, 0, "waltham", "virtual", 0)`);
      // Same clock as libwayland: realtime microseconds in 32 bits, as milliseconds.
      const wrap = 2 ** 32 / 1000;
      const gap = Math.abs(Number(stamp.exec(ours[0]!)![1]) - Number(stamp.exec(theirs[0]!)![1]));
      expect(Math.min(gap, wrap - gap)).toBeLessThan(5000);
    });
  });
});

/** The wl_display.error events in what a raw client received. */
function errorsIn(bytes: Uint8Array): { object: number; code: number; message: string }[] {
  return decodeStream(bytes, { 1: wlDisplayInterface })
    .filter((e) => e.name === 'error')
    .map((e) => ({ object: e.args[0] as number, code: e.args[1] as number, message: e.args[2] as string }));
}

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v >>> 0, true));
  return out;
}

describe('protocol errors from a raw client, with a well-behaved client connected', () => {
  const cases: { what: string; send: (raw: RawClient) => void; code: number; message: RegExp }[] = [
    {
      what: 'a message to an unknown object',
      send: (raw) => raw.send(words(55, (8 << 16) | 0)),
      code: 0,
      message: /^invalid object 55$/,
    },
    {
      what: 'an unknown opcode',
      send: (raw) => raw.send(words(1, (8 << 16) | 7)),
      code: 1,
      message: /^invalid method 7, object wl_display@1$/,
    },
    {
      what: 'a size below the header',
      send: (raw) => raw.send(words(1, (4 << 16) | 0, 0)),
      code: 1,
      message: /^malformed message: .*size 4 is below the 8-byte header/,
    },
    {
      what: 'a size above 4096 bytes',
      send: (raw) => raw.send(words(1, ((MAX_MESSAGE_SIZE + 8) << 16) | 0)),
      code: 1,
      message: /above the 4096-byte limit/,
    },
    {
      what: 'a string without its NUL',
      send: (raw) => {
        raw.request(1, wlDisplayInterface, 'get_registry', [2]);
        // bind(name 1, "wl_shm" without NUL (length 6), version 1, id 3)
        const body = new Uint8Array([...words(1, 6), ...new TextEncoder().encode('wl_shm'), 0, 0, ...words(1, 3)]);
        raw.send(new Uint8Array([...words(2, ((8 + body.byteLength) << 16) | 0), ...body]));
      },
      code: 1,
      message: /^invalid arguments for wl_registry@2\.bind: string id is not NUL-terminated$/,
    },
    {
      what: 'a new id that skips ahead',
      send: (raw) => raw.request(1, wlDisplayInterface, 'sync', [5]),
      code: 1,
      message: /^invalid arguments for wl_display@1\.sync: invalid new id 5 \(skips-ahead\)$/,
    },
    {
      what: 'a new id already in use',
      send: (raw) => raw.request(1, wlDisplayInterface, 'get_registry', [1]),
      code: 1,
      message: /^invalid arguments for wl_display@1\.get_registry: invalid new id 1 \(in-use\)$/,
    },
    {
      what: 'an fd argument without an fd',
      send: (raw) => {
        raw.request(1, wlDisplayInterface, 'get_registry', [2]);
        raw.request(2, wlRegistryInterface, 'bind', [2, { id: 3, interface: 'wl_shm', version: 1 }]);
        // create_pool(new id 4, fd, size 4096) with no SCM_RIGHTS
        raw.send(words(3, (16 << 16) | 0, 4, 4096));
      },
      code: 1,
      message: /^invalid arguments for wl_shm@3\.create_pool: file descriptor expected/,
    },
    {
      what: 'a request newer than the bound version',
      send: (raw) => {
        raw.request(1, wlDisplayInterface, 'get_registry', [2]);
        raw.request(2, wlRegistryInterface, 'bind', [3, { id: 3, interface: 'wl_output', version: 2 }]);
        raw.request(3, wlOutputInterface, 'release', []);
      },
      code: 1,
      message: /^invalid method 0 \(since 2 < 3\), object wl_output@3$/,
    },
    {
      what: 'an object argument of the wrong interface',
      send: (raw) => {
        raw.request(1, wlDisplayInterface, 'get_registry', [2]);
        raw.request(2, wlRegistryInterface, 'bind', [1, { id: 3, interface: 'wl_compositor', version: 4 }]);
        raw.request(3, wlCompositorInterface, 'create_surface', [4]);
        raw.request(4, wlSurfaceInterface, 'attach', [2, 0, 0]); // wl_registry@2 as the buffer
      },
      code: 1,
      message: /^invalid arguments for wl_surface@4\.attach: argument buffer: object wl_registry@2 is not a wl_buffer$/,
    },
  ];

  for (const { what, send, code, message } of cases) {
    it(`answers ${what} with wl_display.error and a disconnect, and keeps serving the other client`, async () => {
      const good = WaylandClient.connect('wl-ours', { env: clientEnv(), logger: silentLogger });
      cleanups.push(() => good.close());
      await good.roundtrip();
      const errors: WireError[] = [];
      server.on('protocol-error', (_c: WaylandServerClient, e: WireError) => errors.push(e));
      const raw = RawClient.connect(socketPath);
      cleanups.push(() => raw.close());
      send(raw);
      const { bytes, closed } = await raw.readUntilClosed();
      expect(closed).toBe(true);
      const received = errorsIn(bytes);
      expect(received).toHaveLength(1);
      expect(received[0]!.object).toBe(1);
      expect(received[0]!.code).toBe(code);
      expect(received[0]!.message).toMatch(message);
      expect(errors).toHaveLength(1);
      await good.roundtrip();
      expect(server.clients.size).toBe(1);
    });
  }

  it('closes the fds of a rejected message (no fd leak)', async () => {
    const raw = RawClient.connect(socketPath);
    cleanups.push(() => raw.close());
    raw.request(1, wlDisplayInterface, 'get_registry', [2]);
    raw.request(2, wlRegistryInterface, 'bind', [2, { id: 3, interface: 'wl_shm', version: 1 }]);
    await raw.readUntilClosed(200); // let the server settle
    const before = openFdCount();
    const memfd = memfdCreate('leak', 4096);
    // create_pool with a new id that skips ahead: rejected after the fd arrived
    raw.send(words(3, (16 << 16) | 0, 9, 4096), [memfd]);
    closeFd(memfd);
    const { closed } = await raw.readUntilClosed();
    expect(closed).toBe(true);
    raw.close();
    cleanups.pop();
    await waitFor(() => server.clients.size === 0, 5000, 'the raw client to be dropped');
    expect(openFdCount()).toBe(before - 2); // both ends of the raw connection are closed, the memfd dup is not left behind
  });

  const noSimpleShm = which('weston-simple-shm') === undefined;
  it.skipIf(noSimpleShm)('lets weston-simple-shm exit cleanly when wl_shm is missing, and keeps running', async () => {
    const minimal = new WaylandServer({ logger: silentLogger, env: { XDG_RUNTIME_DIR: dir } });
    cleanups.push(() => minimal.close());
    minimal.addGlobal(WlCompositorResource, 4, () => {});
    minimal.addGlobal(XdgWmBaseResource, 1, () => {});
    minimal.listen('wl-minimal');
    const gone = new Promise<Error | undefined>((resolve) => minimal.on('client-gone', (_c, reason) => resolve(reason)));
    const result = await run('weston-simple-shm', [], { ...clientEnv(), WAYLAND_DISPLAY: 'wl-minimal' });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/No wl_shm global/);
    expect(await withTimeout(gone, 5000, 'client-gone')).toBeUndefined(); // an orderly hangup, no protocol error
    const good = WaylandClient.connect('wl-minimal', { env: clientEnv(), logger: silentLogger });
    cleanups.push(() => good.close());
    expect((await good.registry()).list().map((g) => g.interface)).toEqual(['wl_compositor', 'xdg_wm_base']);
  });
});
