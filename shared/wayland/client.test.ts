import { afterEach, describe, expect, it } from 'vitest';
import { closeFd, socketPair } from '../native.js';
import { silentLogger } from '../log.js';
import { WaylandClient, WaylandConnectError, resolveDisplay } from './client.js';
import { WaylandServer } from './server.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function connectError(fn: () => unknown): WaylandConnectError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WaylandConnectError);
    return error as WaylandConnectError;
  }
  throw new Error('expected a WaylandConnectError');
}

describe('finding the compositor like wl_display_connect', () => {
  it('uses the name, else $WAYLAND_DISPLAY, else wayland-0, inside $XDG_RUNTIME_DIR', () => {
    const env = { XDG_RUNTIME_DIR: '/run/user/7', WAYLAND_DISPLAY: 'wayland-5' };
    expect(resolveDisplay('mine', { ...env })).toEqual({ kind: 'path', path: '/run/user/7/mine' });
    expect(resolveDisplay(undefined, { ...env })).toEqual({ kind: 'path', path: '/run/user/7/wayland-5' });
    expect(resolveDisplay(undefined, { XDG_RUNTIME_DIR: '/run/user/7' })).toEqual({ kind: 'path', path: '/run/user/7/wayland-0' });
  });

  it('uses an absolute path as is, without XDG_RUNTIME_DIR', () => {
    expect(resolveDisplay('/tmp/x/wl', {})).toEqual({ kind: 'path', path: '/tmp/x/wl' });
    expect(resolveDisplay(undefined, { WAYLAND_DISPLAY: '/tmp/y' })).toEqual({ kind: 'path', path: '/tmp/y' });
  });

  it('refuses a relative name when XDG_RUNTIME_DIR is unset or not absolute', () => {
    expect(connectError(() => resolveDisplay('wayland-1', {})).code).toBe('ENOENT');
    expect(connectError(() => resolveDisplay('wayland-1', { XDG_RUNTIME_DIR: 'relative' })).message).toMatch(/XDG_RUNTIME_DIR is invalid or not set/);
  });

  it('refuses a socket path longer than sun_path', () => {
    expect(connectError(() => resolveDisplay('/' + 'x'.repeat(107), {})).code).toBe('ENAMETOOLONG');
    expect(resolveDisplay('/' + 'x'.repeat(106), {}).kind).toBe('path');
  });

  it('prefers WAYLAND_SOCKET over any name and removes it from the environment', () => {
    const env: NodeJS.ProcessEnv = { WAYLAND_SOCKET: '12', WAYLAND_DISPLAY: 'wayland-1', XDG_RUNTIME_DIR: '/run' };
    expect(resolveDisplay('explicit', env)).toEqual({ kind: 'fd', fd: 12 });
    expect(env['WAYLAND_SOCKET']).toBeUndefined();
    expect(connectError(() => resolveDisplay(undefined, { WAYLAND_SOCKET: '12abc' })).code).toBe('EINVAL');
  });

  it('connects over an inherited WAYLAND_SOCKET and refuses one that is not an open fd', async () => {
    const server = new WaylandServer({ logger: silentLogger });
    cleanups.push(() => server.close());
    const [a, b] = socketPair();
    server.addClientFd(a);
    const env: NodeJS.ProcessEnv = { WAYLAND_SOCKET: String(b) };
    const client = WaylandClient.connect(undefined, { env, logger: silentLogger });
    cleanups.push(() => client.close());
    await client.roundtrip();
    expect(server.clients.size).toBe(1);
    expect(env['WAYLAND_SOCKET']).toBeUndefined();

    const [c, d] = socketPair();
    closeFd(c);
    closeFd(d);
    expect(connectError(() => WaylandClient.connect(undefined, { env: { WAYLAND_SOCKET: String(d) } })).code).toBe('EBADF');
  });

  it('reports ECONNREFUSED or ENOENT with the path when nobody listens', () => {
    const error = connectError(() => WaylandClient.connect('/tmp/no-such-wayland-socket', { env: {} }));
    expect(error.code).toBe('ENOENT');
    expect(error.path).toBe('/tmp/no-such-wayland-socket');
  });
});
