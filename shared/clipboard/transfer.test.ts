import { describe, expect, it } from 'vitest';
import { Socket } from 'node:net';
import { pipe } from '../native.js';
import { Fd } from '../fd.js';
import { sleep, waitFor } from '../test/helpers.js';
import { CHUNK_BYTES, FdReceiver, FdSender, TransferIds, WINDOW_BYTES, type TransferWire } from './transfer.js';

function recordingLogger(lines: string[]) {
  const log = (_obj: object, msg: string): void => void lines.push(msg);
  return { error: log, warn: log, info: log, debug: log };
}

/** A wire that records what a transfer sends. */
function wire(): TransferWire & { chunks: Uint8Array[]; done_: number; cancelled: number; acked: number } {
  const w = {
    chunks: [] as Uint8Array[],
    done_: 0,
    cancelled: 0,
    acked: 0,
    data: (b: Uint8Array) => void w.chunks.push(Uint8Array.from(b)),
    done: () => void w.done_++,
    ack: (n: number) => void (w.acked += n),
    cancel: () => void w.cancelled++,
  };
  return w;
}

/** Everything until the end of the pipe (read without blocking the event loop). */
function readAll(fd: number): Promise<Buffer> {
  const socket = new Socket({ fd, readable: true, writable: false });
  const parts: Buffer[] = [];
  socket.on('data', (b: Buffer) => parts.push(b));
  return new Promise((resolve, reject) => {
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(parts));
    });
    socket.on('error', reject);
  });
}

const sent = (w: { chunks: Uint8Array[] }): number => w.chunks.reduce((n, c) => n + c.length, 0);

describe('FdSender', () => {
  it('stops reading at the window until the peer acknowledges, and sends everything in chunks', async () => {
    const [r, wfd] = pipe();
    const writer = new Socket({ fd: wfd, readable: false, writable: true });
    const data = Buffer.alloc(3 * WINDOW_BYTES, 0);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    writer.end(data);
    const w = wire();
    const lines: string[] = [];
    let ended = 0;
    const sender = new FdSender(new Fd(r), w, { logger: recordingLogger(lines), label: 't', limit: 1 << 30, ended: () => void ended++ });
    await waitFor(() => sent(w) >= WINDOW_BYTES, 5000, 'a window of data');
    await sleep(100); // nothing more comes while nothing is acknowledged
    expect(sent(w)).toBeLessThan(WINDOW_BYTES + 65536);
    expect(w.chunks.every((c) => c.length <= CHUNK_BYTES)).toBe(true);
    for (let i = 0; i < 200 && w.done_ === 0; i++) {
      sender.ack(sent(w) - w.acked); // acknowledge everything sent so far
      w.acked = sent(w);
      await sleep(20);
    }
    await waitFor(() => w.done_ === 1, 5000, 'done');
    expect(Buffer.concat(w.chunks).equals(data)).toBe(true);
    expect(ended).toBe(1);
    expect(w.cancelled).toBe(0);
  });

  it('cancels past the limit with a log line', async () => {
    const [r, wfd] = pipe();
    const writer = new Socket({ fd: wfd, readable: false, writable: true });
    writer.on('error', () => {});
    writer.end(Buffer.alloc(200_000, 1));
    const w = wire();
    const lines: string[] = [];
    const sender = new FdSender(new Fd(r), w, { logger: recordingLogger(lines), label: 'big', limit: 100_000 });
    const acker = setInterval(() => sender.ack(1 << 20), 10);
    await waitFor(() => w.cancelled === 1, 5000, 'cancel');
    clearInterval(acker);
    expect(w.done_).toBe(0);
    expect(lines.some((l) => l.includes('over the clipboard limit of 100000 bytes'))).toBe(true);
  });
});

describe('FdReceiver', () => {
  it('writes chunks into the pipe, acknowledges them, and closes it on done', async () => {
    const [r, wfd] = pipe();
    const w = wire();
    const rx = new FdReceiver(new Fd(wfd), w, { logger: recordingLogger([]), label: 't', limit: 1000 });
    rx.data(new TextEncoder().encode('hello '));
    rx.data(new TextEncoder().encode('world'));
    await waitFor(() => w.acked === 11, 2000, 'acks of what was written');
    rx.done();
    expect((await readAll(r)).toString()).toBe('hello world');
  });

  it('cancels past the limit, and the application sees the end', async () => {
    const [r, wfd] = pipe();
    const w = wire();
    const lines: string[] = [];
    const rx = new FdReceiver(new Fd(wfd), w, { logger: recordingLogger(lines), label: 'rx', limit: 10 });
    rx.data(new Uint8Array(8));
    rx.data(new Uint8Array(8));
    expect(w.cancelled).toBe(1);
    expect(lines.some((l) => l.includes('over the clipboard limit of 10 bytes'))).toBe(true);
    expect((await readAll(r)).length).toBe(8);
  });
});

describe('TransferIds', () => {
  it('keeps the two sides apart by the high bit', () => {
    const tx = new TransferIds(false);
    const rx = new TransferIds(true);
    expect(tx.take() & 0x80000000).toBe(0);
    expect(rx.take() >>> 31).toBe(1);
    expect(tx.take()).not.toBe(tx.take());
  });
});
