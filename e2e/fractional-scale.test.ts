/**
 * wp_fractional_scale_manager_v1 through the bridge: the transmitter offers
 * it only while a display that shows its surfaces has it, and passes on the
 * preferred scale that display's compositor gives the window.
 * - KWin (kwin-wayland, virtual backend at scale 1.5) has it: a client on
 *   the transmitter (`clients/fractional-scale.c`) is told 180 (1.5 x 120);
 * - weston 10 has not: the same client finds no such global.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { buildClient } from './harness/clients.js';
import { skipUnless, spawnProcess, startWeston } from './harness/index.js';
import { kwinUnavailable, startKWin } from './harness/kwin.js';
import { Cleanup, logTails } from './scenario.js';

const tools = ['wayland-scanner', 'gcc', 'pkg-config'];

function skipUnlessKWin(): boolean {
  const why = kwinUnavailable();
  if (why !== null) {
    console.warn(`skipping: ${why}`);
    return true;
  }
  return skipUnless(...tools);
}

describe('wp_fractional_scale_manager_v1 where the display has it', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let dir = '';
  let client = '';
  beforeAll(() => {
    if (skipUnless(...tools)) return;
    dir = mkdtempSync(join(tmpdir(), 'wb-fractional-'));
    client = buildClient(dir, 'fractional-scale', ['xdg-shell.xml', 'fractional-scale-v1.xml']);
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skipUnlessKWin())('on a KWin receiver at scale 1.5, the application is told its preferred scale: 180/120', async () => {
    const kwin = cleanup.add(await startKWin({ width: 1200, height: 900, scale: 1.5 }));
    const receiver = cleanup.add(await startReceiver(kwin.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    await transmitter.process.waitForLine(/wp_fractional_scale_manager_v1 offered/, 20_000);
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    const app = cleanup.add(spawnProcess(client, [], { env: transmitter.clientEnv, name: 'fractional-scale' }));
    const line = await app.waitForLine(/preferred_scale \d+|no wp_fractional_scale_manager_v1/, 20_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    expect(line, logs()).toBe('preferred_scale 180');
  });

  it.skipIf(skipUnless('weston', ...tools))('through a weston 10 receiver (no fractional scale), the transmitter does not offer it', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    await transmitter.process.waitForLine(/: connected/, 20_000);
    const app = cleanup.add(spawnProcess(client, [], { env: transmitter.clientEnv, name: 'fractional-scale' }));
    expect(await app.waitForLine(/preferred_scale \d+|no wp_fractional_scale_manager_v1/, 20_000)).toBe('no wp_fractional_scale_manager_v1');
  });
});
