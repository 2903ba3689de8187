import { afterEach, describe, expect, it } from 'vitest';
import { WthpClipboardProxy } from '../shared/generated/waltham/waltham.js';
import { connectWaltham } from '../shared/waltham/index.js';
import { captureLogger } from '../shared/test/helpers.js';
import { ReceiverServer } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A receiver without a local compositor, and a transmitter bound to its wthp_clipboard. */
async function setup() {
  const log = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: log.logger });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const g = (await client.globals()).find((x) => x.interface === 'wthp_clipboard');
  expect(g?.version).toBe(1);
  const clipboard = client.bind(WthpClipboardProxy, g!.name, 1);
  const events: string[] = [];
  clipboard.listen({
    cancel: (transfer) => events.push(`cancel ${transfer}`),
    data: (transfer) => events.push(`data ${transfer}`),
    selection: (kind, id) => events.push(`selection ${kind} ${id}`),
  });
  await client.roundtrip();
  return { receiver, client, clipboard, events, log };
}

describe('wthp_clipboard on the receiver', () => {
  it('cancels a read of a selection it does not have, and keeps the transmitter', async () => {
    const { receiver, client, clipboard, events } = await setup();
    clipboard.receive(7, 0, 12345, 'text/plain');
    await client.roundtrip();
    expect(events).toEqual(['cancel 7']);
    expect(receiver.peers).toHaveLength(1);
  });

  it('ignores an unknown selection kind with a log line, and messages about unknown transfers', async () => {
    const { receiver, client, clipboard, events, log } = await setup();
    clipboard.offer(9, 'text/plain');
    clipboard.setSelection(9, 1);
    clipboard.data(0x80000005, new Uint8Array([1, 2, 3]));
    clipboard.done(0x80000005);
    clipboard.ack(3, 100);
    clipboard.cancel(4);
    await client.roundtrip();
    expect(log.lines.some((l) => l.level === 'warn' && l.msg.includes('unknown selection kind 9'))).toBe(true);
    expect(events).toEqual([]);
    expect(receiver.peers).toHaveLength(1);
  });
});
