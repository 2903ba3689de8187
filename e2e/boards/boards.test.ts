/**
 * The board suite: two boards, listed by a WalT server, and two receivers on
 * the host, each on its own headless weston. The boards are driven with the
 * real `waltham` command (the bin in dist/), as a person would.
 *
 * Scenarios, in order (each builds on the previous one):
 * `waltham node show` lists both boards with their transmitters up and
 * sending to receiver A; their windows appear on receiver A; `waltham node
 * connect` moves board 2 to receiver B; `waltham node screenshot` of board 2
 * is a PNG showing its application; board 1 powered off shows down (`?` or
 * `down`) in `waltham node show` within seconds; board 1 booted again brings
 * its window back.
 *
 * The boards: network-namespace boards (each runs the image's own start
 * scripts: weston headless, waltham-transmitter with its status endpoint and
 * weston-simple-shm) and, where qemu runs, qemu virtual machines booted from
 * a root file system made by the image's provisioning script (the first run
 * builds and caches it: minutes), listed by the WalT stand-in
 * (walt/test/walt-standin.ts); or, in real-board mode (`npm run test:boards
 * -- --walt-server HOST --nodes A,B`, see README.md), two WalT nodes that
 * `waltham image deploy` puts the image on. The suite says which ones run.
 */
import { lookup } from 'node:dns/promises';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesPresent, WaltStandin } from '../../walt/test/walt-standin.js';
import { startReceiver, type Receiver } from '../bridge.js';
import { decodePng, runSync, skipUnless, startWeston, waitFor, type Weston } from '../harness/index.js';
import { Cleanup, logTails } from '../scenario.js';
import { createBoardNetwork, netnsUnavailable, type BoardNetwork } from './network.js';
import { NetnsBoard } from './netns-board.js';
import { arm64NotRequested, prepareQemuDisk, QemuBoard, qemuUnavailable, type QemuDisk } from './qemu/qemu-board.js';
import { deployAndReboot, realBoardsFromEnv, WaltNodeBoard, type RealBoardsOptions } from './walt-node.js';
import { Waltham, walthamBinMissing, type NodeRow } from './waltham-cli.js';

/** What the scenarios need of a board: namespace, virtual machine or WalT node. */
interface Board {
  readonly name: string;
  readonly ip: string;
  readonly statusUrl: string;
  /** Where a control request persists the receiver; null when the board has no /persist. */
  readonly persistFile: string | null;
  /** Its transmitter's lines reach the WalT server's logs (walt-log-echo). */
  readonly sendsWaltLogs: boolean;
  token(): string;
  start(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  tails(): string;
  destroy(): Promise<void>;
}
type Kind = 'netns' | 'qemu' | 'walt';

const SIMPLE_SHM = 'org.freedesktop.weston.simple-shm';
const TIMEOUT = 60_000;

/* eslint-disable @typescript-eslint/no-explicit-any */
async function getJson(url: string, init: RequestInit = {}, timeoutMs = 3000): Promise<any> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${body.toString('utf8')}`);
  return (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(body.toString('utf8')) : body;
}

/** This machine's address on the way to `host` (where boards reach the receivers). */
async function addressTowards(host: string): Promise<string> {
  const { address } = await lookup(host.replace(/:\d+$/, ''), { family: 4 });
  const src = / src (\S+)/.exec(runSync('ip', ['route', 'get', address]).stdout)?.[1];
  if (src === undefined) throw new Error(`no route to the WalT server ${address}: give --receiver-host`);
  return src;
}

const real = realBoardsFromEnv();
const needs = skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm') ? 'weston or its demo clients are missing' : null;
const base = walthamBinMissing() ?? needs;
const why = real !== null ? 'real-board mode (--walt-server): the WalT nodes are the boards' : (base ?? netnsUnavailable() ?? (fixturesPresent ? null : '../shared/walt-fixtures is missing (the WalT stand-in serves it)'));
const whyNotQemu = why ?? qemuUnavailable();
if (real !== null) console.log(`board suite: on the WalT nodes ${real.nodes.join(', ')} of ${real.waltServer}`);
else if (why !== null) console.log(`skipping the board suite: ${why}`);
else console.log(`board suite: on network-namespace boards${whyNotQemu === null ? ' and on qemu boards' : `; not on qemu boards: ${whyNotQemu}`}`);

const whyNotArm = why ?? qemuUnavailable('arm64') ?? arm64NotRequested();
if (why === null) console.log(whyNotArm === null ? 'board suite: and one qemu arm64 board' : `board suite: no qemu arm64 board: ${whyNotArm}`);

boardSuite('netns', why);
boardSuite('qemu', whyNotQemu);
boardSuite('walt', real === null ? 'no --walt-server (real-board mode)' : base);
arm64Board(whyNotArm);

/**
 * One arm64 board (qemu -M virt, Debian arm64, Node 20 for arm64, the native
 * addon cross-built for aarch64): the build a Raspberry Pi 4/5 boots works on
 * its architecture. Emulated arm64 is slow: only its window on the host's
 * receiver is checked.
 */
function arm64Board(skip: string | null): void {
  describe.skipIf(skip !== null)('boards (qemu arm64)', () => {
    const BOOT = 20 * 60_000;
    const cleanup = new Cleanup();
    afterAll(() => cleanup.run(), TIMEOUT);

    it("the arm64 board's application window appears on the host's receiver", { timeout: 60 * 60_000 }, async () => {
      const disk = await prepareQemuDisk('arm64', (line) => console.log(line));
      cleanup.defer(() => disk.destroy(), 'the arm64 disk');
      const net = await createBoardNetwork(1, 'tap');
      cleanup.defer(() => net.destroy(), 'the board network');
      const weston = cleanup.add(await startWeston({ width: 800, height: 600 }));
      const receiver = cleanup.add(await startReceiver(weston.env, ['--listen', `${net.hostIp}:0`]));
      const board = new QemuBoard({ name: 'vboard-arm64', index: 1, address: net.boards[0]!, prefix: net.prefix, disk, to: `${receiver.host}:${receiver.port}` });
      cleanup.defer(() => board.destroy(), board.name);
      const started = Date.now();
      await board.start(BOOT).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logTails({ receiver: receiver.process })}`)));
      console.log(`qemu arm64: status endpoint up ${Math.round((Date.now() - started) / 1000)} s after power-on`);
      const status = await getJson(`${board.statusUrl}/status`);
      expect(status.service).toBe('waltham-transmitter');
      await weston
        .waitForView((v) => v.visible && v.appId === SIMPLE_SHM, BOOT, 'simple-shm from the arm64 board')
        .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logTails({ receiver: receiver.process })}\n${board.tails()}`)));
      const s = await getJson(`${board.statusUrl}/status`);
      expect(s.receivers[0]).toMatchObject({ address: `${receiver.host}:${receiver.port}`, state: 'connected' });
      expect(s.surfaces.map((f: { app_id: string }) => f.app_id)).toContain(SIMPLE_SHM);
    });
  });
}

function boardSuite(kind: Kind, skip: string | null): void {
  describe.skipIf(skip !== null)(`boards (${kind})`, () => {
    /** Boots of a virtual machine take 30-60 s on this machine, a Raspberry Pi's a minute or two; give them room. */
    const BOOT = kind === 'netns' ? TIMEOUT : 300_000;
    const cleanup = new Cleanup();
    let net: BoardNetwork | null = null;
    let westonA: Weston;
    let westonB: Weston;
    let a: Receiver;
    let b: Receiver;
    let aStatus: string;
    let waltham: Waltham;
    /** The application the boards run (simple-shm on virtual boards; whatever the image starts on WalT nodes). */
    let app = SIMPLE_SHM;
    const boards: Board[] = [];
    const shots = mkdtempSync(join(tmpdir(), 'wb-shots-'));
    cleanup.defer(() => rmSync(shots, { recursive: true, force: true }), 'the screenshots');
    const logs = (): string => `${logTails({ 'receiver A': a?.process, 'receiver B': b?.process })}\n${boards.map((x) => x.tails()).join('\n')}`;
    const withLogs = (e: Error): Promise<never> => Promise.reject(new Error(`${e.message}\n${logs()}`));
    /** Peers (transmitter addresses) a receiver's status lists, with their app_ids. */
    const peersOf = async (statusBase: string): Promise<Map<string, string[]>> => {
      const s = await getJson(`${statusBase}/status`);
      return new Map(s.transmitters.map((t: { peer: string; surfaces: { app_id: string }[] }) => [t.peer.split(':')[0], t.surfaces.map((f) => f.app_id)]));
    };
    /** `waltham node show`, the rows of our two boards. */
    const shown = async (): Promise<NodeRow[]> => (await waltham.nodeShow()).filter((r) => boards.some((x) => x.name === r.name));
    const addressOf = (r: Receiver): string => `${r.host}:${r.port}`;

    beforeAll(async () => {
      const o = real as RealBoardsOptions;
      const listenOn = kind === 'walt' ? (o.receiverHost ?? (await addressTowards(o.waltServer))) : null;
      let disk: QemuDisk | null = null;
      if (kind === 'qemu') {
        disk = await prepareQemuDisk('x86_64', (line) => console.log(line));
        cleanup.defer(() => disk!.destroy(), 'the qemu disk');
      }
      if (kind !== 'walt') {
        net = await createBoardNetwork(2, kind === 'qemu' ? 'tap' : 'netns');
        cleanup.defer(() => net!.destroy(), 'the board network');
      }
      [westonA, westonB] = await cleanup.addAll([startWeston({ width: 800, height: 600 }), startWeston({ width: 800, height: 600 })] as const);
      const receiverArgs = ['--listen', `${listenOn ?? net!.hostIp}:0`, '--status', '127.0.0.1:0'];
      [a, b] = await cleanup.addAll([startReceiver(westonA.env, receiverArgs), startReceiver(westonB.env, receiverArgs)] as const);
      const statusLine = await a.process.waitForLine(/status on http:\/\/[^ /]+:\d+/, TIMEOUT);
      aStatus = /(http:\/\/[^ /]+:\d+)/.exec(statusLine)![1]!;
      if (kind === 'walt') {
        waltham = new Waltham({ waltServer: o.waltServer, waltCommand: o.walt });
        await deployAndReboot(waltham, o, (line) => console.log(`real boards: ${line}`));
        const listed = await waltham.nodeShow();
        for (const name of o.nodes) {
          const row = listed.find((r) => r.name === name);
          if (row === undefined) throw new Error(`node ${name} runs no waltham image on ${o.waltServer} after the deploy`);
          boards.push(new WaltNodeBoard(name, row.ip, o));
        }
        // The boards come back from the reboot; then both send to receiver A.
        await Promise.all(boards.map((x) => waitFor(`${x.name} up after the reboot`, async () => (await shown()).find((r) => r.name === x.name)?.transmitter === 'up', BOOT, 2000)));
        for (const x of boards as WaltNodeBoard[]) {
          await x.loadToken();
          await waltham.ok(['node', 'connect', x.name, '--to', addressOf(a)], x.token());
        }
        const first = await getJson(`${boards[0]!.statusUrl}/status`);
        app = first.surfaces[0]?.app_id ?? app;
        return;
      }
      const standin = cleanup.add(new WaltStandin({ nodes: [] }), 'the WalT stand-in');
      waltham = new Waltham({ waltServer: await standin.listen(net!.hostIp) });
      for (const [i, address] of net!.boards.entries()) {
        const name = `vboard-${i + 1}`;
        const to = addressOf(a);
        const board =
          disk === null
            ? new NetnsBoard({ name, address, waltServerIp: net!.hostIp, to, app: 'weston-simple-shm' })
            : new QemuBoard({ name, index: i + 1, address, prefix: net!.prefix, disk, to });
        cleanup.defer(() => board.destroy(), board.name);
        boards.push(board);
        standin.addBoard({
          logFile: board instanceof NetnsBoard ? board.logFile : null,
          node: {
            name: board.name,
            model: 'pc-x86-64',
            virtual: true,
            image: 'waltham/waltham-tx-pc:latest',
            booted: true,
            ip: board.ip,
            mac: `52:54:00:00:00:0${i + 1}`,
            config: { netsetup: 'LAN', expose: 'none', 'boot.retries': 9, 'boot.timeout': 180, 'kexec.allow': true, 'mount.persist': true },
          },
        });
      }
      await Promise.all(boards.map((x) => x.start(BOOT))).catch(withLogs);
    }, kind === 'netns' ? 4 * TIMEOUT : 45 * 60_000);

    afterAll(() => cleanup.run(), TIMEOUT);

    it('waltham node show: both boards booted, their transmitters up, sending to receiver A', async () => {
      const rows = await waitFor(
        'both transmitters connected with their window',
        async () => {
          const r = await shown();
          return r.length === 2 && r.every((x) => x.transmitter === 'up' && x.receiver === addressOf(a) && x.surfaces === '1') && r;
        },
        TIMEOUT,
        500,
      ).catch(withLogs);
      expect(rows.map((r) => [r.name, r.ip, r.booted, r.transmitter, r.receiver, r.surfaces])).toEqual(
        boards.map((x) => [x.name, x.ip, 'yes', 'up', addressOf(a), '1']),
      );
      for (const r of rows) expect(Number(r.fps)).toBeGreaterThanOrEqual(0);
    });

    it("the boards' applications appear on receiver A", async () => {
      await waitFor(
        `two ${app} windows on receiver A`,
        async () => (await westonA.sceneGraph()).filter((v) => v.visible && v.appId === app).length === 2,
        TIMEOUT,
      ).catch(withLogs);
      const peers = await peersOf(aStatus);
      for (const board of boards) expect(peers.get(board.ip), `${board.name} on receiver A`).toEqual([app]);
    });

    it('waltham node connect moves board 2 to receiver B, persisted on the board and announced on the WalT log stream', async () => {
      const board = boards[1]!;
      const said = await waltham.ok(['node', 'connect', board.name, '--to', addressOf(b)], board.token());
      const where = board.persistFile === null ? 'not persisted' : `persisted in ${board.persistFile}`;
      expect(said).toMatch(new RegExp(`^${board.name} now sends to ${addressOf(b).replace(/\./g, '\\.')}, \\w+ \\(${where}\\)\\n$`));
      await westonB.waitForView((v) => v.visible && v.appId === app, TIMEOUT, `${app} on receiver B`).catch(withLogs);
      await waitFor('board 2 gone from receiver A', async () => !(await peersOf(aStatus)).has(board.ip), TIMEOUT).catch(withLogs);
      expect((await peersOf(aStatus)).has(boards[0]!.ip)).toBe(true);
      const rows = await shown();
      expect(rows.map((r) => [r.name, r.receiver])).toEqual([
        [boards[0]!.name, addressOf(a)],
        [board.name, addressOf(b)],
      ]);
      // Without the token the board refuses, and says why.
      const refused = await waltham.run(['node', 'connect', board.name, '--to', addressOf(a)], 'wrong-token');
      expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/token/)]);
      if (!board.sendsWaltLogs) return; // no walt-log-echo on this board
      // What a WalT user sees with `walt log show --streams waltham.tx`, through `waltham log`.
      const line = `${board.name}.waltham.tx -> state=ready receiver=${addressOf(b)} `;
      const log = await waitFor('state=ready for receiver B in the WalT logs', async () => {
        const out = await waltham.ok(['log', board.name, '--since', '5m']);
        return out.includes(line) && out;
      }, TIMEOUT);
      expect(log.split('\n').filter((l) => l !== '').every((l) => l.includes(` ${board.name}.waltham.tx -> `))).toBe(true);
    });

    it('waltham node screenshot of board 2 is a PNG showing its application', async () => {
      const board = boards[1]!;
      const file = join(shots, `${board.name}.png`);
      const said = await waltham.ok(['node', 'screenshot', board.name, '-o', file], board.token());
      const image = await decodePng(readFileSync(file));
      expect(said).toBe(`${file}: ${image.width}x${image.height} from ${board.name}\n`);
      if (kind !== 'walt') expect([image.width, image.height]).toEqual([250, 250]);
      // simple-shm draws rings of many colours over the whole window; any real application draws more than a few.
      const colours = new Set<number>();
      for (let i = 0; i < image.data.length; i += 4) if (image.data[i + 3]! > 0) colours.add((image.data[i]! << 16) | (image.data[i + 1]! << 8) | image.data[i + 2]!);
      expect(colours.size).toBeGreaterThan(kind === 'walt' ? 10 : 100);
      const refused = await waltham.run(['node', 'screenshot', board.name, '-o', `${file}.refused`], 'wrong-token');
      expect([refused.code, refused.stderr]).toEqual([1, expect.stringMatching(/token/)]);
    });

    it('board 1 powered off shows down within a few seconds in waltham node show; receiver A drops its window once its pings stop', async () => {
      const board = boards[0]!;
      await board.stop();
      const started = Date.now();
      const row = await waitFor('board 1 down in waltham node show', async () => {
        const r = (await shown()).find((x) => x.name === board.name);
        return (r?.transmitter === '?' || r?.transmitter === 'down') && r;
      }, 10_000, 100).catch(withLogs);
      console.log(`${kind}: board 1 showed ${row.transmitter} ${Date.now() - started} ms after power-off`);
      expect((await shown()).find((x) => x.name === boards[1]!.name)?.transmitter).toBe('up');
      // A process killed in a namespace closes its TCP connections; a machine switched off does not:
      // the receiver then drops it when its pings stop (15 s).
      await waitFor('board 1 gone from receiver A', async () => !(await peersOf(aStatus)).has(board.ip), TIMEOUT, 200).catch(withLogs);
      console.log(`${kind}: receiver A dropped board 1 ${Date.now() - started} ms after power-off`);
      await waitFor(`receiver A shows no ${app} window`, async () => (await westonA.sceneGraph()).every((v) => !(v.visible && v.appId === app)), TIMEOUT).catch(withLogs);
    });

    it('board 1 booted again brings its window back to receiver A by itself', { timeout: BOOT + TIMEOUT }, async () => {
      const board = boards[0]!;
      await board.start(BOOT).catch(withLogs);
      await westonA.waitForView((v) => v.visible && v.appId === app, TIMEOUT, `${app} back on receiver A`).catch(withLogs);
      expect((await peersOf(aStatus)).get(board.ip)).toEqual([app]);
      const row = await waitFor('board 1 up again in waltham node show', async () => {
        const r = (await shown()).find((x) => x.name === board.name);
        return r?.receiver === addressOf(a) && r;
      }, TIMEOUT).catch(withLogs);
      expect([row.transmitter, row.receiver]).toEqual(['up', addressOf(a)]);
      console.log(`${kind}: $ ${waltham.commandLine(['node', 'show'])}\n${await waltham.ok(['node', 'show'])}`);
    });
  });
}
