/**
 * A connection whose socket the poller reads (readNatively, as while a steady
 * path's native side reads it) behaves as one the stream reads: messages in
 * order, a handler's suspend() holds the following ones back (the poller
 * stops watching the socket for input meanwhile, nothing is dispatched inside
 * the handler), and the peer's end still closes it.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { WthDisplayResource } from '../generated/waltham/waltham.js';
import { WalthamServer, connectWaltham } from './tcp.js';
import type { WalthamPeer } from './display.js';
import { silentLogger, waitFor } from './test/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('WalthamConnection read through the poller', () => {
  it('dispatches in order, holds back what follows a suspending message until resume, and closes at the peer’s end', async () => {
    const server = new WalthamServer({ logger: silentLogger });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    const peerP = once(server, 'peer') as Promise<[WalthamPeer]>;
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.destroy());
    const [peer] = await peerP;
    await client.roundtrip();
    expect(peer.readNatively()).toBe(true);
    expect(peer.readsNatively).toBe(true);
    const seen: number[] = [];
    let held = 0;
    let whileHeld = 0;
    (peer.display as WthDisplayResource).listen({
      clientVersion: (v: number) => {
        if (held > 0) whileHeld++;
        seen.push(v);
        if (v % 4999 !== 0) return;
        held++;
        peer.suspend();
        setTimeout(() => {
          held--;
          peer.resume();
        }, 3);
      },
      sync: (cb) => {
        cb.sendDone(0);
        peer.destroyObject(cb);
      },
      getRegistry: () => {},
    });
    // More than one read of the poller takes (256 KiB): bytes wait in the socket while a handler suspends.
    const n = 60_000;
    // Everything is in the socket before the first read (input paused meanwhile).
    peer.suspend();
    for (let v = 1; v <= n; v++) client.display.clientVersion(v);
    await new Promise((r) => setTimeout(r, 100));
    peer.resume();
    await waitFor(() => seen.length === n, 10_000);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(whileHeld).toBe(0);
    // Answers still flow both ways through the poller, and the bytes read count as a sign of life.
    await client.roundtrip();
    expect(peer.polledBytes).toBeGreaterThan(0);
    const closed = peer.closed;
    client.destroy();
    await closed;
    expect(peer.isOpen).toBe(false);
  });
});
