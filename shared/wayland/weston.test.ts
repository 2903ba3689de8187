import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerError } from '../wire/errors.js';
import { WlCompositorProxy, WlDisplayError, WlShmProxy } from '../generated/wayland/index.js';
import { silentLogger } from '../log.js';
import { WaylandClient, WaylandConnectError } from './client.js';
import { parseWaylandInfo, run, startWeston, which, type Weston } from './test/helpers.js';

const missing = ['weston', 'wayland-info'].filter((bin) => which(bin) === undefined);
if (missing.length > 0) console.warn(`skipping the weston tests: ${missing.join(', ')} not installed`);

describe.skipIf(missing.length > 0)('WaylandClient against a real weston (headless)', () => {
  let weston: Weston;
  beforeAll(async () => {
    weston = await startWeston('wl-lib-test');
  });
  afterAll(async () => {
    await weston?.stop();
  });

  it('lists the same globals, with the same versions and names, as wayland-info', async () => {
    const info = await run('wayland-info', [], weston.env);
    expect(info.code).toBe(0);
    const expected = parseWaylandInfo(info.stdout);
    expect(expected.length).toBeGreaterThan(5);

    const client = WaylandClient.connect(weston.socket, { env: { ...weston.env }, logger: silentLogger });
    try {
      const registry = await client.registry();
      const ours = registry.list().map((g) => ({ interface: g.interface, version: g.version, name: g.name }));
      expect(ours).toEqual(expected);
    } finally {
      client.close();
    }
  });

  it('binds wl_shm and receives the formats wayland-info reports', async () => {
    const info = await run('wayland-info', [], weston.env);
    const section = info.stdout.split(/^interface: 'wl_shm'.*$/m)[1]!.split(/^interface:/m)[0]!;
    const expected = [...section.matchAll(/^\s*(0x[0-9a-f]+|\d+) = '/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
    expect(expected.length).toBeGreaterThan(1);

    const client = WaylandClient.connect(weston.path, { env: {}, logger: silentLogger }); // absolute path: no XDG_RUNTIME_DIR needed
    try {
      const registry = await client.registry();
      const formats: number[] = [];
      registry.bindFirst(WlShmProxy)!.listen({ format: (f) => formats.push(f) });
      await client.roundtrip();
      expect(formats.sort((a, b) => a - b)).toEqual(expected);
    } finally {
      client.close();
    }
  });

  it('gets weston’s protocol error for a bind above the advertised version as a PeerError', async () => {
    const client = WaylandClient.connect(undefined, { env: { ...weston.env }, logger: silentLogger }); // WAYLAND_DISPLAY
    const registry = await client.registry();
    const global = registry.find('wl_compositor')!;
    registry.proxy.bind(global.name, WlCompositorProxy, global.version + 1);
    const error = await client.roundtrip().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PeerError);
    expect((error as PeerError).errorCode).toBe(WlDisplayError.InvalidObject);
    expect((error as PeerError).interfaceName).toBe('wl_registry');
    expect((error as PeerError).text).toBe(`invalid version for global wl_compositor (${global.name}): have ${global.version}, wanted ${global.version + 1}`);
    expect(client.closed).toBe(true);
  });

  it('fails to connect with ENOENT to a name nobody listens on', () => {
    expect(() => WaylandClient.connect('no-such-display', { env: { ...weston.env } })).toThrow(
      expect.objectContaining({ name: 'WaylandConnectError', code: 'ENOENT' }) as WaylandConnectError,
    );
  });
});
