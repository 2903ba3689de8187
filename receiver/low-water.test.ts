/**
 * A large message that trickles in over a slow link (here a relay that passes 1 KiB every
 * millisecond) wakes the receiver a few times, not once for each piece: while a message is
 * unfinished its socket reports itself readable only once the rest can be there (SO_RCVLOWAT,
 * WalthamConnection's low-water mark). The message still arrives whole and in order.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpRemoteShellProxy,
  type WthpSurfaceProxy,
} from '../shared/generated/waltham/waltham.js';
import { connectWaltham, type WalthamClient } from '../shared/waltham/index.js';
import { CODEC_RAW, FORMAT_XRGB8888 } from '../shared/remote/tiles.js';
import { captureLogger } from '../shared/remote/test/fixtures.js';
import { globalBinder, waitFor } from '../shared/waltham/test/helpers.js';
import { ReceiverServer } from './server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A relay to `port`, in a process of its own (so that each piece wakes the receiver as a slow
 * link's segments do), that passes what the client sends in pieces of `piece` bytes, one a
 * millisecond. `pieces()`: how many it passed so far.
 */
async function slowRelay(port: number, piece: number): Promise<{ port: number; pieces: () => number }> {
  const script = `
    const net = require('node:net');
    let pieces = 0;
    const relay = net.createServer((down) => {
      const up = net.connect(${port}, '127.0.0.1');
      up.setNoDelay(true);
      const queue = [];
      let pumping = false;
      const pump = async () => {
        if (pumping) return;
        pumping = true;
        while (queue.length > 0 && !up.destroyed) {
          const head = queue[0];
          up.write(head.subarray(0, ${piece}));
          process.stdout.write('p\\n');
          if (head.length > ${piece}) queue[0] = head.subarray(${piece});
          else queue.shift();
          await new Promise((r) => setTimeout(r, 1));
        }
        pumping = false;
      };
      down.on('data', (d) => { queue.push(d); pump(); });
      up.on('data', (d) => down.write(d));
      const end = () => { down.destroy(); up.destroy(); };
      for (const s of [down, up]) { s.on('close', end); s.on('error', end); }
    });
    relay.listen(0, '127.0.0.1', () => process.stdout.write('port ' + relay.address().port + '\\n'));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill());
  let pieces = 0;
  let out = '';
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        if (l === 'p') pieces++;
        else if (l.startsWith('port ')) resolve(Number(l.slice(5)));
      }
    });
    child.once('exit', () => reject(new Error('the relay exited')));
  });
  return { port: await listening, pieces: () => pieces };
}

describe('a large message over a slow link', () => {
  it('wakes the receiver a few times, not once for each piece, and arrives whole', async () => {
    const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    const { port } = await receiver.listen();
    cleanups.push(() => receiver.close());
    const relay = await slowRelay(port, 1024);
    const client: WalthamClient = await connectWaltham('127.0.0.1', relay.port, { logger: captureLogger().logger });
    cleanups.push(() => client.destroy());
    const bind = await globalBinder(client);
    const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
    const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
    const content = bind<WthpContentProxy>(WthpContentProxy);
    const surface: WthpSurfaceProxy = compositor.createSurface();
    shell.getToplevel(surface).setTitle('slow');
    await client.roundtrip();
    await waitFor(() => receiver.peers.length === 1, 5000);
    // Each read of the receiver's, counted from here.
    const peer = receiver.peers[0]!.peer;
    const receive = peer.receive.bind(peer);
    let reads = 0;
    peer.receive = (chunk: Uint8Array): void => {
      reads++;
      receive(chunk);
    };
    const before = relay.pieces();
    // One tile of 160x96 raw pixels: a message of 61 KiB, 60 pieces on the way.
    const [w, h] = [160, 96];
    const pixels = new Uint8Array(w * h * 4);
    for (let i = 0; i < pixels.length; i += 4) pixels.set([i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, 0xff], i);
    content.begin(surface, w, h, FORMAT_XRGB8888);
    content.tile(surface, 0, 0, w, h, CODEC_RAW, pixels);
    surface.commit();
    // Committed on the receiver (no display presents it here).
    const shown = () => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.role.title === 'slow' && s.content?.width === w);
    await waitFor(() => shown() !== undefined, 10_000);
    const pieces = relay.pieces() - before;
    expect(pieces, 'pieces relayed').toBeGreaterThanOrEqual(60);
    // The first piece, the rest of the tile once it can be whole, the frame's last messages: a
    // few reads, where each piece was one before.
    expect(reads, `reads for ${pieces} pieces`).toBeLessThanOrEqual(8);
    const c = shown()!.content!;
    expect([c.width, c.height]).toEqual([w, h]);
    expect(Buffer.compare(Buffer.from(c.pixels.subarray(0, w * h * 4)), Buffer.from(pixels))).toBe(0);
  });
});
