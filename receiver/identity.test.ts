/**
 * Identities on the receiver: a transmitter that proves the same identity
 * again replaces its stale session at once, and an ivi-id owned by an
 * identity ([transmitter-identity]) is refused to any other peer, for that
 * surface alone. Real TCP, the token handshake, hand-driven transmitters.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WthpCompositorProxy, WthpIviApplicationProxy, WthpRemoteShellProxy } from '../shared/generated/waltham/waltham.js';
import { connectWaltham, type WalthamClient } from '../shared/waltham/index.js';
import { iviOwnership, ownerOf } from '../shared/security/config.js';
import { parseIni } from '../shared/config/ini.js';
import { parseTokens, type Token } from '../shared/security/token.js';
import { captureLogger, waitFor } from '../shared/remote/test/fixtures.js';
import { iviIdAssigner } from './ivi-ids.js';
import { ReceiverServer } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const TOKENS = parseTokens('cluster-tx 11111111111111111111\nrear-tx 22222222222222222222\nshared-secret-33333333\n', 'tokens');
const token = (name: string | null): Token => TOKENS.find((t) => t.name === name)!;
const OWNERS = iviOwnership(parseIni('[transmitter-identity]\nname=cluster-tx\nivi-id=100-199\n'), 'weston.ini');

async function startReceiver() {
  const log = captureLogger();
  const receiver = new ReceiverServer({
    host: '127.0.0.1',
    port: 0,
    logger: log.logger,
    deadMs: 0,
    security: { tokens: TOKENS },
    iviOwner: (id) => ownerOf(OWNERS, id),
  });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close({ graceMs: 50 }));
  return { receiver, port, log };
}

/** A transmitter proving `tok`, with the globals it needs bound. */
async function transmitter(port: number, tok: Token) {
  const client: WalthamClient = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger, security: { token: tok } });
  cleanups.push(() => client.destroy());
  const globals = await client.globals();
  const name = (iface: string): number => globals.find((g) => g.interface === iface)!.name;
  const compositor = client.bind(WthpCompositorProxy, name('wthp_compositor'), 4);
  const shell = client.bind(WthpRemoteShellProxy, name('wthp_remote_shell'), 1);
  const ivi = client.bind(WthpIviApplicationProxy, name('wthp_ivi_application'), 1);
  /** A surface with the ivi role and `iviId`. */
  const iviSurface = (iviId: number) => {
    const s = compositor.createSurface();
    ivi.surfaceCreate(iviId, s);
    s.commit();
    return s;
  };
  const toplevel = (title: string) => {
    const s = compositor.createSurface();
    shell.getToplevel(s).setTitle(title);
    s.commit();
    return s;
  };
  return { client, iviSurface, toplevel };
}

const iviIdsShown = (r: ReceiverServer): number[] =>
  [...r.scene.surfaces].flatMap((s) => (s.role?.kind === 'ivi' && !s.destroyed ? [s.role.iviId] : [])).sort((a, b) => a - b);

describe('ivi-id ownership by configuration', () => {
  it('reads [transmitter-identity] owners and refuses overlapping ones, naming the line', () => {
    expect(ownerOf(OWNERS, 150)).toBe('cluster-tx');
    expect(ownerOf(OWNERS, 200)).toBeNull();
    expect(() => iviOwnership(parseIni('[transmitter-identity]\nname=a\nivi-id=1-10\n[transmitter-identity]\nname=b\nivi-id=5\n'), 'w.ini')).toThrow(
      /w\.ini:6: .*already belong to a/,
    );
    expect(() => iviOwnership(parseIni('[transmitter-identity]\nname=a\n'), 'w.ini')).toThrow(/needs ivi-id=/);
  });

  it("refuses another peer's claim of an owned ivi-id for that surface alone; the owner gets it", async () => {
    const { receiver, port, log } = await startReceiver();
    // rear-tx comes first and claims 150 (cluster-tx's) and 500 (nobody's).
    const rear = await transmitter(port, token('rear-tx'));
    rear.iviSurface(150);
    rear.iviSurface(500);
    await rear.client.roundtrip();
    expect(log.text()).toMatch(/ivi-id 150 belongs to cluster-tx; refused the claim by rear-tx \(that surface is not shown\)/);
    expect(rear.client.isOpen).toBe(true);
    expect(iviIdsShown(receiver)).toEqual([500]);
    // A peer with the shared (unnamed) token proved no identity: refused too.
    const anonymous = await transmitter(port, token(null));
    anonymous.iviSurface(151);
    await anonymous.client.roundtrip();
    expect(log.text()).toMatch(/ivi-id 151 belongs to cluster-tx; refused the claim by a transmitter that proved no identity/);
    // The owner claims its ids, although another peer asked first.
    const cluster = await transmitter(port, token('cluster-tx'));
    cluster.iviSurface(150);
    cluster.iviSurface(151);
    await cluster.client.roundtrip();
    expect(iviIdsShown(receiver)).toEqual([150, 151, 500]);
    expect([rear, anonymous, cluster].map((t) => t.client.isOpen)).toEqual([true, true, true]);
  });
});

describe('a reconnecting transmitter', () => {
  it('replaces its own stale session at once (same identity), and only its own', async () => {
    const { receiver, port, log } = await startReceiver();
    const stale = await transmitter(port, token('cluster-tx'));
    stale.toplevel('old');
    stale.iviSurface(120);
    await stale.client.roundtrip();
    const other = await transmitter(port, token('rear-tx'));
    other.toplevel('rear');
    await other.client.roundtrip();
    expect(receiver.peers).toHaveLength(2);

    // The link of `stale` died silently; the same transmitter is back on a new connection.
    const fresh = await transmitter(port, token('cluster-tx'));
    fresh.toplevel('new');
    fresh.iviSurface(120); // free again at once: the stale session is gone
    await fresh.client.roundtrip();
    expect(log.text()).toMatch(/cluster-tx reconnected from cluster-tx@127\.0\.0\.1:\d+: its session from cluster-tx@127\.0\.0\.1:\d+ is replaced/);
    await waitFor(() => !stale.client.isOpen, 'the stale connection closed');
    const titles = [...receiver.scene.surfaces].flatMap((s) => (s.role?.kind === 'toplevel' ? [s.role.title] : [])).sort();
    expect(titles).toEqual(['new', 'rear']);
    expect(iviIdsShown(receiver)).toEqual([120]);
    expect(receiver.peers.map((p) => p.peer.identity).sort()).toEqual(['cluster-tx', 'rear-tx']);
    expect(other.client.isOpen).toBe(true);
  });

  it('does not replace peers that proved no identity (a shared token names nobody)', async () => {
    const { receiver, port } = await startReceiver();
    const a = await transmitter(port, token(null));
    const b = await transmitter(port, token(null));
    await a.client.roundtrip();
    await b.client.roundtrip();
    expect(receiver.peers).toHaveLength(2);
    expect([a.client.isOpen, b.client.isOpen]).toEqual([true, true]);
  });
});

describe('ivi-ids by app_id (--shell ivi)', () => {
  it("gives an owned app_id mapping only to its owner's surfaces; other ids skip the owned ranges", async () => {
    const { receiver, port, log } = await startReceiver();
    const assign = iviIdAssigner({
      configured: new Map([['navigation', 150]]),
      base: 100,
      ownerOf: (id) => ownerOf(OWNERS, id),
      logger: log.logger,
    });
    const rear = await transmitter(port, token('rear-tx'));
    rear.toplevel('rear navigation');
    await rear.client.roundtrip();
    const cluster = await transmitter(port, token('cluster-tx'));
    cluster.toplevel('cluster navigation');
    await cluster.client.roundtrip();
    const surface = (title: string) => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.role.title === title)!;
    // rear-tx's "navigation" does not get cluster-tx's 150, nor any id of 100-199.
    const rearId = assign('navigation', surface('rear navigation'));
    expect(rearId).toBe(200);
    expect(log.text()).toMatch(/ivi-id 150 of app_id "navigation" belongs to cluster-tx; the surface of rear-tx gets ivi-id 200/);
    expect(assign('navigation', surface('cluster navigation'))).toBe(150);
    expect(assign('music', surface('rear navigation'))).toBe(201);
  });
});
