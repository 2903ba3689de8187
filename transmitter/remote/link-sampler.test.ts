import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CodecPolicy, type LinkSample } from '../../shared/remote/codec-policy.js';
import { waitFor } from '../../shared/remote/test/fixtures.js';
import { FRESH_QUEUE_BYTES, LinkSampler } from './link-sampler.js';

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

  /** A sampler over scripted kernel counters, on fake timers: `flush(written, ackedNow)` moves them and samples. */
  async function scripted(): Promise<{ sampler: LinkSampler; samples: LinkSample[]; flush: (written: number, acked: number) => void; counters: { unacked: number; acked: number } }> {
    const { writer } = await socketPair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    cleanups.push(() => vi.useRealTimers());
    const counters = { unacked: 0, acked: 0 };
    const samples: LinkSample[] = [];
    const sampler = new LinkSampler(writer, (x) => samples.push(x), 50, { unacked: () => counters.unacked, acked: () => counters.acked });
    cleanups.push(() => sampler.stop());
    const flush = (written: number, acked: number): void => {
      counters.acked += acked;
      counters.unacked += written - acked;
      sampler.sample();
    };
    return { sampler, samples, flush, counters };
  }

  it('keeps no timer for a queue that is only the last flush\'s few bytes (loopback: each frame acknowledged by the next reply)', async () => {
    const { samples, flush } = await scripted();
    const frame = 60_000;
    flush(frame, 0);
    for (let i = 0; i < 50; i++) {
      vi.advanceTimersByTime(20);
      flush(frame, frame); // the previous frame went through, this one waits for the reply
    }
    expect(samples).toHaveLength(1 + 51);
    expect(samples.at(-1)!.queuedBytes).toBe(frame);
    // The frames stop with the last one unacknowledged: nothing wakes for it.
    vi.advanceTimersByTime(500);
    expect(samples).toHaveLength(52);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('samples every interval while a backlog outlasts the flushes, and after they stop until it drains', async () => {
    const { samples, flush, counters } = await scripted();
    // Small frames, of which the link carries half: the queue grows, and stays under FRESH_QUEUE_BYTES.
    const frame = 4_000;
    for (let i = 0; i < 50; i++) {
      flush(frame, frame / 2);
      vi.advanceTimersByTime(20);
    }
    // 50 flushes in a second, and the timer's samples between them.
    expect(samples.length).toBeGreaterThanOrEqual(1 + 50 + 19);
    const count = samples.length;
    vi.advanceTimersByTime(100);
    expect(samples).toHaveLength(count + 2);
    expect(samples.at(-1)!.queuedBytes).toBe(counters.unacked);
    // Drained: one more sample sees it, then the timer stops.
    counters.acked += counters.unacked;
    counters.unacked = 0;
    vi.advanceTimersByTime(50);
    expect(samples).toHaveLength(count + 3);
    expect(samples.at(-1)!.queuedBytes).toBe(0);
    vi.advanceTimersByTime(500);
    expect(samples).toHaveLength(count + 3);
  });

  it('samples a large queue on its timer even when the flush before had gone through', async () => {
    const { samples, flush, counters } = await scripted();
    const frame = FRESH_QUEUE_BYTES + 1;
    flush(frame, 0);
    vi.advanceTimersByTime(20);
    flush(frame, frame);
    const count = samples.length;
    vi.advanceTimersByTime(50);
    expect(samples).toHaveLength(count + 1);
    expect(samples.at(-1)!.queuedBytes).toBe(counters.unacked);
  });

  it('feeding the codec policy: frames over loopback, each answered by the reader, leave the link unmeasured and auto on lz4', async () => {
    // As a transmitter and its receiver: a frame, then the reply that lets the next one go. The
    // kernel acknowledges a frame's bytes with the reply, so every sample right after a flush
    // finds that flush's bytes queued.
    const { writer, reader } = await socketPair();
    writer.setNoDelay(true);
    reader.setNoDelay(true);
    const policy = new CodecPolicy();
    const samples: LinkSample[] = [];
    const sampler = new LinkSampler(writer, (s) => {
      samples.push(s);
      policy.linkSample(s);
    });
    cleanups.push(() => sampler.stop());
    const frame = Buffer.alloc(62_404, 9);
    let received = 0;
    reader.on('data', (d: Buffer) => {
      received += d.length;
      if (received % frame.length === 0) setTimeout(() => reader.write(Buffer.alloc(80)), 5);
    });
    for (let i = 0; i < 60; i++) {
      const reply = once(writer, 'data');
      writer.write(frame);
      const now = performance.now();
      policy.frameEncoded({ surface: 1, now, pixels: 1920 * 1080, changedPixels: 20_736, rawBytes: 82_944, encodedBytes: frame.length, family: 'lz4', encodeMs: 0.1 });
      sampler.sample();
      if (policy.choose(1, now).kind !== 'lz4') throw new Error(`frame ${i}: ${policy.choose(1, now).kind} chosen`);
      await reply;
    }
    // The samples did see the flushes' own bytes queued (else this would test nothing).
    expect(samples.filter((s) => s.queuedBytes > 0).length).toBeGreaterThan(30);
    expect(policy.linkCapacity).toBeNull();
    expect(policy.linkIsBottleneck(performance.now())).toBe(false);
  });
});

