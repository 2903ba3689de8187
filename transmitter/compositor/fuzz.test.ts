/**
 * Fuzzing the transmitter's Wayland server (the virtual display) the way a
 * hostile or broken application would talk to it: over a real Unix socket,
 * message streams built from the protocols it serves (every global bound,
 * then random requests on the objects made so far with random arguments,
 * shm pools of random sizes backed by real memfds, other fds where the
 * protocol expects them), mutated, cut, or plain garbage, sent in random
 * chunks. Each such client must be dropped or keep being served; the display
 * never crashes or hangs, another client keeps working, and no fd is left
 * behind. Budget: ../../shared/test/fuzz.ts (FUZZ_MS, FUZZ_INPUTS with
 * inputs counted in messages, FUZZ_SEED).
 */
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { closeFd, ftruncateFd, memfdCreate, sendMsg, unixConnect } from '../../shared/native.js';
import { protocols } from '../../shared/generated/wayland/index.js';
import { fuzzBudget } from '../../shared/test/fuzz.js';
import { prng } from '../../shared/test/helpers.js';
import { encodeMessage } from '../../shared/wayland/wire.js';
import type { InterfaceSpec, MessageSpec, WireValue } from '../../shared/wire/protocol.js';
import { TestClient, startDisplay, waitFor } from './test/helpers.js';

const budget = fuzzBudget(2000);
console.log(`wayland fuzz seed ${budget.seed} (FUZZ_SEED=${budget.seed} to repeat), ${budget.ms} ms or ${budget.inputs} inputs`);
const stats: Record<string, number> = {};
const count = (key: string, n = 1): void => {
  stats[key] = (stats[key] ?? 0) + n;
};
afterAll(() => console.log(`wayland fuzz seed ${budget.seed}: ${JSON.stringify(stats)}`));

type Random = () => number;
const int = (r: Random, n: number): number => Math.floor(r() * n);
const interfaces = new Map<string, InterfaceSpec>(protocols.flatMap((p) => p.interfaces.map((i) => [i.name, i] as const)));

const openFds = (): number => readdirSync('/proc/self/fd').length;

/** One hostile client's stream: messages and the fds that go with them. */
interface Stream {
  readonly bytes: Uint8Array;
  readonly fds: number[];
  readonly messages: number;
}

/**
 * Random requests on a growing object graph: the registry, every global, then
 * objects those make. Arguments are random but typed; object arguments name
 * objects of the right interface most of the time.
 */
function randomStream(r: Random, globals: readonly { name: number; interface: string; version: number }[]): Stream {
  const objects = new Map<number, InterfaceSpec>([[1, interfaces.get('wl_display')!]]);
  let nextId = 2;
  const parts: Uint8Array[] = [];
  const fds: number[] = [];
  const add = (id: number, message: MessageSpec, args: WireValue[]): void => {
    try {
      const encoded = encodeMessage(id, message, args);
      parts.push(encoded.bytes);
      fds.push(...encoded.fds);
    } catch {
      count('unencodable');
    }
  };
  const registry = interfaces.get('wl_registry')!;
  add(1, interfaces.get('wl_display')!.requests.find((m) => m.name === 'get_registry')!, [nextId]);
  objects.set(nextId++, registry);
  for (const g of globals) {
    if (r() < 0.3) continue;
    const spec = interfaces.get(g.interface);
    if (spec === undefined) continue;
    const version = r() < 0.98 ? 1 + int(r, g.version) : int(r, g.version + 3);
    add(2, registry.requests[0]!, [g.name, { interface: g.interface, version, id: nextId }]);
    objects.set(nextId++, spec);
  }
  const ids = (): number[] => [...objects.keys()];
  const messages = 4 + int(r, 40);
  for (let n = 0; n < messages; n++) {
    const [id, spec] = [...objects.entries()][int(r, objects.size)]!;
    if (spec.requests.length === 0) continue;
    const message = spec.requests[int(r, spec.requests.length)]!;
    const args = message.args.map((arg): WireValue => {
      switch (arg.type) {
        case 'int':
          return r() < 0.2 ? [-1, 0, 0x7fffffff, -0x80000000][int(r, 4)]! : int(r, 4096) - 64;
        case 'uint':
          return r() < 0.2 ? [0, 1, 0xffffffff][int(r, 3)]! : int(r, 8192);
        case 'fixed':
          return (int(r, 1 << 20) - (1 << 19)) / 256;
        case 'string':
          return arg.nullable && r() < 0.2 ? null : ['', 'x', 'org.example.fuzz', 'text/plain;charset=utf-8', 'é😀'.repeat(int(r, 40))][int(r, 5)]!;
        case 'object': {
          if (arg.nullable && r() < 0.2) return null;
          const fitting = ids().filter((i) => arg.interface === null || objects.get(i)!.name === arg.interface);
          return fitting.length > 0 && r() < 0.97 ? fitting[int(r, fitting.length)]! : 1 + int(r, nextId + 4);
        }
        case 'new_id': {
          const id = r() < 0.99 ? nextId++ : 1 + int(r, nextId);
          const target = arg.interface === null ? null : interfaces.get(arg.interface);
          if (target !== undefined && target !== null) objects.set(id, target);
          if (arg.interface === null) return { interface: 'wl_compositor', version: 1, id };
          return id;
        }
        case 'array':
          return Uint8Array.from({ length: int(r, 64) }, () => int(r, 256));
        case 'fd': {
          const fd = memfdCreate('fuzz', [0, 1, 4096, 65536, 4 * 64 * 64][int(r, 5)]!);
          if (r() < 0.1) ftruncateFd(fd, 0); // shrunk after the fact
          return fd;
        }
        default:
          throw new Error(`no random value for ${String(arg.type)}`);
      }
    });
    add(id, message, args);
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return { bytes, fds, messages: parts.length };
}

/** Flipped bits, a cut, a spliced copy, or noise. */
function mutate(r: Random, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (int(r, 5)) {
    case 0:
      for (let i = 0; i < 1 + int(r, 8) && out.length > 0; i++) out[int(r, out.length)]! ^= 1 << int(r, 8);
      return out;
    case 1:
      return out.subarray(0, int(r, out.length + 1));
    case 2: {
      const from = int(r, out.length + 1);
      return Uint8Array.from([...out.subarray(0, from), ...out.subarray(int(r, out.length + 1))]);
    }
    case 3:
      return Uint8Array.from({ length: int(r, 300) }, () => int(r, 256));
    default:
      return out;
  }
}

describe('fuzzing the virtual display over its Unix socket', () => {
  it('drops or serves every hostile client, never crashes or hangs, leaks no fd, and serves a good client', async () => {
    const r = prng(budget.seed);
    const t = startDisplay();
    try {
      const good = await TestClient.connect(t.display);
      const globals = [...good.registry.globals.entries()].map(([name, g]) => ({ name, interface: g.interface, version: g.version }));
      expect(globals.length).toBeGreaterThan(5);
      const before = openFds();
      const more = budget.start(); // inputs are messages
      let sent = 0;
      // Clients go in batches that stay connected until the display has read them (a good
      // client's round trips), then hang up.
      for (let n = 0; more(n); ) {
        const batch: number[] = [];
        for (let b = 0; b < 16; b++) {
          const stream = randomStream(r, globals);
          const bytes = r() < 0.5 ? stream.bytes : mutate(r, stream.bytes);
          const fd = unixConnect(t.display.socketPath!);
          batch.push(fd);
          try {
            let at = 0;
            let withFds = stream.fds.slice(0, 28);
            while (at < bytes.length) {
              const chunk = bytes.subarray(at, at + 1 + int(r, 2048));
              const wrote = sendMsg(fd, chunk, withFds);
              if (wrote <= 0) break; // the display stopped reading this client, or its buffer is full
              withFds = [];
              at += wrote;
            }
          } catch (error) {
            count(`client socket: ${(error as { code?: string }).code ?? 'error'}`);
          } finally {
            for (const f of stream.fds) closeFd(f);
          }
          count('clients');
          count('messages', stream.messages);
          sent += stream.messages;
          n += stream.messages;
        }
        await good.roundtrip();
        await good.roundtrip();
        for (const fd of batch) closeFd(fd);
      }
      // Every hostile client is gone, the good one still works, and nothing they sent is held.
      await waitFor(() => t.display.clients.length === 1, 10_000, 'hostile clients to be dropped');
      await good.roundtrip();
      good.compositor.createSurface();
      await good.roundtrip();
      expect(t.display.clients).toHaveLength(1);
      await waitFor(() => openFds() <= before, 10_000, `fds back to ${before}`);
      expect(sent).toBeGreaterThan(0);
      const fatal = t.logs.filter((l) => (l['level'] as number) >= 50);
      expect(fatal).toEqual([]);
      for (const l of t.logs) {
        const m = /(\w+@\d+\.\w+|[a-z_]+ error|invalid \w+|\bno \w+)/.exec(String(l['msg']));
        if (m !== null && process.env['FUZZ_VERBOSE'] === '1') count(`log: ${m[1]!.replace(/@\d+/, '')}`);
      }
      count('log lines', t.logs.length);
      if (process.env['FUZZ_VERBOSE'] === '2') for (const l of t.logs.slice(0, 4000)) process.stdout.write(`${String(l['msg'])} ${String(l['error'] ?? '')}\n`);
      good.client.close();
    } finally {
      t.close();
    }
  }, 600_000);
});
