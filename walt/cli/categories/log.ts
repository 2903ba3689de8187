/**
 * `waltham log NODE`: a node's transmitter log. From WalT's logs API (stream
 * `waltham.tx`, where the transmitter echoes its state) when the WalT server
 * has it; `--board` reads the transmitter's own recent log lines instead
 * (status endpoint, token).
 */
import { UsageError } from '../../client/errors.js';
import { findNode, transmitterOf } from '../../client/transmitters.js';
import { WALT_LOGS_EPOCH } from '../../client/walt-api.js';
import type { Category, Subcommand } from '../command.js';
import { intOption, platformOf } from '../platform.js';

/** `30s`, `15m`, `2h`, `7d` → seconds. */
export function duration(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (m === null) throw new UsageError(`--since ${text}: expected a duration like 30s, 15m, 2h or 7d`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function clock(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}`;
}

const show: Subcommand = {
  name: 'show',
  summary: "print a node's transmitter log",
  args: 'NODE [--since DURATION] [--board [--lines N]]',
  options: { since: { type: 'string' }, board: { type: 'boolean' }, lines: { type: 'string' } },
  optionsHelp: `  --since DURATION  only the last 30s, 15m, 2h, 7d... (default: all WalT keeps)
  --board           the transmitter's own recent lines (status endpoint, needs the token)
  --lines N         with --board: how many (default 100)
`,
  positionals: 1,
  async run(inv) {
    const p = platformOf(inv);
    const node = await findNode(p, inv.positionals[0]!);
    if (inv.values['board'] === true) {
      const { endpoint } = await transmitterOf(p, node);
      const lines = await endpoint.log(intOption(inv, 'lines', 1, 1000) ?? 100);
      inv.out(lines.map((l) => `${l.time.replace('T', ' ').replace('Z', '')} ${l.level.padEnd(5)} ${l.msg}\n`).join(''));
      return 0;
    }
    const to = Date.now() / 1000 + 1;
    const since = inv.values['since'];
    const from = typeof since === 'string' ? to - 1 - duration(since) : WALT_LOGS_EPOCH + 1;
    const logs = await p.walt.logs({ from, to, issuer: node.name, stream: 'waltham\\.tx' });
    if (logs.length === 0) {
      inv.err(`no waltham.tx log line from ${node.name} on the WalT server${typeof since === 'string' ? ` in the last ${since}` : ''} (--board reads the transmitter's own log)\n`);
      return 0;
    }
    inv.out(logs.map((l) => `${clock(l.timestamp)} ${l.issuer}.${l.stream} -> ${l.line}\n`).join(''));
    return 0;
  },
};

export const category: Category = {
  name: 'log',
  summary: "A node's transmitter log ('waltham log NODE' is 'waltham log show NODE').",
  subcommands: [show],
  defaultSubcommand: 'show',
};
