/** The platform a subcommand talks to, from the global options. */
import { boardToken } from '../client/board.js';
import { UsageError } from '../client/errors.js';
import type { Platform } from '../client/transmitters.js';
import { WaltApi } from '../client/walt-api.js';
import { waltServer } from '../client/walt-config.js';
import type { Invocation } from './command.js';

export function intOption(inv: Invocation, name: string, min: number, max: number): number | undefined {
  const text = inv.values[name];
  if (typeof text !== 'string') return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${name} ${text}: expected an integer in ${min}..${max}`);
  return n;
}

export function platformOf(inv: Invocation): Platform {
  const { address } = waltServer(inv.values['walt-server'] as string | undefined);
  const statusPort = intOption(inv, 'status-port', 1, 65535);
  const timeoutMs = intOption(inv, 'timeout', 1, 600_000);
  return {
    walt: new WaltApi(address),
    server: address,
    token: boardToken(inv.values['token'] as string | undefined),
    ...(statusPort === undefined ? {} : { statusPort }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}
