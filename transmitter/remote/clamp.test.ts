/**
 * A malicious receiver (one that configures 100000x100000, a 5,000-character
 * output make) cannot pass such values to applications: the link clamps them.
 * The receiver is the project's own, over real TCP, made to send them.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type SceneSurface } from '../../shared/scene/scene.js';
import { DEFAULT_OUTPUT, type OutputInfo } from '../../shared/scene/output.js';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink } from './link.js';
import { captureLogger, produce, solid, TestOwner, toplevelRole, waitFor } from '../../shared/remote/test/fixtures.js';
import { configureSize, MAX_CONFIGURE_SIZE, MAX_OUTPUT_TEXT, outputInfo, popupRect } from './clamp.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function pair() {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const producer = new Scene();
  const owner = new TestOwner('app');
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: captureLogger().logger, backoff: { initialMs: 50, maxMs: 400 } });
  const outputs: OutputInfo[] = [];
  link.on('output', (info) => outputs.push(info));
  link.start();
  cleanups.push(() => link.stop());
  await once(link, 'connected');
  return { receiver, producer, owner, link, outputs };
}

describe('values from a receiver are clamped before they reach an application', () => {
  it('a 100000x100000 configure reaches the application as 8192x8192, a huge popup likewise', async () => {
    const { receiver, producer, owner } = await pair();
    const main = produce(producer, owner, toplevelRole({ title: 'main' }), solid(20, 20, 0xff000000));
    produce(producer, owner, { kind: 'popup', parent: main, rect: { x: 1, y: 2, width: 3, height: 4 }, grab: false }, solid(3, 4, 0xff000000));
    const rmain = await waitFor(() => [...receiver.scene.surfaces].find((s: SceneSurface) => s.role?.kind === 'toplevel' && s.content !== null), 'main');
    const rpopup = await waitFor(() => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'popup'), 'the popup');
    rmain.owner.feedback.configure(rmain, 100000, 100000, []);
    rmain.owner.feedback.popupConfigure(rpopup, { x: -2e9, y: 5, width: 1e9, height: -7 });
    await waitFor(() => owner.of('configure').length > 0 && owner.of('popupConfigure').length > 0, 'the configures');
    expect(owner.of('configure')[0]!.args.slice(1, 3)).toEqual([MAX_CONFIGURE_SIZE, MAX_CONFIGURE_SIZE]);
    expect(owner.of('popupConfigure')[0]!.args[1]).toEqual({ x: -MAX_CONFIGURE_SIZE, y: 5, width: MAX_CONFIGURE_SIZE, height: 1 });
  });

  it('a 5,000-character output make is cut, control characters dropped, numbers kept in range', async () => {
    const { receiver, outputs } = await pair();
    await waitFor(() => outputs.length > 0, 'the first output description');
    receiver.setOutput({ ...DEFAULT_OUTPUT, make: 'M'.repeat(5000), model: 'a\u0001b\nc', width: 2_000_000_000, scale: 1000, transform: 99 });
    const info = await waitFor(() => outputs.find((o) => o.make.startsWith('MM')), 'the hostile output description');
    expect(info.make).toBe('M'.repeat(MAX_OUTPUT_TEXT));
    expect(info.model).toBe('abc');
    expect(info.width).toBeLessThanOrEqual(16384);
    expect(info.scale).toBe(16);
    expect(info.transform).toBe(7);
  });

  it('clamps non-finite and negative values', () => {
    expect(configureSize(-5, Number.NaN)).toEqual({ width: 0, height: 0 });
    expect(popupRect({ x: 0.5, y: Infinity, width: 0, height: 10 })).toEqual({ x: 0, y: -MAX_CONFIGURE_SIZE, width: 1, height: 10 });
    expect(outputInfo({ ...DEFAULT_OUTPUT, refresh: -1, physicalWidth: 1e12 })).toMatchObject({ refresh: 0, physicalWidth: 100_000 });
  });
});
