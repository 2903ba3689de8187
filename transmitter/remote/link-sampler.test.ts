import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LinkSample } from '../../shared/remote/codec-policy.js';
import { waitFor } from '../../shared/remote/test/fixtures.js';
import { LinkSampler } from './link-sampler.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

async function socketPair(): Promise<{ writer: net.Socket; reader: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const writer = net.connect(port, '127.0.0.1');
  await once(writer, 'connect');
  const [reader] = await accepted;
  cleanups.push(() => {
    writer.destroy();
    reader.destroy();
    server.close();
  });
  return { writer, reader };
}

describe('LinkSampler', () => {
  it('sees the backlog of a socket whose peer stops reading, keeps sampling while it lasts, and counts every byte once drained', async () => {
    const { writer, reader } = await socketPair();
    reader.pause();
    const samples: LinkSample[] = [];
    const sampler = new LinkSampler(writer, (s) => samples.push(s), 10);
    cleanups.push(() => sampler.stop());
    // More than the kernel buffers hold: the rest waits in the stream.
    const chunk = Buffer.alloc(1 << 20, 7);
    const total = 64 * chunk.length;
    for (let i = 0; i < 64; i++) writer.write(chunk);
    sampler.sample();
    await waitFor(() => samples.length >= 4, 'samples on the timer');
    expect(samples.at(-1)!.queuedBytes).toBeGreaterThan(0);
    expect(samples.every((s, i) => i === 0 || s.now >= samples[i - 1]!.now)).toBe(true);
    // The reader drains everything: the samples add up to what was written, and stop.
    let received = 0;
    reader.on('data', (d: Buffer) => (received += d.length));
    reader.resume();
    await waitFor(() => received === total && samples.at(-1)!.queuedBytes === 0, 'the backlog drained', 20_000);
    const acked = samples.reduce((n, s) => n + s.ackedBytes, 0);
    expect(acked).toBe(total);
    const count = samples.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(samples.length).toBe(count);
  });

  it('sees the backlog the kernel holds unacknowledged, which the stream does not queue', async () => {
    const { writer, reader } = await socketPair();
    reader.pause();
    const samples: LinkSample[] = [];
    const sampler = new LinkSampler(writer, (s) => samples.push(s), 10);
    cleanups.push(() => sampler.stop());
    // Fills the reader's window: what the kernel took beyond it waits unacknowledged in the writer's socket.
    const total = 8 << 20;
    writer.write(Buffer.alloc(total, 3));
    await new Promise((r) => setTimeout(r, 20));
    sampler.sample();
    const s = samples.at(-1)!;
    expect(s.queuedBytes).toBeGreaterThan(writer.writableLength);
    let received = 0;
    reader.on('data', (d: Buffer) => (received += d.length));
    reader.resume();
    await waitFor(() => received === total && samples.at(-1)!.queuedBytes === 0, 'the backlog drained', 20_000);
    expect(samples.reduce((n, x) => n + x.ackedBytes, 0)).toBe(total);
  });

  it('takes no sample on its timer while flushes sample often enough, and does once they stop with bytes still queued', async () => {
    const { writer, reader } = await socketPair();
    reader.pause();
    writer.write(Buffer.alloc(8 << 20, 5));
    await waitFor(() => writer.writableLength > 0 || writer.bytesWritten > 0, 'the write handed on');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    cleanups.push(() => vi.useRealTimers());
    let samples = 0;
    let queued = 0;
    const sampler = new LinkSampler(writer, (s) => ((queued = s.queuedBytes), samples++), 50);
    cleanups.push(() => sampler.stop());
    // A flush every 20 ms for a second: only those samples.
    for (let i = 0; i < 50; i++) {
      sampler.sample();
      vi.advanceTimersByTime(20);
    }
    expect(samples).toBe(1 + 50);
    expect(queued).toBeGreaterThan(0);
    // The flushes stop with the backlog still there: the timer samples, 50 ms after the last one.
    vi.advanceTimersByTime(29);
    expect(samples).toBe(51);
    vi.advanceTimersByTime(1);
    expect(samples).toBe(52);
    vi.advanceTimersByTime(100);
    expect(samples).toBe(54);
  });
});
