/**
 * `waltham surface show [NODE...]`: the windows the transmitters send, one
 * line each: app_id, title, size, frame rate, bandwidth, receivers.
 */
import { checkNodeName } from '../../client/names.js';
import { findNode, isTransmitterImage, probeTransmitter } from '../../client/transmitters.js';
import type { Category, Subcommand } from '../command.js';
import { platformOf } from '../platform.js';
import { columnate, paragraph } from '../table.js';

const show: Subcommand = {
  name: 'show',
  summary: "show the transmitters' surfaces (app_id, title, size, fps, bandwidth, receivers)",
  args: '[NODE...]',
  options: {},
  optionsHelp: '  NODE  only these nodes (default: every node running a waltham image)\n',
  positionals: [0, 256],
  async run(inv) {
    const p = platformOf(inv);
    const nodes =
      inv.positionals.length === 0
        ? (await p.walt.nodes()).filter((n) => isTransmitterImage(n.image))
        : await Promise.all(inv.positionals.map((name) => findNode(p, checkNodeName(name))));
    const found = await Promise.all(nodes.map((n) => probeTransmitter(p, n)));
    const rows: string[][] = [];
    const silent: string[] = [];
    nodes.forEach((n, i) => {
      const f = found[i]!;
      if (f.kind !== 'up') {
        silent.push(`${n.name} (${f.kind === 'unknown' ? '?' : f.kind === 'foreign' ? 'other' : 'down'})`);
        return;
      }
      for (const s of f.status.surfaces) {
        rows.push([
          n.name,
          String(s.id),
          s.app_id ?? '',
          s.title ?? '',
          `${s.width}x${s.height}`,
          s.fps.toFixed(1),
          (s.bytes_per_s / 1024).toFixed(1),
          (s.receivers ?? []).join(', ') || 'none',
        ]);
      }
    });
    const note = silent.length === 0 ? null : `No surfaces from: ${silent.join(', ')}.`;
    if (rows.length === 0) {
      inv.out(`\nNo surface.\n${note === null ? '' : `${note}\n`}`);
      return 0;
    }
    inv.out(paragraph('Surfaces:', columnate(['node', 'id', 'app_id', 'title', 'size', 'fps', 'KiB/s', 'receivers'], rows), note, process.stdout.isTTY === true));
    return 0;
  },
};

export const category: Category = {
  name: 'surface',
  summary: 'The windows the transmitters send.',
  subcommands: [show],
};
