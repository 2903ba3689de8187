/**
 * The WalT client pieces on their own: where the WalT server is, names and
 * addresses, where a board's status endpoint is, WalT's web API through the
 * stand-in (filters, errors as JSON), the status probe's four outcomes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnate } from '../cli/table.js';
import { ForeignBoard, SilentBoard, TransmitterStandin } from '../test/board-standin.js';
import { fixture, fixturesPresent, WaltStandin } from '../test/walt-standin.js';
import { probe, statusAddress } from './board.js';
import { checkImageName, checkNodeName, parseHostPort } from './names.js';
import { isTransmitterImage } from './transmitters.js';
import { WaltApi, type WaltNodeRecord } from './walt-api.js';
import { serverInWaltConfig, waltServer } from './walt-config.js';

describe('where the WalT server is', () => {
  it("reads walt-client's YAML configuration, current and legacy layouts", () => {
    const current = '# WalT configuration file\n# ***\nwalt:\n    # IP or hostname of WalT server\n    server: walt-srv.lab\n    username: eduble\nregistries:\n    hub:\n        username: eduble\n\n\n# -- walt auto-generated data --\n# fast-load: 0123abcd\n';
    expect(serverInWaltConfig(current)).toBe('walt-srv.lab');
    expect(serverInWaltConfig('server: "10.0.0.1"\nusername: eduble\n')).toBe('10.0.0.1');
    expect(serverInWaltConfig('{"walt": {"server": "json-host", "username": "x"}}')).toBe('json-host');
    // A `server` key under another group is not WalT's.
    expect(serverInWaltConfig('registries:\n    hub:\n        server: docker.io\n')).toBeUndefined();
  });

  it('prefers the option, then $WALT_SERVER; port 80 by default', () => {
    expect(waltServer('a:8080', { WALT_SERVER: 'b' }).address).toEqual({ host: 'a', port: 8080 });
    expect(waltServer(undefined, { WALT_SERVER: 'b', HOME: '/nonexistent' }).address).toEqual({ host: 'b', port: 80 });
    expect(() => waltServer(undefined, { HOME: '/nonexistent' })).toThrow(/no WalT server/);
  });
});

describe('names and addresses', () => {
  it('accepts WalT node and image names only', () => {
    for (const ok of ['rpi-a', 'vnode-ci', 'N2']) expect(checkNodeName(ok)).toBe(ok);
    for (const bad of ['a', '1rpi', "rpi'--", 'rpi a', 'rpi_a', '']) expect(() => checkNodeName(bad)).toThrow(/invalid node name/);
    for (const ok of ['waltham-tx-pc', 'eduble/waltham-tx-rpi64:v1-2']) expect(checkImageName(ok)).toBe(ok);
    for (const bad of ['Waltham', 'x:1.0', 'a_b', 'x;y']) expect(() => checkImageName(bad)).toThrow(/invalid image name/);
  });

  it('parses HOST[:PORT] and [IPV6][:PORT]', () => {
    expect(parseHostPort('ivi-head', 34400, '--to')).toEqual({ host: 'ivi-head', port: 34400 });
    expect(parseHostPort('10.1.2.3:5', 34400, '--to')).toEqual({ host: '10.1.2.3', port: 5 });
    expect(parseHostPort('[fe80::1]:9', 34400, '--to')).toEqual({ host: '[fe80::1]', port: 9 });
    for (const bad of ['', 'a b', 'a:0', 'a:70000', 'a:', '-a']) expect(() => parseHostPort(bad, 1, '--to')).toThrow(/--to/);
  });

  it("knows our images by WalT name", () => {
    expect(isTransmitterImage('eduble/waltham-tx-rpi64:latest')).toBe(true);
    expect(isTransmitterImage('waltham-tx-pc')).toBe(true);
    expect(isTransmitterImage('waltplatform/rpi-3-b-plus-default:latest')).toBe(false);
    expect(isTransmitterImage('eduble/my-waltham-tx-rpi64')).toBe(false);
  });

  it("finds a board's status endpoint: its IP, or the WalT server's exposed port behind NAT", () => {
    const server = { host: 'walt-srv', port: 80 };
    expect(statusAddress({ ip: '192.168.152.12', config: { netsetup: 'LAN', expose: 'none' } }, server)).toEqual({ host: '192.168.152.12', port: 34401 });
    expect(statusAddress({ ip: '192.168.152.14', config: { netsetup: 'NAT', expose: '8080:80,34481:34401' } }, server)).toEqual({ host: 'walt-srv', port: 34481 });
    // Only one port exposed: the image serves its status there.
    expect(statusAddress({ ip: '192.168.152.14', config: { netsetup: 'NAT', expose: '34480:34480' } }, server)).toEqual({ host: 'walt-srv', port: 34480 });
    expect(statusAddress({ ip: null, config: { netsetup: 'LAN' } }, server)).toBeNull();
    expect(statusAddress({ ip: '10.0.0.9', config: {} }, server, 4000)).toEqual({ host: '10.0.0.9', port: 4000 });
  });

  it('prints tables as WalT does', () => {
    expect(columnate(['name', 'booted'], [['rpi-a', 'yes'], ['vnode-long', 'NO']])).toBe('name        booted\n----------  ------\nrpi-a       yes\nvnode-long  NO');
  });
});

describe.skipIf(!fixturesPresent)("WalT's web API through the stand-in", () => {
  let walt: WaltStandin;
  let client: WaltApi;
  beforeAll(async () => {
    walt = new WaltStandin();
    client = new WaltApi(parseHostPort(await walt.listen(), 80, 'test'));
  });
  afterAll(async () => {
    client?.close();
    await walt?.close();
  });

  it('lists the nodes with their 8 keys, and filters by name', async () => {
    const nodes = await client.nodes();
    const expected = fixture<{ nodes: WaltNodeRecord[] }>('nodes').nodes;
    expect(nodes).toEqual(expected);
    expect(Object.keys(nodes[0]!)).toEqual(['name', 'model', 'virtual', 'image', 'booted', 'ip', 'mac', 'config']);
    expect(await client.nodes({ name: 'rpi-nat' })).toEqual(expected.filter((n) => n.name === 'rpi-nat'));
    expect(await client.nodes({ name: 'nope' })).toEqual([]);
    expect(walt.requests).toContain('/api/v1/nodes?name=rpi-nat');
  });

  it("turns WalT's JSON errors into messages", async () => {
    walt.daemonDown = true;
    try {
      await expect(client.images()).rejects.toThrow(/: Internal Server Error$/);
    } finally {
      walt.daemonDown = false;
    }
    expect((await client.images()).map((i) => i.fullname)).toEqual(fixture<{ images: { fullname: string }[] }>('images').images.map((i) => i.fullname));
  });

  it('reads logs by issuer and stream', async () => {
    const logs = await client.logs({ from: 1340000001, to: Date.now() / 1000, issuer: 'rpi-cluster', stream: 'waltham\\.tx' });
    expect(logs.map((l) => [l.issuer, l.stream])).toEqual([['rpi-cluster', 'waltham.tx']]);
  });

  it('says when a server is not WalT', async () => {
    const other = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not Found</h1>');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const c = new WaltApi({ host: '127.0.0.1', port: (other.address() as AddressInfo).port });
    try {
      await expect(c.nodes()).rejects.toMatchObject({ code: 'ERR_WALT_ANSWER', message: expect.stringMatching(/does not answer as a WalT server/) });
    } finally {
      c.close();
      other.closeAllConnections();
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});

describe("a board's status probe", () => {
  it('up, down, unknown (no answer in time) and foreign', async () => {
    const up = new TransmitterStandin({ hostname: 'b', token: null });
    const port = await up.listen('127.0.0.1');
    const silent = new SilentBoard();
    await silent.listen('127.0.0.1', 0);
    const foreign = new ForeignBoard();
    await foreign.listen('127.0.0.1', 0);
    try {
      const ok = await probe({ host: '127.0.0.1', port }, 'waltham-transmitter');
      expect(ok.kind).toBe('up');
      expect(await probe({ host: '127.0.0.1', port }, 'waltham-receiver')).toMatchObject({ kind: 'foreign' });
      expect(await probe({ host: '127.0.0.1', port: silent.port }, 'waltham-transmitter', 200)).toEqual({ kind: 'unknown', reason: 'no answer in time' });
      await up.close();
      expect(await probe({ host: '127.0.0.1', port }, 'waltham-transmitter')).toEqual({ kind: 'down', reason: 'connection refused' });
      expect(await probe(null, 'waltham-transmitter')).toEqual({ kind: 'unknown', reason: 'no IP address' });
    } finally {
      await silent.close();
      await foreign.close();
      await up.close().catch(() => {});
    }
  });
});
