/**
 * TLS and the token between the transmitter's link and the receiver, with
 * real certificates made by openssl and real TCP sockets: the right ones
 * carry a surface end to end; a wrong CA, an expired certificate, a wrong
 * token and no token are refused with a log line on both sides, and nothing
 * is created on the receiver.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink, type ReceiverLinkOptions } from '../../transmitter/remote/link.js';
import { Scene } from '../scene/scene.js';
import { connectWaltham, type ServerSecurity } from '../waltham/tcp.js';
import { captureLogger, produce, sleep, solid, TestOwner, toplevelRole, waitFor } from '../remote/test/fixtures.js';
import { readTlsFiles, type TlsCredentials } from './tls.js';
import { parseTokens, TokenClientHandshake, TokenServerHandshake, type Token, type TokenRefused, type TokenResult } from './token.js';
import { makeTestCerts, opensslUnavailable, type TestCerts } from './test/certs.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SECRET = 'c0ffee-1234567890abcdef';
const tokens = (text: string): Token[] => parseTokens(text, 'tokens');

async function startReceiver(security: ServerSecurity, extra: { iviOwner?: (id: number) => string | null } = {}) {
  const log = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: log.logger, security, ...extra });
  const { port } = await receiver.listen();
  const refused: string[] = [];
  receiver.on('refused', (_address, reason) => refused.push(reason));
  cleanups.push(() => receiver.close({ graceMs: 50 }));
  return { receiver, port, log, refused };
}

/** The transmitter's real link, with one window in its scene. */
function startLink(port: number, extra: Partial<ReceiverLinkOptions>) {
  const log = captureLogger();
  const scene = new Scene();
  produce(scene, new TestOwner('app'), toplevelRole({ title: 'window' }), solid(16, 16, 0xff336699));
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene, logger: log.logger, backoff: { initialMs: 50, maxMs: 200 }, ...extra });
  link.start();
  cleanups.push(() => link.stop({ graceMs: 50 }));
  return { link, log };
}

/** What a refused transmitter leaves on the receiver: nothing. */
function expectNothingCreated(receiver: ReceiverServer): void {
  expect(receiver.peers).toHaveLength(0);
  expect(receiver.waltham.peers.size).toBe(0);
  expect([...receiver.scene.surfaces]).toHaveLength(0);
}

describe('token files', () => {
  it('reads named and unnamed tokens and rejects short secrets and duplicates, naming the line', () => {
    expect(tokens('# fleet\ncluster-tx 0123456789abcdef0123\n\nfedcba9876543210fedc\n').map((t) => [t.name, t.secret.toString()])).toEqual([
      ['cluster-tx', '0123456789abcdef0123'],
      [null, 'fedcba9876543210fedc'],
    ]);
    expect(() => tokens('a short\n')).toThrow(/tokens:1: .*shorter than 16/);
    expect(() => tokens('a 0123456789abcdef0\na 0123456789abcdef1\n')).toThrow(/tokens:2: a second token named a/);
    expect(() => tokens('# nothing\n')).toThrow(/no token/);
  });
});

describe('token handshake', () => {
  /** Both sides wired to each other in memory; the verdicts of both. */
  function run(server: readonly Token[], client: Token) {
    let serverSide: TokenServerHandshake | null = null;
    let clientSide: TokenClientHandshake | null = null;
    const results: { server?: TokenRefused | TokenResult; client?: TokenRefused | TokenResult } = {};
    const toServer: Uint8Array[] = [];
    clientSide = new TokenClientHandshake(client, (b) => (serverSide === null ? toServer.push(b) : serverSide.feed(b)), (err, r) => (results.client = err ?? r!));
    serverSide = new TokenServerHandshake(server, (b) => clientSide!.feed(b), (err, r) => (results.server = err ?? r!));
    for (const b of toServer) serverSide.feed(b);
    return results;
  }
  const named = (name: string | null, secret: string): Token => ({ name, secret: Buffer.from(secret) });

  it('proves the name of a named token to the receiver, and the receiver to the transmitter', () => {
    const r = run([named('cluster-tx', SECRET), named('rear-tx', `${SECRET}-2`)], named('cluster-tx', SECRET));
    expect(r.server).toMatchObject({ name: 'cluster-tx' });
    expect(r.client).toMatchObject({ name: 'cluster-tx' });
  });

  it('refuses a wrong secret, and a name another token has, on both sides', () => {
    const wrong = run([named('cluster-tx', SECRET)], named('cluster-tx', `${SECRET}x`));
    expect((wrong.server as Error).message).toMatch(/wrong token/);
    expect((wrong.client as Error).message).toMatch(/the receiver refused the token: wrong token/);
    // rear-tx's secret does not prove cluster-tx: names are bound to their secrets.
    const borrowed = run([named('cluster-tx', SECRET), named('rear-tx', `${SECRET}-2`)], named('cluster-tx', `${SECRET}-2`));
    expect((borrowed.server as Error).message).toMatch(/wrong token/);
  });

  it('finds a receiver that does not know the secret (the transmitter checks the receiver too)', () => {
    // A receiver that accepts anything cannot forge its MAC: fake one by answering with zeros.
    let verdict: Error | TokenResult | undefined;
    let hs: TokenClientHandshake | null = null;
    hs = new TokenClientHandshake(named(null, SECRET), () => undefined, (err, r) => (verdict = err ?? r!));
    hs.feed(Buffer.concat([Buffer.from('WTHAUTH1'), Buffer.alloc(32, 7)]));
    hs.feed(Buffer.alloc(33));
    expect((verdict as Error).message).toMatch(/did not prove the token/);
  });
});

describe('token handshake on the wire', () => {
  it('survives a peer that resets the connection in the middle of the handshake; the next one is served', async () => {
    const { receiver, port, refused } = await startReceiver({ tokens: tokens(`tx ${SECRET}\n`) });
    const rude = net.connect(port, '127.0.0.1');
    await once(rude, 'connect');
    rude.write(Buffer.concat([Buffer.from('WTHAUTH1'), Buffer.of(2), Buffer.from('tx')]));
    await sleep(50);
    rude.resetAndDestroy();
    await waitFor(() => refused.length === 1, 'the reset peer refused');
    expect(refused[0]).toMatch(/closed the connection (before|during) the token handshake/);
    expectNothingCreated(receiver);
    const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger, security: { token: tokens(`tx ${SECRET}`)[0]! } });
    cleanups.push(() => client.destroy());
    await client.roundtrip();
    expect(receiver.peers.map((p) => p.peer.identity)).toEqual(['tx']);
  });
});

describe.skipIf(opensslUnavailable())('TLS and token between transmitter and receiver (openssl certificates)', () => {
  let certs: TestCerts;
  let rx: TlsCredentials;
  let tx: TlsCredentials;
  beforeAll(() => {
    certs = makeTestCerts();
    rx = readTlsFiles({ cert: certs.path('rx.pem'), key: certs.path('rx.key'), ca: certs.path('ca.pem') });
    tx = readTlsFiles({ cert: certs.path('tx.pem'), key: certs.path('tx.key'), ca: certs.path('ca.pem') });
  });
  afterAll(() => certs?.remove());
  const txWith = (cert: string, ca = 'ca.pem'): TlsCredentials => readTlsFiles({ cert: certs.path(`${cert}.pem`), key: certs.path(`${cert}.key`), ca: certs.path(ca) });

  it('carries a window through TLS and the token; the receiver knows the transmitter by its certificate', async () => {
    const { receiver, port, log } = await startReceiver({ tls: rx, tokens: tokens(`cluster-tx ${SECRET}\n`) });
    const { link } = startLink(port, { security: { tls: tx, token: tokens(`cluster-tx ${SECRET}`)[0]! } });
    await once(link, 'connected');
    const shown = await waitFor(() => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.content !== null), 'the window on the receiver');
    expect(shown.content!.width).toBe(16);
    expect(receiver.peers[0]!.peer.identity).toBe('cluster-tx');
    expect(log.text()).toMatch(/transmitter cluster-tx@127\.0\.0\.1:\d+ connected/);
  });

  const refusals: { name: string; receiver: () => ServerSecurity; transmitter: () => Partial<ReceiverLinkOptions>; rx: RegExp; tx: RegExp }[] = [
    {
      name: 'a transmitter certificate from another CA',
      receiver: () => ({ tls: rx }),
      transmitter: () => ({ security: { tls: txWith('rogue') } }),
      rx: /transmitter 127\.0\.0\.1:\d+ refused: TLS: the transmitter's certificate is not signed by our CA/,
      tx: /refused: the receiver says: TLS: the transmitter's certificate is not signed by our CA/,
    },
    {
      name: 'an expired transmitter certificate',
      receiver: () => ({ tls: rx }),
      transmitter: () => ({ security: { tls: txWith('expired') } }),
      rx: /refused: TLS: the transmitter's certificate has expired/,
      tx: /refused: the receiver says: TLS: the transmitter's certificate has expired/,
    },
    {
      name: 'an expired transmitter certificate, with a token too',
      receiver: () => ({ tls: rx, tokens: tokens(`${SECRET}\n`) }),
      transmitter: () => ({ security: { tls: txWith('expired'), token: tokens(SECRET)[0]! } }),
      rx: /refused: TLS: the transmitter's certificate has expired/,
      tx: /refused: .*TLS: the transmitter's certificate has expired/,
    },
    {
      name: 'a receiver certificate from another CA (the transmitter refuses it)',
      receiver: () => ({ tls: readTlsFiles({ cert: certs.path('rogue-rx.pem'), key: certs.path('rogue-rx.key'), ca: certs.path('ca.pem') }) }),
      transmitter: () => ({ security: { tls: tx } }),
      rx: /refused: TLS: the transmitter closed the connection during the TLS handshake/,
      tx: /refused: TLS: the receiver's certificate is not signed by our CA/,
    },
    {
      name: 'a receiver certificate for another host (the transmitter refuses it)',
      receiver: () => ({ tls: readTlsFiles({ cert: certs.path('elsewhere-rx.pem'), key: certs.path('elsewhere-rx.key'), ca: certs.path('ca.pem') }) }),
      transmitter: () => ({ security: { tls: tx } }),
      rx: /refused: TLS: the transmitter closed the connection during the TLS handshake/,
      tx: /refused: TLS: the receiver's certificate does not name this host/,
    },
    {
      name: 'a wrong token',
      receiver: () => ({ tokens: tokens(`cluster-tx ${SECRET}\n`) }),
      transmitter: () => ({ security: { token: tokens(`cluster-tx ${SECRET}-wrong`)[0]! } }),
      rx: /refused: wrong token \(the transmitter named itself "cluster-tx"\)/,
      // A refusal is not retried at the pace of a lost link.
      tx: /refused: the receiver refused the token: wrong token; retrying in 5000 ms/,
    },
    {
      name: 'no token',
      receiver: () => ({ tokens: tokens(`${SECRET}\n`) }),
      transmitter: () => ({}),
      rx: /refused: no token/,
      tx: /refused: the receiver says: authentication required: this receiver needs a token/,
    },
    {
      name: 'no TLS at all',
      receiver: () => ({ tls: rx }),
      transmitter: () => ({}),
      rx: /refused: TLS: /,
      tx: /connection|closed/,
    },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} on both sides with a clear line; nothing is created on the receiver`, async () => {
      const { receiver, port, log, refused } = await startReceiver(c.receiver());
      const { link, log: txLog } = startLink(port, c.transmitter());
      await waitFor(() => refused.length > 0 && c.tx.test(txLog.text()), 'the refusal on both sides', 8000).catch((e: Error) => {
        throw new Error(`${e.message}\nreceiver:\n${log.text()}\ntransmitter:\n${txLog.text()}`);
      });
      expect(log.text()).toMatch(c.rx);
      expect(txLog.text()).toMatch(c.tx);
      expect(link.connected).toBe(false);
      expectNothingCreated(receiver);
    });
  }

  it('keeps plain TCP for peers without either (the reference libwaltham)', async () => {
    const { receiver, port } = await startReceiver({});
    const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
    cleanups.push(() => client.destroy());
    expect((await client.globals()).length).toBeGreaterThan(3);
    expect(receiver.peers).toHaveLength(1);
    expect(receiver.peers[0]!.peer.identity).toBeNull();
  });
});
