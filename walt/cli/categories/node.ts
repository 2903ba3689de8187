/**
 * `waltham node ...`: WalT's nodes joined with their transmitters' state, and
 * the commands that act on one board's transmitter.
 */
import { writeFileSync } from 'node:fs';
import type { Probe } from '../../client/board.js';
import { UsageError } from '../../client/errors.js';
import { formatHostPort, parseHostPort } from '../../client/names.js';
import { RECEIVER_PORT, type TransmitterStatus } from '../../client/status-types.js';
import { findNode, isTransmitterImage, probeTransmitter, transmitterOf, type Platform } from '../../client/transmitters.js';
import type { WaltNodeRecord } from '../../client/walt-api.js';
import type { Category, Invocation, Subcommand } from '../command.js';
import { platformOf } from '../platform.js';
import { columnate, paragraph } from '../table.js';

/** WalT's compact image name: no owner, no `:latest`. */
function compactImage(image: string): string {
  return image.replace(/^[^/]*\//, '').replace(/:latest$/, '');
}

function fps(value: number): string {
  return value.toFixed(1);
}

/** The transmitter columns of `node show`: transmitter, receiver, surfaces, fps. */
export function transmitterColumns(found: Probe<TransmitterStatus> | null): [string, string, string, string] {
  if (found === null) return ['-', '', '', ''];
  switch (found.kind) {
    case 'down':
      return ['down', '', '', ''];
    case 'unknown':
      return ['?', '?', '?', '?'];
    case 'foreign':
      return ['other', '', '', ''];
    case 'up': {
      const s = found.status;
      const receivers = s.receivers.map((r) => (r.state === 'connected' ? r.address : `${r.address} (${r.state})`));
      const total = s.surfaces.reduce((sum, x) => sum + x.fps, 0);
      return ['up', receivers.length === 0 ? 'none' : receivers.join(', '), String(s.surfaces.length), fps(total)];
    }
  }
}

const HEADER = ['name', 'model', 'image', 'ip', 'booted', 'transmitter', 'receiver', 'surfaces', 'fps'];

async function rows(p: Platform, nodes: readonly WaltNodeRecord[], probeAll: boolean): Promise<string[][]> {
  const found = await Promise.all(nodes.map((n) => (probeAll || isTransmitterImage(n.image) ? probeTransmitter(p, n) : Promise.resolve(null))));
  return nodes.map((n, i) => [n.name, n.model, compactImage(n.image), n.ip ?? '', n.booted ? 'yes' : 'NO', ...transmitterColumns(found[i]!)]);
}

const show: Subcommand = {
  name: 'show',
  summary: 'show the nodes and their transmitters (state, receiver, surfaces, fps)',
  args: '[--all] [--names-only]',
  options: { all: { type: 'boolean' }, 'names-only': { type: 'boolean' } },
  optionsHelp: `  --all         show every node, not only the ones running a waltham image
  --names-only  list node names only
  (transmitter: up, down, ? when the board does not answer in time, other when its port answers as something else)
`,
  positionals: 0,
  async run(inv) {
    const p = platformOf(inv);
    const all = inv.values['all'] === true;
    const nodes = await p.walt.nodes();
    const ours = nodes.filter((n) => isTransmitterImage(n.image));
    const others = nodes.filter((n) => !isTransmitterImage(n.image));
    if (inv.values['names-only'] === true) {
      const names = (all ? nodes : ours).map((n) => n.name);
      if (names.length > 0) inv.out(`${names.join('\n')}\n`);
      return 0;
    }
    const tty = process.stdout.isTTY === true;
    const [ourRows, otherRows] = await Promise.all([rows(p, ours, true), all ? rows(p, others, true) : Promise.resolve([])]);
    let text = '';
    if (ours.length === 0) text += '\nNo node runs a waltham image (waltham image deploy NODE).\n';
    else text += paragraph('The following nodes run a waltham image:', columnate(HEADER, ourRows), all ? null : 'Re-run with --all to see all nodes.', tty);
    if (all && others.length > 0) text += paragraph('Other nodes:', columnate(HEADER, otherRows), null, tty);
    if (!all && ours.length === 0) text += '\nRe-run with --all to see all nodes.\n';
    inv.out(text);
    return 0;
  },
};

const connect: Subcommand = {
  name: 'connect',
  summary: "send a node's surfaces to a receiver (persisted on the node)",
  args: 'NODE --to RECEIVER[:PORT]',
  options: { to: { type: 'string' } },
  optionsHelp: '  --to RECEIVER[:PORT]  the receiver (default port 34400)\n',
  positionals: 1,
  async run(inv) {
    const to = inv.values['to'];
    if (typeof to !== 'string') throw new UsageError('missing --to RECEIVER[:PORT]');
    const receiver = formatHostPort(parseHostPort(to, RECEIVER_PORT, '--to'));
    const p = platformOf(inv);
    const { endpoint } = await transmitterOf(p, await findNode(p, inv.positionals[0]!));
    const status = await endpoint.connect(receiver);
    const link = status.receivers.find((r) => r.address === receiver);
    const where = status.persisted === null ? ' (not persisted)' : ` (persisted in ${status.persisted})`;
    inv.out(`${endpoint.name} now sends to ${receiver}${link === undefined ? '' : `, ${link.state}`}${where}\n`);
    return 0;
  },
};

const disconnect: Subcommand = {
  name: 'disconnect',
  summary: "stop sending a node's surfaces (persisted on the node)",
  args: 'NODE',
  options: {},
  positionals: 1,
  async run(inv) {
    const p = platformOf(inv);
    const { endpoint } = await transmitterOf(p, await findNode(p, inv.positionals[0]!));
    await endpoint.disconnect();
    inv.out(`${endpoint.name} sends to no receiver now\n`);
    return 0;
  },
};

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const screenshot: Subcommand = {
  name: 'screenshot',
  summary: "save what a node's applications show as a PNG",
  args: 'NODE [-o FILE.png]',
  options: { output: { type: 'string', short: 'o' } },
  optionsHelp: '  -o, --output FILE.png  where to write it (default NODE.png; - for standard output)\n',
  positionals: 1,
  async run(inv: Invocation) {
    const p = platformOf(inv);
    const { endpoint } = await transmitterOf(p, await findNode(p, inv.positionals[0]!));
    const png = await endpoint.screenshot();
    const file = (inv.values['output'] as string | undefined) ?? `${endpoint.name}.png`;
    if (file === '-') {
      process.stdout.write(png);
      return 0;
    }
    writeFileSync(file, png);
    const { width, height } = pngSize(png);
    inv.out(`${file}: ${width}x${height} from ${endpoint.name}\n`);
    return 0;
  },
};

export const category: Category = {
  name: 'node',
  summary: 'WalT nodes as transmitters: their state, where they send their surfaces, what they show.',
  subcommands: [show, connect, disconnect, screenshot],
};
