/**
 * ivi-id ownership between transmitters, through the commands, on weston
 * with ivi-shell: the receiver's weston.ini gives ivi-id 705 to the identity
 * cluster-tx ([transmitter-identity]). Another transmitter (token rear-tx)
 * claims 705 first: that surface alone is refused, its link stays up and its
 * other surface (706) is shown; then cluster-tx claims 705 and gets it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { skipUnless, skipUnlessIvi, sleep, spawnProcess, startWeston, type ManagedProcess } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const here = dirname(fileURLToPath(import.meta.url));

describe.skipIf(skipUnless('weston', 'weston-debug', 'wayland-scanner', 'gcc', 'pkg-config') || skipUnlessIvi())('ivi-id ownership', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let dir = '';
  let iviSolid = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wb-ivi-owner-'));
    const xml = join(here, '..', 'protocol', 'wayland', 'ivi-application.xml');
    execFileSync('wayland-scanner', ['client-header', xml, join(dir, 'ivi-application-client-protocol.h')]);
    execFileSync('wayland-scanner', ['private-code', xml, join(dir, 'ivi-application-protocol.c')]);
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'wayland-client'], { encoding: 'utf8' }).trim().split(/\s+/).filter((f) => f !== '');
    iviSolid = join(dir, 'ivi-solid');
    execFileSync('gcc', ['-O1', `-I${dir}`, '-o', iviSolid, join(here, 'clients', 'ivi-solid.c'), join(dir, 'ivi-application-protocol.c'), ...flags]);
    writeFileSync(join(dir, 'tokens'), 'cluster-tx 0a1b2c3d4e5f60718293a4b5c6d7e8f9\nrear-tx f9e8d7c6b5a4938271605f4e3d2c1b0a\n');
    writeFileSync(join(dir, 'cluster-token'), 'cluster-tx 0a1b2c3d4e5f60718293a4b5c6d7e8f9\n');
    writeFileSync(join(dir, 'rear-token'), 'rear-tx f9e8d7c6b5a4938271605f4e3d2c1b0a\n');
    writeFileSync(join(dir, 'receiver.ini'), '[receiver]\nshell=ivi\ntoken-file=tokens\n\n[transmitter-identity]\nname=cluster-tx\nivi-id=705\n');
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a claim of an owned ivi-id for that surface alone and gives it to its owner', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', shell: 'ivi', width: 1024, height: 768 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--config', join(dir, 'receiver.ini')]));
    const to = [`${receiver.host}:${receiver.port}`];
    const rear = cleanup.add(startTransmitter(to, [], ['--token-file', join(dir, 'rear-token')]));
    const cluster = cleanup.add(startTransmitter(to, [], ['--token-file', join(dir, 'cluster-token')]));
    await Promise.all([rear.ready(), cluster.ready()]);
    const logs = (): string => logTails({ receiver: receiver.process, rear: rear.process, cluster: cluster.process });
    const app = (env: Readonly<Record<string, string>>, id: number, colour: string): ManagedProcess =>
      cleanup.add(spawnProcess(iviSolid, [String(id), '320', '240', colour], { env, name: `ivi-solid ${id}` }));
    const shown = async (id: number): Promise<void> => {
      await weston.waitForView((v) => v.iviId === id && v.visible && v.rect.width >= 100, 20_000, `ivi-surface ${id} on the receiver`).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    };

    // One at a time: hmi-controller drops a surface that arrives right after another.
    await app(rear.clientEnv, 705, 'ff0000').waitForLine(/committed/, 10_000);
    await receiver.process.waitForLine(/ivi-id 705 belongs to cluster-tx; refused the claim by rear-tx/, 10_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await app(rear.clientEnv, 706, '00ff00').waitForLine(/committed/, 10_000);
    await shown(706);
    expect((await weston.sceneGraph()).some((v) => v.iviId === 705), `705 is not shown for rear-tx\n${logs()}`).toBe(false);

    await sleep(400);
    await app(cluster.clientEnv, 705, '0000ff').waitForLine(/committed/, 10_000);
    await shown(705);
    const ids = (await weston.sceneGraph()).map((v) => v.iviId).filter((id): id is number => id === 705 || id === 706);
    expect(ids.sort(), logs()).toEqual([705, 706]);
    // rear-tx's link never dropped: one connection each, no loss.
    expect(rear.process.output(), logs()).not.toMatch(/connection lost|reconnecting/);
    expect(receiver.process.output().match(/transmitter rear-tx@[\d.:]+ connected/g)?.length, logs()).toBe(1);
  });
});
