/**
 * `waltham receiver show`: the receivers the transmitters send to (as the
 * transmitters report them, plus any given on the command line), each with
 * its own status endpoint's view: up or not, its transmitters, its surfaces.
 */
import { probe } from '../../client/board.js';
import { bareHost, formatHostPort, parseHostPort } from '../../client/names.js';
import { RECEIVER_PORT, STATUS_PORT, type ReceiverStatus } from '../../client/status-types.js';
import { isTransmitterImage, probeTransmitter } from '../../client/transmitters.js';
import type { Category, Subcommand } from '../command.js';
import { platformOf } from '../platform.js';
import { columnate, paragraph } from '../table.js';

interface Seen {
  /** Node name → link state, as the transmitters report it. */
  readonly transmitters: Map<string, string>;
  surfaces: number;
}

const show: Subcommand = {
  name: 'show',
  summary: 'show the receivers, their transmitters and surfaces',
  args: '[RECEIVER[:PORT]...]',
  options: {},
  optionsHelp: '  RECEIVER[:PORT]  also show these receivers (default port 34400)\n',
  positionals: [0, 64],
  async run(inv) {
    const p = platformOf(inv);
    const seen = new Map<string, Seen>();
    const entry = (addr: string): Seen => {
      let e = seen.get(addr);
      if (e === undefined) seen.set(addr, (e = { transmitters: new Map(), surfaces: 0 }));
      return e;
    };
    for (const r of inv.positionals) entry(formatHostPort(parseHostPort(r, RECEIVER_PORT, 'receiver')));
    const nodes = (await p.walt.nodes()).filter((n) => isTransmitterImage(n.image));
    const found = await Promise.all(nodes.map((n) => probeTransmitter(p, n)));
    const nodeByIp = new Map(nodes.filter((n) => n.ip !== null).map((n) => [n.ip!, n.name]));
    found.forEach((f, i) => {
      if (f.kind !== 'up') return;
      for (const r of f.status.receivers) {
        const e = entry(r.address);
        e.transmitters.set(nodes[i]!.name, r.state);
        e.surfaces += f.status.surfaces.filter((s) => s.receivers === undefined || s.receivers.includes(r.address)).length;
      }
    });
    const addrs = [...seen.keys()].sort();
    const statusPort = p.statusPort ?? STATUS_PORT;
    const probes = await Promise.all(
      addrs.map((a) => probe<ReceiverStatus>({ host: parseHostPort(a, RECEIVER_PORT, 'receiver').host, port: statusPort }, 'waltham-receiver', p.timeoutMs)),
    );
    const rows = addrs.map((addr, i) => {
      const e = seen.get(addr)!;
      const f = probes[i]!;
      const names = [...e.transmitters].map(([n, state]) => (state === 'connected' ? n : `${n} (${state})`));
      let state = f.kind === 'up' ? 'up' : f.kind === 'down' ? 'down' : f.kind === 'foreign' ? 'other' : '?';
      let surfaces = String(e.surfaces);
      if (f.kind === 'up') {
        for (const t of f.status.transmitters) {
          const ip = bareHost(t.peer.replace(/:\d+$/, ''));
          const name = nodeByIp.get(ip);
          if (name === undefined) names.push(t.peer);
          else if (!e.transmitters.has(name)) names.push(name);
        }
        surfaces = String(f.status.transmitters.reduce((sum, t) => sum + t.surfaces.length, 0));
        state = `up ${f.status.version}`;
      }
      return [addr, state, names.length === 0 ? 'none' : names.join(', '), surfaces];
    });
    if (rows.length === 0) {
      inv.out('\nNo receiver: no transmitter sends anywhere (waltham node connect NODE --to RECEIVER).\n');
      return 0;
    }
    inv.out(paragraph('Receivers:', columnate(['receiver', 'status', 'transmitters', 'surfaces'], rows), null, process.stdout.isTTY === true));
    return 0;
  },
};

export const category: Category = {
  name: 'receiver',
  summary: 'The receivers that show the transmitters\' surfaces.',
  subcommands: [show],
};
