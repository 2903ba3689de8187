/**
 * Fuzzing with a time budget and a printed seed (FUZZ_SEED=... repeats a run,
 * FUZZ_MS=... or FUZZ_INPUTS=... changes the budget of each part:
 * ../test/fuzz.ts).
 *  - random valid message streams, split into random chunks, decode back to
 *    the same messages (with some key arrays of `wthp_keyboard.enter` in the
 *    reference writer's layout, which we decode but do not send);
 *  - random garbage and mutated valid streams never make parseMessage throw
 *    or loop, and give the same results whatever the chunking;
 *  - the same bytes sent to a real WalthamServer (and to a WalthamClient)
 *    over TCP never crash or hang it: every such peer is closed, and a good
 *    peer still completes a roundtrip.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { ArgSpec, OpcodeEntry, WireValue } from '../wire/protocol.js';
import { connectWaltham } from './tcp.js';
import { RawPeer, captureLogger, concat, msg, prng, silentLogger, startExampleServer, table } from './test/helpers.js';
import { fuzzBudget } from '../test/fuzz.js';
import { encodeMessage, parseMessage, type DecodedMessage, type EncodeArg } from './wire.js';

const budget = fuzzBudget(1500);
const seed = budget.seed;
console.log(`fuzz seed ${seed} (FUZZ_SEED=${seed} to repeat), ${budget.ms} ms or ${budget.inputs} inputs per part`);

const entries: OpcodeEntry[] = [...table.byOpcode.values()];
const stats: Record<string, number> = {};
const count = (key: string, n = 1): void => {
  stats[key] = (stats[key] ?? 0) + n;
};
afterAll(() => console.log(`fuzz seed ${seed}: ${JSON.stringify(stats)}`));

type Random = () => number;
const int = (r: Random, n: number): number => Math.floor(r() * n);
const u32 = (r: Random): number => (r() < 0.2 ? [0, 1, 0xffffffff, 0x80000000][int(r, 4)]! : int(r, 2 ** 32));
const bytes = (r: Random, max: number): Uint8Array => Uint8Array.from({ length: int(r, max + 1) }, () => int(r, 256));
const ALPHABET = ['a', 'Z', '0', ' ', '_', '/', 'é', 'ß', '漢', '😀', '\n', '\u007f'];
const text = (r: Random): string => Array.from({ length: int(r, 24) }, () => ALPHABET[int(r, ALPHABET.length)]!).join('');

function randomArg(r: Random, spec: ArgSpec): EncodeArg {
  switch (spec.type) {
    case 'int':
      return u32(r) | 0;
    case 'uint':
      return u32(r);
    case 'fixed':
      return (u32(r) | 0) / 256;
    case 'object':
      return spec.nullable && r() < 0.3 ? null : 1 + int(r, 0xfffffffe);
    case 'new_id':
      if (spec.interface === null) return { id: 1 + int(r, 0xfffffffe), interface: text(r), version: u32(r) };
      return 1 + int(r, 0xfffffffe);
    case 'string':
      return spec.nullable && r() < 0.3 ? null : text(r);
    case 'data':
    case 'array':
      return bytes(r, 40);
    case 'fd':
      throw new Error('no fds in Waltham');
  }
}

/** What a decoded value is expected to be for an encoded one. */
function expectedValue(spec: ArgSpec, value: EncodeArg): WireValue {
  if (spec.type === 'object' && value === null) return 0;
  return value as WireValue;
}

/**
 * Our `wthp_keyboard.enter` rewritten in the reference writer's layout
 * (README 2.4): a 64-bit length counted as 8 bytes in `sz` = 28, then the
 * payload and padding outside `sz`. Only for arrays of 5 bytes or more, where
 * the layout is unambiguous.
 */
function asWriterLayout(ours: Uint8Array): Uint8Array {
  const out = concat(ours.subarray(0, 24), new Uint8Array(4), ours.subarray(24));
  new DataView(out.buffer).setUint16(2, 28, true);
  return out;
}

function randomStream(r: Random): { bytes: Uint8Array; messages: { entry: OpcodeEntry; objectId: number; args: WireValue[] }[] } {
  const messages: { entry: OpcodeEntry; objectId: number; args: WireValue[] }[] = [];
  const parts: Uint8Array[] = [];
  const n = 1 + int(r, 30);
  for (let i = 0; i < n; i++) {
    const entry = entries[int(r, entries.length)]!;
    const objectId = 1 + int(r, 0xfffffffe);
    const args = entry.message.args.map((a) => randomArg(r, a));
    const encoded = encodeMessage(entry.message, objectId, args, entry.iface.name);
    const writer = entry.iface.name === 'wthp_keyboard' && entry.message.name === 'enter' && (args[2] as Uint8Array).length >= 5 && r() < 0.5;
    parts.push(writer ? asWriterLayout(encoded) : encoded);
    if (writer) count('writer-layout arrays');
    messages.push({ entry, objectId, args: entry.message.args.map((a, j) => expectedValue(a, args[j]!)) });
  }
  return { bytes: concat(...parts), messages };
}

function split(r: Random, data: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    const n = r() < 0.5 ? 1 + int(r, 8) : 1 + int(r, data.length);
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

type Outcome = { messages: DecodedMessage[]; end: 'more' | `error ${string}` };

/** Parse a whole buffer until the first non-message result. */
function parseWhole(data: Uint8Array): Outcome {
  const messages: DecodedMessage[] = [];
  let offset = 0;
  for (let guard = 0; guard <= data.length; guard++) {
    const r = parseMessage(data, offset, data.length - offset, table);
    if (r.kind === 'more') {
      expect(r.needed).toBeGreaterThan(data.length - offset);
      return { messages, end: 'more' };
    }
    if (r.kind === 'error') return { messages, end: `error ${r.error.code}` };
    expect(r.kind).toBe('message');
    expect(r.length).toBeGreaterThanOrEqual(12);
    expect(r.length).toBeLessThanOrEqual(data.length - offset);
    messages.push(r);
    offset += r.length;
  }
  throw new Error('parse loop did not end');
}

/** Parse chunk by chunk as a connection does. */
function parseChunked(chunks: Uint8Array[]): Outcome {
  const messages: DecodedMessage[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  for (const chunk of chunks) {
    pending = concat(pending, chunk);
    let offset = 0;
    for (;;) {
      const r = parseMessage(pending, offset, pending.length - offset, table);
      if (r.kind === 'error') return { messages, end: `error ${r.error.code}` };
      if (r.kind === 'more') break;
      messages.push(r);
      offset += r.length;
    }
    pending = pending.slice(offset);
  }
  return { messages, end: 'more' };
}

function mutate(r: Random, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data);
  const edits = 1 + int(r, 4);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = int(r, out.length);
    switch (int(r, 4)) {
      case 0:
        out[at] = int(r, 256);
        break;
      case 1:
        out[at] ^= 1 << int(r, 8);
        break;
      case 2: {
        // a plausible but wrong header field
        const header = at - (at % 4);
        if (header + 2 <= out.length) new DataView(out.buffer).setUint16(header, [0, 4, 8, 12, 0xffff, int(r, 65536)][int(r, 6)]!, true);
        break;
      }
      default:
        return out.subarray(0, at);
    }
  }
  return out;
}

const shape = (m: DecodedMessage): unknown => [m.opcode, m.objectId, m.sz, m.length, m.args];

describe('fuzzing the Waltham codec', () => {
  it('decodes random valid message streams split into random chunks back to the same messages', () => {
    const r = prng(seed);
    const more = budget.start();
    for (let n = 0; more(n); n++) {
      const stream = randomStream(r);
      const outcome = parseChunked(split(r, stream.bytes));
      expect(outcome.end).toBe('more');
      expect(outcome.messages.map((m) => [m.entry, m.objectId, m.args])).toEqual(
        stream.messages.map((m) => [m.entry, m.objectId, m.args]),
      );
      count('valid streams');
    }
  });

  it('never throws or loops on garbage or mutated streams, and gives the same results however they are chunked', () => {
    const r = prng(seed + 1);
    const more = budget.start();
    for (let n = 0; more(n); n++) {
      const data = r() < 0.3 ? bytes(r, 200) : mutate(r, randomStream(r).bytes);
      const whole = parseWhole(data);
      const chunked = parseChunked(split(r, data));
      expect(chunked.end).toBe(whole.end);
      expect(chunked.messages.map(shape)).toEqual(whole.messages.map(shape));
      count(`garbage ${whole.end}`);
    }
  });
});

/** A connection-level sample: a prelude that creates objects, then mutated or random bytes. */
function hostileBytes(r: Random): Uint8Array {
  const prelude = concat(
    msg('wth_display', 'get_registry', 1, [2]),
    msg('wthp_registry', 'bind', 2, [1, { id: 3, interface: 'wthp_compositor', version: 4 }]),
    msg('wthp_compositor', 'create_region', 3, [4]),
    msg('wthp_region', 'add', 4, [1, 2, 3, 4]),
    msg('wth_display', 'sync', 1, [5]),
  );
  const tail = r() < 0.3 ? bytes(r, 120) : mutate(r, randomStream(r).bytes);
  return r() < 0.5 ? concat(mutate(r, prelude), tail) : concat(prelude, tail);
}

describe('fuzzing Waltham connections over TCP', () => {
  it('a WalthamServer fed garbage drops each bad peer, never crashes or hangs, and serves a good peer', async () => {
    const r = prng(seed + 2);
    const log = captureLogger();
    const { server, port } = await startExampleServer({ logger: log.logger, closeTimeoutMs: 1000 });
    const good = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    try {
      // Inputs are counted in messages (a peer sends a few dozen); peers go 16 at a time.
      const more = budget.start();
      const one = async (): Promise<number> => {
        const peer = await RawPeer.connect(port);
        const hostile = hostileBytes(r);
        for (const chunk of split(r, hostile)) peer.socket.write(chunk);
        peer.socket.end(); // a peer waiting on "more" is dropped when we go
        await peer.waitClosed(3000);
        count(`server peers, error sent: ${peer.messages().some((m) => m.entry.message.name === 'error')}`);
        const messages = Math.max(1, parseWhole(hostile).messages.length);
        count('server messages', messages);
        return messages;
      };
      for (let n = 0; more(n); ) {
        const batch = await Promise.all(Array.from({ length: 16 }, one));
        n += batch.reduce((a, b) => a + b, 0);
      }
      await good.roundtrip();
      expect(good.isOpen).toBe(true);
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
      expect(server.peers.size).toBe(1);
    } finally {
      await good.close();
      await server.close();
    }
  });

  it('a WalthamClient fed garbage closes cleanly every time', async () => {
    const r = prng(seed + 3);
    let next: Uint8Array = new Uint8Array(0);
    let chunks: Uint8Array[] = [];
    const raw = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.resume(); // read (and drop) what the client sends, so its close is seen
      for (const chunk of chunks) socket.write(chunk);
      socket.end();
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const { port } = raw.address() as net.AddressInfo;
    const log = captureLogger();
    try {
      // Inputs are counted in messages (each connection gets a stream of a few).
      const more = budget.start(1, 0.5);
      for (let n = 0; more(n); ) {
        next = r() < 0.3 ? bytes(r, 200) : mutate(r, randomStream(r).bytes);
        const messages = Math.max(1, parseWhole(next).messages.length);
        count('client messages', messages);
        n += messages;
        chunks = split(r, next);
        const client = await connectWaltham('127.0.0.1', port, { logger: log.logger, closeTimeoutMs: 1000 });
        client.getRegistry();
        let timer: NodeJS.Timeout | undefined;
        const reason = await Promise.race([
          client.closed,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`client not closed after 3 s; bytes ${Buffer.from(next).toString('hex')}; log:\n${log.text()}`)), 3000);
          }),
        ]);
        clearTimeout(timer);
        count(`client closed: ${reason === undefined ? 'orderly' : (reason as { code?: string }).code ?? reason.name}`);
      }
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await new Promise((resolve) => raw.close(resolve));
    }
  });
});
