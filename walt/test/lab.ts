/**
 * A test lab for the `waltham` CLI and API: the WalT server stand-in, with
 * the fixtures' nodes (plus two) pointed at board stand-ins on loopback
 * addresses (127.0.0.N, one port for all), and a receiver stand-in:
 *
 * | node        | image      | board                                              |
 * | ----------- | ---------- | -------------------------------------------------- |
 * | rpi-cluster | ours       | transmitter, sends 1 surface to the receiver       |
 * | rpi-free    | WalT's     | not booted, nothing listens                        |
 * | rpi-nat     | ours, NAT  | behind the server's port (expose): never answers   |
 * | rpi-other   | ours       | its port answers, but not as our transmitter       |
 * | rpi-stopped | ours       | booted, nothing listens (transmitter down)         |
 * | vnode-ci    | ours       | transmitter, 2 surfaces, still connecting          |
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WaltNodeRecord } from '../client/walt-api.js';
import { ForeignBoard, ReceiverStandin, SilentBoard, TransmitterStandin } from './board-standin.js';
import { fixture, WaltStandin } from './walt-standin.js';

export const LAB_TOKEN = 'lab-token-3b9f';
export const RECEIVER_IP = '127.0.0.10';

export interface Lab {
  /** `--walt-server` */
  readonly waltServer: string;
  /** `--status-port` */
  readonly statusPort: number;
  readonly walt: WaltStandin;
  readonly cluster: TransmitterStandin;
  readonly vnode: TransmitterStandin;
  readonly receiver: ReceiverStandin;
  /** Where the boards persist their receiver. */
  readonly dir: string;
  /** The CLI's global options for this lab. */
  readonly args: string[];
  close(): Promise<void>;
}

function node(base: WaltNodeRecord, changes: Partial<WaltNodeRecord>): WaltNodeRecord {
  return { ...base, ...changes };
}

export interface LabOptions {
  /** rpi-nat's exposed port accepts and never answers (default); false: nothing listens there (down at once). */
  readonly silentNat?: boolean;
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await tryLab(options.silentNat ?? true);
    } catch (err) {
      // Another process took the port on one of the addresses: pick another.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 5) throw err;
    }
  }
}

async function tryLab(silentNat: boolean): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'waltham-lab-'));
  const closers: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const cluster = new TransmitterStandin({
      hostname: 'rpi-cluster',
      token: LAB_TOKEN,
      receivers: [`${RECEIVER_IP}:34400`],
      surfaces: [{ id: 3, app_id: 'org.example.cluster', title: 'Cluster', width: 80, height: 48, fps: 59.7, bytes_per_s: 183402.5, rgb: [200, 30, 30] }],
      persistFile: join(dir, 'rpi-cluster.env'),
      log: [
        { time: '2026-12-04T19:10:00.100Z', level: 'info', msg: 'virtual display waltham-0 ready' },
        { time: '2026-12-04T19:10:01.250Z', level: 'info', msg: `connected to to-1 (${RECEIVER_IP}:34400)` },
      ],
    });
    const statusPort = await cluster.listen('127.0.0.2');
    closers.push(() => cluster.close());
    const vnode = new TransmitterStandin({
      hostname: 'vnode-ci',
      token: LAB_TOKEN,
      receivers: [`${RECEIVER_IP}:34400`],
      surfaces: [
        { id: 3, app_id: 'weston-simple-shm', title: 'simple-shm', width: 25, height: 25, fps: 30, bytes_per_s: 75000, rgb: [30, 200, 30] },
        { id: 9, app_id: 'foot', title: 'foot', width: 40, height: 30, fps: 2, bytes_per_s: 4800, rgb: [30, 30, 200] },
      ],
      persistFile: join(dir, 'vnode-ci.env'),
    });
    vnode.receivers = vnode.receivers.map((r) => ({ ...r, state: 'connecting', last_error: 'connection refused' }));
    await vnode.listen('127.0.0.5', statusPort);
    closers.push(() => vnode.close());
    const other = new ForeignBoard();
    await other.listen('127.0.0.6', statusPort);
    closers.push(() => other.close());
    // rpi-nat sits behind the WalT server's NAT: its status port is the server's exposed port.
    const silent = new SilentBoard();
    await silent.listen('127.0.0.1', 0);
    if (silentNat) closers.push(() => silent.close());
    else await silent.close();
    const receiver = new ReceiverStandin('ivi-head', [
      { peer: '127.0.0.2:51234', state: 'connected', since: new Date().toISOString(), bytes_per_s: 183402.5, surfaces: cluster.status().surfaces.map(({ receivers: _, ...s }) => s) },
    ]);
    await receiver.listen(RECEIVER_IP, statusPort);
    closers.push(() => receiver.close());

    const base = fixture<{ nodes: WaltNodeRecord[] }>('nodes').nodes;
    const byName = (n: string): WaltNodeRecord => base.find((x) => x.name === n)!;
    const nodes = [
      node(byName('rpi-cluster'), { ip: '127.0.0.2' }),
      node(byName('rpi-free'), { ip: '127.0.0.3' }),
      node(byName('rpi-nat'), { ip: '127.0.0.4', config: { ...byName('rpi-nat').config, expose: `${silent.port}:${statusPort}` } }),
      node(byName('rpi-cluster'), { name: 'rpi-other', ip: '127.0.0.6', mac: 'dc:a6:32:5e:10:06' }),
      node(byName('rpi-cluster'), { name: 'rpi-stopped', ip: '127.0.0.7', mac: 'dc:a6:32:5e:10:07' }),
      node(byName('vnode-ci'), { ip: '127.0.0.5' }),
    ];
    const walt = new WaltStandin({ nodes });
    const waltServer = await walt.listen('127.0.0.1');
    closers.push(() => walt.close());
    return {
      waltServer,
      statusPort,
      walt,
      cluster,
      vnode,
      receiver,
      dir,
      args: ['--walt-server', waltServer, '--status-port', String(statusPort)],
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
