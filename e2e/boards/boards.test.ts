/**
 * The board suite on virtual boards: two network-namespace boards (each runs
 * the image's own start scripts: weston headless, waltham-transmitter with
 * its status endpoint and weston-simple-shm), listed by a WalT stand-in
 * server, and two receivers on the host, each on its own headless weston.
 *
 * Scenarios, in order (each builds on the previous one):
 * the WalT node list joined with the boards' transmitter status shows both
 * up; their windows appear on receiver A; a control request moves board 2 to
 * receiver B; a screenshot of board 2 shows its application; board 1 powered
 * off shows down within seconds; board 1 booted again brings its window back.
 *
 * The same scenarios run on network-namespace boards (processes in a
 * namespace each) and, where qemu runs, on qemu virtual machines booted from
 * a root file system made by the image's provisioning script (the first run
 * builds and caches it: minutes). The suite says which ones run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../bridge.js';
import { decodePng, skipUnless, startWeston, waitFor, type Weston } from '../harness/index.js';
import { Cleanup, logTails } from '../scenario.js';
import { createBoardNetwork, netnsUnavailable, type BoardNetwork } from './network.js';
import { NetnsBoard } from './netns-board.js';
import { arm64NotRequested, prepareQemuDisk, QemuBoard, qemuUnavailable, type QemuDisk } from './qemu/qemu-board.js';
import { WaltStandin, type StandinNode } from './walt-standin.js';

/** What the scenarios need of a board, namespace or virtual machine. */
interface Board {
  readonly name: string;
  readonly ip: string;
  readonly statusUrl: string;
  /** Where a control request persists the receiver; null when the board has no /persist. */
  readonly persistFile: string | null;
  /** Its walt-log-echo lines; null when it has no walt-log-echo. */
  readonly logFile: string | null;
  token(): string;
  start(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  tails(): string;
  destroy(): Promise<void>;
}
type Kind = 'netns' | 'qemu';

const SIMPLE_SHM = 'org.freedesktop.weston.simple-shm';
const TIMEOUT = 60_000;

/* eslint-disable @typescript-eslint/no-explicit-any */
async function getJson(url: string, init: RequestInit = {}, timeoutMs = 3000): Promise<any> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${body.toString('utf8')}`);
  return (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(body.toString('utf8')) : body;
}

/** A row of `waltham node show`: the WalT node joined with its transmitter's status (`?` when it does not answer). */
interface NodeRow {
  name: string;
  booted: boolean;
  transmitter: 'up' | '?';
  receiver: string | null;
  state: string | null;
  surfaces: string[];
}

async function nodeShow(walt: string): Promise<NodeRow[]> {
  const { nodes } = (await getJson(`http://${walt}/api/v1/nodes`, { headers: { Prefer: 'errors=json' } })) as { nodes: StandinNode[] };
  return Promise.all(
    nodes.map(async (n) => {
      try {
        const s = await getJson(`http://${n.ip}:34401/status`, {}, 1000);
        return {
          name: n.name,
          booted: n.booted,
          transmitter: 'up' as const,
          receiver: s.receivers[0]?.address ?? null,
          state: s.receivers[0]?.state ?? null,
          surfaces: s.surfaces.map((f: { app_id: string }) => f.app_id),
        };
      } catch {
        return { name: n.name, booted: n.booted, transmitter: '?' as const, receiver: null, state: null, surfaces: [] };
      }
    }),
  );
}

const why = netnsUnavailable() ?? (skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm') ? 'weston or its demo clients are missing' : null);
const whyNotQemu = why ?? qemuUnavailable();
if (why !== null) console.log(`skipping the board suite: ${why}`);
else console.log(`board suite: on network-namespace boards${whyNotQemu === null ? ' and on qemu boards' : `; not on qemu boards: ${whyNotQemu}`}`);

const whyNotArm = why ?? qemuUnavailable('arm64') ?? arm64NotRequested();
if (why === null) console.log(whyNotArm === null ? 'board suite: and one qemu arm64 board' : `board suite: no qemu arm64 board: ${whyNotArm}`);

boardSuite('netns', why);
boardSuite('qemu', whyNotQemu);
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
    /** Boots of a virtual machine take 30-60 s on this machine; give them room. */
    const BOOT = kind === 'qemu' ? 300_000 : TIMEOUT;
    const cleanup = new Cleanup();
    let net: BoardNetwork;
    let westonA: Weston;
    let westonB: Weston;
    let a: Receiver;
    let b: Receiver;
    let aStatus: string;
    let walt: string;
    let standin: WaltStandin;
    const boards: Board[] = [];
    const logs = (): string => `${logTails({ 'receiver A': a?.process, 'receiver B': b?.process })}\n${boards.map((x) => x.tails()).join('\n')}`;
    const withLogs = (e: Error): Promise<never> => Promise.reject(new Error(`${e.message}\n${logs()}`));
    /** Peers (transmitter addresses) a receiver's status lists, with their app_ids. */
    const peersOf = async (statusBase: string): Promise<Map<string, string[]>> => {
      const s = await getJson(`${statusBase}/status`);
      return new Map(s.transmitters.map((t: { peer: string; surfaces: { app_id: string }[] }) => [t.peer.split(':')[0], t.surfaces.map((f) => f.app_id)]));
    };

    beforeAll(async () => {
      let disk: QemuDisk | null = null;
      if (kind === 'qemu') {
        disk = await prepareQemuDisk('x86_64', (line) => console.log(line));
        cleanup.defer(() => disk!.destroy(), 'the qemu disk');
      }
      net = await createBoardNetwork(2, kind === 'qemu' ? 'tap' : 'netns');
      cleanup.defer(() => net.destroy(), 'the board network');
      [westonA, westonB] = await cleanup.addAll([startWeston({ width: 800, height: 600 }), startWeston({ width: 800, height: 600 })] as const);
      const receiverArgs = ['--listen', `${net.hostIp}:0`, '--status', '127.0.0.1:0'];
      [a, b] = await cleanup.addAll([startReceiver(westonA.env, receiverArgs), startReceiver(westonB.env, receiverArgs)] as const);
      const statusLine = await a.process.waitForLine(/status on http:\/\/[^ /]+:\d+/, TIMEOUT);
      aStatus = /(http:\/\/[^ /]+:\d+)/.exec(statusLine)![1]!;
      standin = cleanup.add(new WaltStandin(), 'the WalT stand-in');
      walt = await standin.listen(net.hostIp);
      for (const [i, address] of net.boards.entries()) {
        const name = `vboard-${i + 1}`;
        const to = `${a.host}:${a.port}`;
        const board: Board =
          disk === null
            ? new NetnsBoard({ name, address, waltServerIp: net.hostIp, to, app: 'weston-simple-shm' })
            : new QemuBoard({ name, index: i + 1, address, prefix: net.prefix, disk, to });
        cleanup.defer(() => board.destroy(), board.name);
        boards.push(board);
        standin.boards.push({
          logFile: board.logFile ?? '/nonexistent',
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
    }, kind === 'qemu' ? 45 * 60_000 : 4 * TIMEOUT);

    afterAll(() => cleanup.run(), TIMEOUT);

    it('the WalT node list with each transmitter: both boards up, connected to receiver A, showing simple-shm', async () => {
      const rows = await waitFor(
        'both transmitters connected with their window',
        async () => {
          const r = await nodeShow(walt);
          return r.length === 2 && r.every((x) => x.state === 'connected' && x.surfaces.includes(SIMPLE_SHM)) && r;
        },
        TIMEOUT,
      ).catch(withLogs);
      expect(rows.map((r) => [r.name, r.booted, r.transmitter, r.receiver])).toEqual([
        ['vboard-1', true, 'up', `${a.host}:${a.port}`],
        ['vboard-2', true, 'up', `${a.host}:${a.port}`],
      ]);
    });

    it("the boards' applications appear on receiver A", async () => {
      await waitFor(
        'two simple-shm windows on receiver A',
        async () => (await westonA.sceneGraph()).filter((v) => v.visible && v.appId === SIMPLE_SHM).length === 2,
        TIMEOUT,
      ).catch(withLogs);
      const peers = await peersOf(aStatus);
      for (const board of boards) expect(peers.get(board.ip), `${board.name} on receiver A`).toEqual([SIMPLE_SHM]);
    });

    it('a control request moves board 2 to receiver B, persisted on the board and announced on the WalT log stream', async () => {
      const board = boards[1]!;
      const before = Date.now() / 1000;
      const moved = await getJson(`${board.statusUrl}/control/connect`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${board.token()}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ to: `${b.host}:${b.port}` }),
      });
      expect(moved.receivers.map((r: { address: string }) => r.address)).toEqual([`${b.host}:${b.port}`]);
      expect(moved.persisted).toBe(board.persistFile);
      await westonB.waitForView((v) => v.visible && v.appId === SIMPLE_SHM, TIMEOUT, 'simple-shm on receiver B').catch(withLogs);
      await waitFor('board 2 gone from receiver A', async () => !(await peersOf(aStatus)).has(board.ip), TIMEOUT).catch(withLogs);
      expect((await peersOf(aStatus)).has(boards[0]!.ip)).toBe(true);
      const rows = await nodeShow(walt);
      expect(rows.find((r) => r.name === board.name)?.receiver).toBe(`${b.host}:${b.port}`);
      if (board.logFile === null) return; // no walt-log-echo on this board
      // What a WalT user sees with `walt log show --streams waltham.tx`.
      const stream = await waitFor(
        'state=ready for receiver B in the WalT logs',
        async () => {
          const l = await getJson(`http://${walt}/api/v1/logs?from=${before - 1}&to=${Date.now() / 1000}&issuer=${board.name}&stream=waltham%5C.tx`);
          return l.logs.some((x: { line: string }) => x.line.startsWith(`state=ready receiver=${b.host}:${b.port} `)) && l.logs;
        },
        TIMEOUT,
      );
      expect(stream.every((x: { issuer: string; stream: string }) => x.issuer === board.name && x.stream === 'waltham.tx')).toBe(true);
    });

    it("a screenshot of board 2 is a PNG showing its application", async () => {
      const board = boards[1]!;
      const png = (await getJson(`${board.statusUrl}/screenshot.png`, { headers: { Authorization: `Bearer ${board.token()}` } })) as Buffer;
      const image = await decodePng(png);
      expect([image.width, image.height]).toEqual([250, 250]);
      // simple-shm draws rings of many colours over the whole window.
      const colours = new Set<number>();
      for (let i = 0; i < image.data.length; i += 4) if (image.data[i + 3]! > 0) colours.add((image.data[i]! << 16) | (image.data[i + 1]! << 8) | image.data[i + 2]!);
      expect(colours.size).toBeGreaterThan(100);
      await expect(getJson(`${board.statusUrl}/screenshot.png`, { headers: { Authorization: 'Bearer wrong' } })).rejects.toThrow(/HTTP 401/);
    });

    it('board 1 powered off shows down within a few seconds; receiver A drops its window once its pings stop', async () => {
      const board = boards[0]!;
      await board.stop();
      const started = Date.now();
      await waitFor('board 1 down in the node list', async () => (await nodeShow(walt)).find((r) => r.name === board.name)?.transmitter === '?', 10_000, 100).catch(withLogs);
      console.log(`${kind}: board 1 showed down ${Date.now() - started} ms after power-off`);
      // A process killed in a namespace closes its TCP connections; a machine switched off does not:
      // the receiver then drops it when its pings stop (15 s).
      await waitFor('board 1 gone from receiver A', async () => !(await peersOf(aStatus)).has(board.ip), TIMEOUT, 200).catch(withLogs);
      console.log(`${kind}: receiver A dropped board 1 ${Date.now() - started} ms after power-off`);
      await waitFor('receiver A shows no simple-shm window', async () => (await westonA.sceneGraph()).every((v) => !(v.visible && v.appId === SIMPLE_SHM)), TIMEOUT).catch(withLogs);
    });

    it('board 1 booted again brings its window back to receiver A by itself', { timeout: BOOT + TIMEOUT }, async () => {
      const board = boards[0]!;
      await board.start(BOOT).catch(withLogs);
      await westonA.waitForView((v) => v.visible && v.appId === SIMPLE_SHM, TIMEOUT, 'simple-shm back on receiver A').catch(withLogs);
      expect((await peersOf(aStatus)).get(board.ip)).toEqual([SIMPLE_SHM]);
      const row = (await nodeShow(walt)).find((r) => r.name === board.name)!;
      expect([row.transmitter, row.receiver]).toEqual(['up', `${a.host}:${a.port}`]);
    });
  });
}
