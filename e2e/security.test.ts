/**
 * The commands with TLS and a token, on a headless weston: weston-simple-shm
 * on the transmitter shows on the receiver through mutual TLS and the token
 * (the receiver's settings from its weston.ini, the transmitter's from the
 * command line); a transmitter with a wrong token is refused with a line on
 * both sides and no window appears.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { skipUnless, sleep, type View } from './harness/index.js';
import { startWeston } from './harness/weston.js';
import { Cleanup, isWindowView, logTails, waitForFrame } from './scenario.js';
import { makeTestCerts, opensslUnavailable, type TestCerts } from '../shared/security/test/certs.js';

const SIMPLE_SHM = 'org.freedesktop.weston.simple-shm';

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm') || opensslUnavailable() !== null)('TLS and token between the commands', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let certs: TestCerts;
  let dir: string;
  beforeAll(() => {
    certs = makeTestCerts();
    dir = mkdtempSync(join(tmpdir(), 'wb-sec-'));
    writeFileSync(join(dir, 'rx-tokens'), '# transmitters\ncluster-tx 5f0e1d2c3b4a59687766554433221100\n');
    writeFileSync(join(dir, 'tx-token'), 'cluster-tx 5f0e1d2c3b4a59687766554433221100\n');
    writeFileSync(join(dir, 'wrong-token'), 'cluster-tx 00000000000000000000000000000000\n');
    // The receiver's settings as a fleet would write them: paths relative to the file.
    writeFileSync(
      join(dir, 'receiver.ini'),
      `[receiver]\ntls-cert=${certs.path('rx.pem')}\ntls-key=${certs.path('rx.key')}\ntls-ca=${certs.path('ca.pem')}\ntoken-file=rx-tokens\n`,
    );
  });
  afterAll(() => {
    certs?.remove();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const txArgs = (token: string): string[] => ['--tls-cert', certs.path('tx.pem'), '--tls-key', certs.path('tx.key'), '--tls-ca', certs.path('ca.pem'), '--token-file', join(dir, token)];
  const isApp = (v: View): boolean => v.visible && v.role === 'xdg_toplevel' && v.appId === SIMPLE_SHM;

  it('shows weston-simple-shm through mutual TLS and the token', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--config', join(dir, 'receiver.ini')]));
    const transmitter = cleanup.add(startTransmitter([`127.0.0.1:${receiver.port}`], ['weston-simple-shm'], txArgs('tx-token')));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    const view = await weston.waitForView(isApp, 20_000, 'weston-simple-shm through TLS').catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await waitForFrame(weston, view.rect);
    expect(receiver.process.output()).toMatch(/transmitters must prove: mutual TLS \+ token/);
    expect(receiver.process.output()).toMatch(/transmitter cluster-tx@127\.0\.0\.1:\d+ connected/);
    expect(transmitter.process.output()).toMatch(/links to receivers: mutual TLS \+ token/);
  });

  it('refuses a transmitter with the wrong token: a line on both sides, no window', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--config', join(dir, 'receiver.ini')]));
    const transmitter = cleanup.add(startTransmitter([`127.0.0.1:${receiver.port}`], ['weston-simple-shm'], txArgs('wrong-token')));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    await receiver.process.waitForLine(/refused: wrong token/, 20_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await transmitter.process.waitForLine(/refused: the receiver refused the token: wrong token/, 10_000);
    await sleep(500); // time for a window, were one to come
    expect((await weston.sceneGraph()).filter(isWindowView)).toEqual([]);
    expect(receiver.process.output()).not.toMatch(/connected/);
    expect(transmitter.process.running, `the transmitter keeps running (and retrying)\n${logs()}`).toBe(true);
  });
});
