/**
 * The status endpoints of both commands, as real processes over real HTTP:
 * the transmitter's status, its token rules, control requests moving it to
 * another receiver (persisted in a state file that the next start reads, and
 * announced with walt-log-echo), its screenshot and log; the receiver's
 * status, its page for people (also looked at in headless Chromium), and its
 * refusal of control requests.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter, type Receiver, type Transmitter } from './bridge.js';
import { decodePng, run, skipUnless, startWeston, waitFor, which, type Image } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';
import { PLOT_FPS_COLOUR } from '../receiver/status-page.js';

const SIMPLE_SHM = 'org.freedesktop.weston.simple-shm';
const TOKEN = 'test-token-5f2c';

interface Answer {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  bytes: Buffer;
  type: string;
}

async function call(base: string, path: string, options: { method?: string; token?: string; body?: unknown } = {}): Promise<Answer> {
  const method = options.method ?? 'GET';
  const body = method === 'GET' ? undefined : options.body;
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, bytes, type, json: type.startsWith('application/json') ? JSON.parse(bytes.toString('utf8')) : null };
}

/** The status endpoint's base URL, from the "status on http://ADDR:PORT" log line. */
async function statusBase(p: { process: { waitForLine(m: RegExp, t: number): Promise<string> } }): Promise<string> {
  const line = await p.process.waitForLine(/status on http:\/\/[^ /]+:\d+/, 20_000);
  const m = /status on (http:\/\/[^ /]+:\d+)/.exec(line)!;
  return m[1]!;
}

/** Pixels that are not transparent. */
function drawn(image: Image): number {
  let n = 0;
  for (let i = 3; i < image.data.length; i += 4) if (image.data[i]! > 0) n++;
  return n;
}

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'weston-simple-shm'))('status endpoints', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'wb-status-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('the transmitter reports, moves to another receiver on a control request, persists it and keeps it after a restart', async () => {
    const [westonA, westonB] = await cleanup.addAll([startWeston({ width: 640, height: 480 }), startWeston({ width: 640, height: 480 })] as const);
    const [a, b] = await cleanup.addAll([startReceiver(westonA.env, ['--status', '127.0.0.1:0']), startReceiver(westonB.env, ['--status', '127.0.0.1:0'])] as const);
    const dir = tempDir();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const stateFile = join(dir, 'state', 'transmitter.env');
    // walt-log-echo stands in for WalT's command of that name: it records what it is given.
    const bin = join(dir, 'bin');
    const echoed = join(dir, 'echoed');
    mkdirSync(bin);
    writeFileSync(join(bin, 'walt-log-echo'), `#!/bin/sh\nprintf '%s|%s\\n' "$1" "$2" >> ${echoed}\n`);
    chmodSync(join(bin, 'walt-log-echo'), 0o755);
    const env = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    const txArgs = ['--status', '127.0.0.1:0', '--status-token-file', tokenFile, '--state-file', stateFile];
    const tx = cleanup.add(startTransmitter([`${a.host}:${a.port}`], ['weston-simple-shm'], txArgs, env));
    const logs = (t: Transmitter = tx): string => logTails({ 'receiver A': a.process, 'receiver B': b.process, transmitter: t.process });
    const base = await statusBase(tx);

    // Reads are open; the window and the connection show up.
    const connected = await waitFor(
      'the transmitter connected to A with the simple-shm window',
      async () => {
        const s = (await call(base, '/status')).json;
        return s.receivers[0]?.state === 'connected' && s.surfaces.some((f: { app_id: string }) => f.app_id === SIMPLE_SHM) && s;
      },
      20_000,
    ).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    expect(connected).toMatchObject({ api: 1, service: 'waltham-transmitter', version: expect.any(String), display: 'waltham-0', persisted: null });
    expect(connected.receivers).toEqual([expect.objectContaining({ name: 'to-1', address: `${a.host}:${a.port}`, reconnects: 0, last_error: null })]);
    const surface = connected.surfaces.find((f: { app_id: string }) => f.app_id === SIMPLE_SHM);
    expect(surface).toMatchObject({ title: 'simple-shm', width: 250, height: 250, receivers: [`${a.host}:${a.port}`] });
    expect((await call(base, '/healthz')).json).toEqual({ ok: true });
    // simple-shm draws continuously: its rate shows once a few seconds have gone by.
    await waitFor('a frame rate for simple-shm', async () => (await call(base, '/status')).json.surfaces[0]?.fps > 0, 20_000);

    // Control, pictures and logs need the token.
    for (const [method, path] of [['POST', '/control/connect'], ['POST', '/control/disconnect'], ['GET', '/screenshot.png'], ['GET', '/log']] as const) {
      const none = await call(base, path, { method, body: { to: `${b.host}:${b.port}` } });
      expect(none.status, `${method} ${path} without a token`).toBe(401);
      expect(none.json).toMatchObject({ code: 'unauthorized', status_code: 401, error: expect.any(String) });
      const wrong = await call(base, path, { method, token: `${TOKEN}x`, body: { to: `${b.host}:${b.port}` } });
      expect(wrong.status, `${method} ${path} with a wrong token`).toBe(401);
    }
    expect((await call(base, '/status')).json.receivers[0].address).toBe(`${a.host}:${a.port}`);
    expect((await call(base, '/control/connect', { method: 'POST', token: TOKEN, body: { to: 'no such host!' } })).json).toMatchObject({ code: 'bad_request' });
    expect((await call(base, '/nowhere')).status).toBe(404);
    const wrongMethod = await call(base, '/status', { method: 'POST' });
    expect(wrongMethod.status).toBe(405);

    // The screenshot: the composed scene, the window drawn.
    const shot = await call(base, '/screenshot.png', { token: TOKEN });
    expect(shot.type).toBe('image/png');
    const picture = await decodePng(shot.bytes);
    expect([picture.width, picture.height]).toEqual([250, 250]);
    expect(drawn(picture)).toBeGreaterThan(250 * 250 * 0.5);
    expect((await call(base, `/screenshot.png?surface=${surface.id + 1000}`, { token: TOKEN })).json).toMatchObject({ code: 'no_surface' });

    // Move to B: B shows the window, A no longer has a transmitter.
    const moved = await call(base, '/control/connect', { method: 'POST', token: TOKEN, body: { to: `${b.host}:${b.port}` } });
    expect(moved.status).toBe(200);
    expect(moved.json.receivers.map((r: { address: string }) => r.address)).toEqual([`${b.host}:${b.port}`]);
    expect(moved.json.persisted).toBe(stateFile);
    expect(readFileSync(stateFile, 'utf8')).toContain(`WALTHAM_TO=${b.host}:${b.port}`);
    await westonB
      .waitForView((v) => v.visible && v.appId === SIMPLE_SHM, 20_000, 'simple-shm on B')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    const aBase = await statusBase(a);
    await waitFor('A without transmitters', async () => (await call(aBase, '/status')).json.transmitters.length === 0, 20_000);
    await waitFor('walt-log-echo state=ready for B', () => {
      try {
        return readFileSync(echoed, 'utf8').includes(`waltham.tx|state=ready receiver=${b.host}:${b.port} version=`);
      } catch {
        return false;
      }
    }, 10_000);
    expect(readFileSync(echoed, 'utf8')).toContain(`waltham.tx|state=down receiver=${a.host}:${a.port}`);

    const log = await call(base, '/log?lines=500', { token: TOKEN });
    expect(log.json.lines.some((l: { msg: string; level: string; time: string }) => l.msg.includes(`connect to ${b.host}:${b.port}`) && l.level === 'info' && !Number.isNaN(Date.parse(l.time)))).toBe(true);

    // A restart without --to reads the state file and goes to B again.
    await tx.stop();
    const again = cleanup.add(startTransmitter([], ['weston-simple-shm'], txArgs, env));
    const againBase = await statusBase(again);
    await waitFor(
      'the restarted transmitter connected to B',
      async () => {
        const s = (await call(againBase, '/status')).json;
        return s.receivers.length === 1 && s.receivers[0].address === `${b.host}:${b.port}` && s.receivers[0].state === 'connected';
      },
      20_000,
    ).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs(again)}`)));

    // Disconnect: no receivers, persisted as none.
    const off = await call(againBase, '/control/disconnect', { method: 'POST', token: TOKEN });
    expect(off.json.receivers).toEqual([]);
    expect(readFileSync(stateFile, 'utf8')).toMatch(/^WALTHAM_TO=$/m);
    const bBase = await statusBase(b);
    await waitFor('B without transmitters', async () => (await call(bBase, '/status')).json.transmitters.length === 0, 20_000);
  });

  it('without a token configured, control, pictures and logs are refused and reads stay open', async () => {
    const tx = cleanup.add(startTransmitter([], ['weston-simple-shm'], ['--status', '127.0.0.1:0'], { WALTHAM_STATUS_TOKEN: undefined }));
    const base = await statusBase(tx);
    expect((await call(base, '/status')).json.service).toBe('waltham-transmitter');
    for (const [method, path] of [['POST', '/control/connect'], ['GET', '/screenshot.png'], ['GET', '/log']] as const) {
      const r = await call(base, path, { method, token: 'anything', body: { to: '127.0.0.1:1' } });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.json.code).toBe('control_disabled');
    }
    expect((await call(base, '/status')).json.receivers).toEqual([]);
  });

  it('the receiver reports its transmitters, serves its page and refuses control requests', async () => {
    const weston = cleanup.add(await startWeston({ width: 640, height: 480 }));
    const receiver: Receiver = cleanup.add(await startReceiver(weston.env, ['--status', '127.0.0.1:0'], { timeoutMs: 20_000 }));
    const base = await statusBase(receiver);
    const tx = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-simple-shm']));
    const status = await waitFor(
      'the transmitter with its window on the receiver',
      async () => {
        const s = (await call(base, '/status')).json;
        return s.transmitters[0]?.surfaces.some((f: { app_id: string; fps: number }) => f.app_id === SIMPLE_SHM && f.fps > 0) && s;
      },
      30_000,
    ).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logTails({ receiver: receiver.process, transmitter: tx.process })}`)));
    expect(status).toMatchObject({ api: 1, service: 'waltham-receiver', listen: `${receiver.host}:${receiver.port}` });
    const peer: string = status.transmitters[0].peer;
    expect(peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(status.transmitters[0].surfaces[0]).toMatchObject({ title: 'simple-shm', width: 250, height: 250 });
    await waitFor('bandwidth of the transmitter', async () => (await call(base, '/status')).json.transmitters[0]?.bytes_per_s > 0, 20_000);

    const page = await call(base, '/');
    expect(page.type).toContain('text/html');
    const html = page.bytes.toString('utf8');
    expect(html).toContain(peer);
    expect(html).toContain(SIMPLE_SHM);
    expect(html).toContain('<svg');
    const thumb = await call(base, `/thumbnail.png?peer=${encodeURIComponent(peer)}`);
    expect(thumb.type).toBe('image/png');
    expect(drawn(await decodePng(thumb.bytes))).toBeGreaterThan(1000);
    expect((await call(base, '/thumbnail.png?peer=10.9.9.9:1')).status).toBe(404);
    expect((await call(base, '/log')).status).toBe(403); // no token configured here
    expect((await call(base, '/control/connect', { method: 'POST', body: { to: '127.0.0.1:1' } })).status).toBe(403);
  });

  it('the receiver refuses control requests with 409 when the token is right', async () => {
    const weston = cleanup.add(await startWeston({ width: 320, height: 240 }));
    const receiver = cleanup.add(await startReceiver({ ...weston.env, WALTHAM_STATUS_TOKEN: TOKEN }, ['--status', '127.0.0.1:0']));
    const base = await statusBase(receiver);
    expect((await call(base, '/control/connect', { method: 'POST', body: { to: '127.0.0.1:1' } })).status).toBe(401);
    const r = await call(base, '/control/connect', { method: 'POST', token: TOKEN, body: { to: '127.0.0.1:1' } });
    expect(r.status).toBe(409);
    expect(r.json.code).toBe('not_supported');
    const log = await call(base, '/log?lines=5', { token: TOKEN });
    expect(log.json.lines.length).toBeGreaterThan(0);
    expect(log.json.lines.length).toBeLessThanOrEqual(5);
  });
});

describe('the receiver page in a browser', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  const missing = ['weston', 'weston-simple-shm', 'chromium'].filter((b) => which(b) === null);
  if (missing.length > 0) console.log(`skipping the browser check of the status page: ${missing.join(', ')} not installed (scripts/install-deps.sh installs them)`);

  it.skipIf(missing.length > 0)('shows each transmitter with a live thumbnail and the plot', async () => {
    const weston = cleanup.add(await startWeston({ width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--status', '127.0.0.1:0']));
    const base = await statusBase(receiver);
    cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-simple-shm']));
    // Wait for a few seconds of history, so the plot has a line.
    await waitFor('a plot with samples', async () => {
      const s = (await call(base, '/status')).json;
      const peer = s.transmitters[0]?.peer;
      if (peer === undefined || !(s.transmitters[0].surfaces[0]?.fps > 0)) return false;
      const svg = (await call(base, `/plot.svg?peer=${encodeURIComponent(peer)}`)).bytes.toString('utf8');
      return (/points="([^"]+)"/.exec(svg)?.[1]?.split(' ').length ?? 0) >= 3;
    }, 30_000);
    const dir = mkdtempSync(join(tmpdir(), 'wb-page-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'page.png');
    await run(
      'timeout',
      ['60', 'chromium', '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`, '--window-size=900,700', '--virtual-time-budget=3000', `--screenshot=${file}`, `${base}/`],
      { timeoutMs: 90_000 },
    );
    const page = await decodePng(readFileSync(file));
    // The thumbnail: simple-shm's many saturated colours; the plot: its fps line colour.
    const fps = { r: parseInt(PLOT_FPS_COLOUR.slice(1, 3), 16), g: parseInt(PLOT_FPS_COLOUR.slice(3, 5), 16), b: parseInt(PLOT_FPS_COLOUR.slice(5, 7), 16) };
    let plotPixels = 0;
    const colours = new Set<number>();
    for (let i = 0; i < page.data.length; i += 4) {
      const [r, g, b] = [page.data[i]!, page.data[i + 1]!, page.data[i + 2]!];
      if (Math.abs(r - fps.r) < 24 && Math.abs(g - fps.g) < 24 && Math.abs(b - fps.b) < 24) plotPixels++;
      else if (Math.max(r, g, b) - Math.min(r, g, b) > 96) colours.add((r >> 3) * 1024 + (g >> 3) * 32 + (b >> 3));
    }
    expect(plotPixels, 'pixels of the fps line').toBeGreaterThan(30);
    expect(colours.size, 'distinct saturated colours (the thumbnail of simple-shm)').toBeGreaterThan(200);
  });
});
