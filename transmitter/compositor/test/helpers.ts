/**
 * Test helpers for the virtual display: a display in its own runtime
 * directory, a small Wayland client on the shared client library (same
 * process), fake consumers, and real applications.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, beforeEach } from 'vitest';
import type { CommitInfo, SceneSurface } from '../../../shared/scene/scene.js';
import { ShmMapping, closeFd, memfdCreate } from '../../../shared/native.js';
import { WaylandClient, type Registry } from '../../../shared/wayland/index.js';
import {
  WlBufferProxy,
  WlCompositorProxy,
  WlKeyboardProxy,
  WlPointerProxy,
  WlSeatProxy,
  WlShmFormat,
  WlShmPoolProxy,
  WlShmProxy,
  WlSubcompositorProxy,
  WlSurfaceProxy,
  XdgSurfaceProxy,
  XdgToplevelProxy,
  XdgWmBaseProxy,
  WlDataDeviceManagerProxy,
  IviApplicationProxy,
  WlOutputProxy,
} from '../../../shared/generated/wayland/index.js';
import type { OutputInfo } from '../../../shared/scene/output.js';
import { waitFor } from '../../../shared/test/helpers.js';
import { VirtualDisplay, type VirtualDisplayOptions } from '../display.js';

export { sleep, waitFor, which } from '../../../shared/test/helpers.js';

export const OUTPUT: OutputInfo = {
  name: 'VIRT-1',
  description: '',
  make: 'waltham',
  model: 'test output',
  x: 0,
  y: 0,
  width: 1280,
  height: 720,
  refresh: 60000,
  scale: 1,
  physicalWidth: 310,
  physicalHeight: 174,
  subpixel: 0,
  transform: 0,
};

export interface TestDisplay {
  readonly display: VirtualDisplay;
  readonly runtimeDir: string;
  /** Lines the display logged (JSON objects), for assertions on log lines. */
  readonly logs: Record<string, unknown>[];
  close(): void;
}

export interface DisplayOptions {
  readonly output?: OutputInfo;
  readonly moreOutputs?: readonly OutputInfo[];
  readonly outputOf?: (root: SceneSurface) => number;
  readonly keymap?: string;
  readonly frameTimeoutMs?: number;
  readonly limits?: VirtualDisplayOptions['limits'];
}

let counter = 0;

export function startDisplay(options: DisplayOptions = {}): TestDisplay {
  const runtimeDir = mkdtempSync('/tmp/wl-rt-vd-');
  chmodSync(runtimeDir, 0o700);
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
        if (process.env['VD_TEST_LOG'] === '1') process.stderr.write(line);
      },
    },
  );
  const display = new VirtualDisplay({
    socketName: `vd-${process.pid}-${++counter}`,
    runtimeDir,
    logger,
    output: options.output ?? OUTPUT,
    ...(options.moreOutputs !== undefined ? { moreOutputs: options.moreOutputs } : {}),
    ...(options.outputOf !== undefined ? { outputOf: options.outputOf } : {}),
    ...(options.keymap !== undefined ? { keymap: options.keymap } : {}),
    ...(options.frameTimeoutMs !== undefined ? { frameTimeoutMs: options.frameTimeoutMs } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
  });
  display.listen();
  return {
    display,
    runtimeDir,
    logs,
    close() {
      display.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** The display of the running test, from `displayPerTest`. */
export interface DisplayPerTest extends Omit<TestDisplay, 'close'> {
  /** A test client, closed after the test (before the display). */
  connect(): Promise<TestClient>;
  /** Close the clients and the display, and start another with `options`. */
  restart(options?: DisplayOptions): void;
}

/**
 * A display started before each test of the calling file and closed after
 * it (after the file's own afterEach hooks), with the clients `connect()`
 * made closed first.
 */
export function displayPerTest(): DisplayPerTest {
  let current: TestDisplay | null = null;
  const clients: TestClient[] = [];
  const now = (): TestDisplay => {
    if (current === null) throw new Error('the display exists only while a test runs');
    return current;
  };
  const close = (): void => {
    for (const c of clients.splice(0)) c.close();
    current?.close();
    current = null;
  };
  beforeEach(() => {
    current = startDisplay();
  });
  afterEach(close);
  return {
    get display() {
      return now().display;
    },
    get runtimeDir() {
      return now().runtimeDir;
    },
    get logs() {
      return now().logs;
    },
    connect: async () => {
      const c = await TestClient.connect(now().display);
      clients.push(c);
      return c;
    },
    restart: (options = {}) => {
      close();
      current = startDisplay(options);
    },
  };
}

/** Records the commits of every surface of a scene; optionally presents each commit at once (a fake consumer). */
export class FakeConsumer {
  readonly commits = new Map<SceneSurface, CommitInfo[]>();
  private readonly listeners = new Map<SceneSurface, (info: CommitInfo) => void>();
  presenting: boolean;

  constructor(
    private readonly display: VirtualDisplay,
    options: { present?: boolean } = {},
  ) {
    this.presenting = options.present ?? true;
    for (const s of display.scene.surfaces) this.watch(s);
    display.scene.on('surface', this.onSurface);
  }

  private readonly onSurface = (s: SceneSurface): void => this.watch(s);

  private watch(s: SceneSurface): void {
    const fn = (info: CommitInfo): void => {
      const list = this.commits.get(s) ?? [];
      list.push(info);
      this.commits.set(s, list);
      // Present on the next tick, as a consumer that shows the frame would.
      if (this.presenting) setImmediate(() => !s.destroyed && s.owner.feedback.presented(s, Date.now()));
    };
    this.listeners.set(s, fn);
    s.on('commit', fn);
    // A consumer that starts showing an existing surface presents its current content.
    if (this.presenting && s.mapped) setImmediate(() => !s.destroyed && s.owner.feedback.presented(s, Date.now()));
  }

  count(s: SceneSurface): number {
    return this.commits.get(s)?.length ?? 0;
  }

  detach(): void {
    this.display.scene.off('surface', this.onSurface);
    for (const [s, fn] of this.listeners) s.off('commit', fn);
    this.listeners.clear();
  }
}

/** Counts commits of every surface without being a consumer (no commit listener on the surfaces). */
export function mappedToplevels(display: VirtualDisplay): SceneSurface[] {
  return [...display.scene.surfaces].filter((s) => s.mapped && s.role?.kind === 'toplevel');
}

// ---- a small client ----------------------------------------------------------

export interface ShmBufferHandle {
  readonly buffer: WlBufferProxy;
  readonly pool: WlShmPoolProxy;
  readonly fd: number;
  readonly bytes: Uint8Array;
  released: number;
  destroy(): void;
}

export class TestClient {
  readonly compositor: WlCompositorProxy;
  readonly shm: WlShmProxy;
  readonly wm: XdgWmBaseProxy;
  readonly subcompositor: WlSubcompositorProxy;
  readonly seat: WlSeatProxy;
  readonly output: WlOutputProxy;
  readonly dataDeviceManager: WlDataDeviceManagerProxy;
  readonly ivi: IviApplicationProxy;
  readonly formats: number[] = [];
  pings = 0;

  private constructor(
    readonly client: WaylandClient,
    readonly registry: Registry,
  ) {
    const bind = <T extends import('../../../shared/wire/object.js').WireObject>(ctor: import('../../../shared/wire/object.js').WireObjectClass<T>, version?: number): T => {
      const g = registry.find(ctor.spec.name);
      if (g === undefined) throw new Error(`no ${ctor.spec.name}`);
      return registry.bind(ctor, g, version);
    };
    this.compositor = bind(WlCompositorProxy, 4);
    this.shm = bind(WlShmProxy, 1).listen({ format: (f) => this.formats.push(f) });
    this.wm = bind(XdgWmBaseProxy, 3).listen({
      ping: (serial) => {
        this.pings++;
        this.wm.pong(serial);
      },
    });
    this.subcompositor = bind(WlSubcompositorProxy, 1);
    this.seat = bind(WlSeatProxy, 7);
    this.output = bind(WlOutputProxy, 3);
    this.dataDeviceManager = bind(WlDataDeviceManagerProxy, 3);
    this.ivi = bind(IviApplicationProxy, 1);
  }

  static async connect(display: VirtualDisplay): Promise<TestClient> {
    return TestClient.connectTo(display.socketPath!);
  }

  /** A test client of the display at `socketPath` (e.g. a waltham-transmitter process's). */
  static async connectTo(socketPath: string): Promise<TestClient> {
    const client = WaylandClient.connect(socketPath, { logger: pino({ level: 'silent' }) });
    const registry = await client.registry();
    const c = new TestClient(client, registry);
    await client.roundtrip();
    return c;
  }

  roundtrip(): Promise<void> {
    return this.client.roundtrip();
  }

  /** A buffer filled by `pixel(x, y)` (a 32-bit value) in a memfd pool of `poolSize` bytes at `offset`. */
  buffer(
    width: number,
    height: number,
    pixel: (x: number, y: number) => number,
    options: { format?: number; stride?: number; poolSize?: number; offset?: number } = {},
  ): ShmBufferHandle {
    const stride = options.stride ?? width * 4;
    const offset = options.offset ?? 0;
    const size = options.poolSize ?? offset + stride * height;
    const fd = memfdCreate('test-pool', size);
    const mapping = ShmMapping.map(fd, offset, stride * height, true);
    const bytes = new Uint8Array(mapping.buffer);
    const view = new DataView(mapping.buffer);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) view.setUint32(y * stride + x * 4, pixel(x, y) >>> 0, true);
    const pool = this.shm.createPool(fd, size);
    const buffer = pool.createBuffer(offset, width, height, stride, options.format ?? WlShmFormat.Argb8888);
    const handle: ShmBufferHandle = {
      buffer,
      pool,
      fd,
      bytes,
      released: 0,
      destroy() {
        buffer.destroy();
        pool.destroy();
        mapping.unmap();
        closeFd(fd);
      },
    };
    buffer.listen({ release: () => handle.released++ });
    return handle;
  }

  /** A mapped-ready toplevel: created, initial commit, first configure acked. */
  async toplevel(title = 'test', appId = 'org.example.test'): Promise<TestToplevel> {
    const surface = this.compositor.createSurface();
    const xdgSurface = this.wm.getXdgSurface(surface);
    const toplevel = xdgSurface.getToplevel();
    const t = new TestToplevel(this, surface, xdgSurface, toplevel);
    toplevel.setTitle(title);
    toplevel.setAppId(appId);
    surface.commit();
    await this.roundtrip();
    await waitFor(() => t.serials.length > 0, 2000, 'initial configure');
    xdgSurface.ackConfigure(t.serials.at(-1)!);
    return t;
  }

  close(): void {
    this.client.close();
  }

  /** A pointer of the client's wl_seat (v7), or of a wl_seat bound at `seatVersion`. */
  pointer(seatVersion?: number): { proxy: WlPointerProxy; events: string[] } {
    const events: string[] = [];
    const seat = seatVersion === undefined ? this.seat : this.registry.bind(WlSeatProxy, this.registry.find(WlSeatProxy.spec.name)!, seatVersion);
    const proxy = seat.getPointer().listen({
      enter: (serial, surface, x, y) => events.push(`enter ${surface.id} ${x} ${y}`),
      leave: (serial, surface) => events.push(`leave ${surface.id}`),
      motion: (time, x, y) => events.push(`motion ${time} ${x} ${y}`),
      button: (serial, time, button, state) => events.push(`button ${time} ${button} ${state}`),
      axis: (time, axis, value) => events.push(`axis ${time} ${axis} ${value}`),
      frame: () => events.push('frame'),
      axisSource: (source) => events.push(`axis_source ${source}`),
      axisStop: (time, axis) => events.push(`axis_stop ${time} ${axis}`),
      axisDiscrete: (axis, discrete) => events.push(`axis_discrete ${axis} ${discrete}`),
    });
    return { proxy, events };
  }

  keyboard(): { proxy: WlKeyboardProxy; events: string[]; keymap: { fd: number; size: number } | null } {
    const out = { proxy: undefined as unknown as WlKeyboardProxy, events: [] as string[], keymap: null as { fd: number; size: number } | null };
    out.proxy = this.seat.getKeyboard().listen({
      keymap: (format, fd, size) => {
        if (out.keymap !== null) closeFd(out.keymap.fd);
        out.keymap = { fd: fd.take(), size };
        out.events.push(`keymap ${format} ${size}`);
      },
      enter: (serial, surface, keys) => out.events.push(`enter ${surface.id} [${[...new Uint32Array(keys.slice().buffer)].join(',')}]`),
      leave: (serial, surface) => out.events.push(`leave ${surface.id}`),
      key: (serial, time, key, state) => out.events.push(`key ${time} ${key} ${state}`),
      modifiers: (serial, d, l, lk, g) => out.events.push(`modifiers ${d} ${l} ${lk} ${g}`),
      repeatInfo: (rate, delay) => out.events.push(`repeat ${rate} ${delay}`),
    });
    return out;
  }
}

export class TestToplevel {
  readonly serials: number[] = [];
  readonly configures: { width: number; height: number; states: number[] }[] = [];
  closed = 0;

  constructor(
    readonly client: TestClient,
    readonly surface: WlSurfaceProxy,
    readonly xdgSurface: XdgSurfaceProxy,
    readonly toplevel: XdgToplevelProxy,
  ) {
    toplevel.listen({
      configure: (width, height, states) => {
        this.configures.push({ width, height, states: [...new Uint32Array(states.slice().buffer)] });
      },
      close: () => this.closed++,
    });
    xdgSurface.listen({ configure: (serial) => this.serials.push(serial) });
  }

  /** Attach, damage everything, commit. */
  show(buffer: ShmBufferHandle, damage = true): void {
    this.surface.attach(buffer.buffer, 0, 0);
    if (damage) this.surface.damageBuffer(0, 0, 0x7fffffff, 0x7fffffff);
    this.surface.commit();
  }
}

/** The scene surface that appeared last (the one a test client just created). */
export function lastSurface(display: VirtualDisplay): SceneSurface {
  const all = [...display.scene.surfaces];
  const s = all.at(-1);
  if (s === undefined) throw new Error('no surface in the scene');
  return s;
}

/** Resident set size of this process in bytes. */
export function rssBytes(): number {
  return process.memoryUsage.rss();
}

/** Kill a child and wait for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
