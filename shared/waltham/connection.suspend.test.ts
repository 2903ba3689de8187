/**
 * suspend()/resume(): a handler that finishes later holds back the peer's
 * following messages; they are dispatched afterwards, in order, however the
 * bytes were chunked.
 */
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WalthamConnection } from './connection.js';
import type { WthDisplayResource } from '../generated/waltham/waltham.js';
import { concat, msg, prng, silentLogger, waitFor } from './test/helpers.js';

/** A stream whose input the test pushes, chunk by chunk; output is dropped. */
function inputStream(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/** client_version(1..n), the smallest message: the order is easy to check. */
function messages(n: number): Uint8Array {
  return concat(...Array.from({ length: n }, (_, i) => msg('wth_display', 'client_version', 1, [i + 1])));
}

function split(random: () => number, data: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; ) {
    const n = 1 + Math.floor(random() * (random() < 0.5 ? 8 : 64));
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

/**
 * A server-side connection whose handler suspends on every value in
 * `holdOn` and resumes a few event-loop turns later. Returns the dispatch
 * order and whether anything was dispatched while suspended.
 */
function holdingConnection(holdOn: ReadonlySet<number>) {
  const stream = inputStream();
  const conn = new WalthamConnection(stream, 'server', { logger: silentLogger, label: 'test' });
  const seen: number[] = [];
  let whileSuspended = 0;
  let held = 0;
  (conn.display as WthDisplayResource).listen({
    clientVersion: (v: number) => {
      if (held > 0) whileSuspended++;
      seen.push(v);
      if (!holdOn.has(v)) return;
      held++;
      conn.suspend();
      expect(conn.isSuspended).toBe(true);
      setTimeout(() => {
        held--;
        conn.resume();
      }, 1 + (v % 3));
    },
    sync: () => {},
    getRegistry: () => {},
  });
  return { stream, conn, seen, whileSuspended: () => whileSuspended };
}

describe('WalthamConnection suspend/resume', () => {
  it('dispatches nothing after a suspending message until resume, then the rest in order, for any chunking', async () => {
    const n = 120;
    const bytes = messages(n);
    const random = prng(7);
    for (let round = 0; round < 20; round++) {
      const holdOn = new Set(Array.from({ length: 10 }, () => 1 + Math.floor(random() * n)));
      const t = holdingConnection(holdOn);
      // Chunks arrive while messages are held back: some before, some during a suspension.
      for (const chunk of split(random, bytes)) {
        t.stream.push(Buffer.from(chunk));
        if (random() < 0.2) await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => t.seen.length === n, 5000);
      expect(t.seen).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(t.whileSuspended()).toBe(0);
      expect(t.conn.isOpen).toBe(true);
      t.conn.destroy();
    }
  });

  it('resumes a suspension ended inside the same handler without losing the stream', async () => {
    const t = holdingConnection(new Set());
    (t.conn.display as WthDisplayResource).listen({
      clientVersion: (v: number) => {
        t.seen.push(v);
        t.conn.suspend();
        t.conn.resume();
      },
      sync: () => {},
      getRegistry: () => {},
    });
    const bytes = messages(10);
    t.stream.push(Buffer.from(bytes.subarray(0, 30)));
    await new Promise((r) => setImmediate(r));
    t.stream.push(Buffer.from(bytes.subarray(30)));
    await waitFor(() => t.seen.length === 10, 2000);
    expect(t.seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(t.conn.isSuspended).toBe(false);
    t.conn.destroy();
  });

  it('handles the end of the stream only after the held-back messages', async () => {
    const t = holdingConnection(new Set([2]));
    t.stream.push(Buffer.from(messages(5)));
    t.stream.push(null);
    const reason = await t.conn.closed;
    expect(reason).toBeUndefined();
    expect(t.seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps an unfinished message across a suspension', async () => {
    const t = holdingConnection(new Set([1]));
    const bytes = messages(3);
    // The first message, and half of the second: the half must survive the suspension.
    t.stream.push(Buffer.from(bytes.subarray(0, 18)));
    await new Promise((r) => setTimeout(r, 10));
    t.stream.push(Buffer.from(bytes.subarray(18)));
    await waitFor(() => t.seen.length === 3, 2000);
    expect(t.seen).toEqual([1, 2, 3]);
    t.conn.destroy();
  });

  it('closes when the peer ends its side, also when a handler had suspended input before an error', async () => {
    const stream = inputStream();
    // A grace longer than any test: only the peer's end can close the stream in time.
    const conn = new WalthamConnection(stream, 'server', { logger: silentLogger, label: 'test', closeTimeoutMs: 3_600_000 });
    (conn.display as WthDisplayResource).listen({
      clientVersion: () => {
        conn.suspend();
        // A handler that finishes later finds the peer at fault (a lossy tile that does not decode).
        setTimeout(() => conn.postError(conn.display, 1, 'bad tile'), 5);
      },
    });
    stream.push(messages(1));
    await waitFor(() => conn.isSuspended);
    await new Promise((r) => setTimeout(r, 20));
    stream.push(null);
    const reason = await conn.closed;
    expect(reason?.message).toMatch(/bad tile/);
  });
});
