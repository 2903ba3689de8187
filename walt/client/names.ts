/**
 * Names checked before they go into a WalT query or a URL. WalT's server pastes
 * some of them (the logs' `issuer`) into SQL unescaped
 * (../shared/walt-fixtures/README.md), so nothing unchecked is ever sent.
 */
import { UsageError } from './errors.js';

/** WalT device names: a letter, then letters, digits and dashes; 2 characters or more. */
const NODE_NAME = /^[a-zA-Z][a-zA-Z0-9-]+$/;
/** WalT image names: `[user/]name[:tag]`, name and tag in `[a-z0-9-]+`. */
const IMAGE_NAME = /^(?:[a-zA-Z0-9][a-zA-Z0-9_.-]*\/)?[a-z0-9-]+(?::[a-z0-9-]+)?$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

export function checkNodeName(name: string): string {
  if (!NODE_NAME.test(name)) throw new UsageError(`invalid node name '${name}': a letter, then letters, digits or dashes (2 characters or more)`);
  return name;
}

/** A WalT node set: `name`, `name1,name2`, or `all-nodes`/`my-nodes`. */
export function checkNodeSet(set: string): string[] {
  if (set === 'all-nodes' || set === 'my-nodes') return [set];
  return set.split(',').map(checkNodeName);
}

export function checkImageName(name: string): string {
  if (!IMAGE_NAME.test(name)) throw new UsageError(`invalid image name '${name}': [user/]name[:tag], name and tag in a-z, 0-9 and '-'`);
  return name;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `HOST[:PORT]` or `[IPV6][:PORT]`, with `what` naming the option in errors. */
export function parseHostPort(text: string, defaultPort: number, what: string): HostPort {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  if (m === null || !HOST.test(m[1]!)) throw new UsageError(`${what} ${text}: expected HOST[:PORT]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${what} ${text}: port must be 1..65535`);
  return { host: m[1]!, port };
}

export function formatHostPort(addr: HostPort): string {
  return `${addr.host}:${addr.port}`;
}

/** The host part as node:http wants it (no brackets around IPv6). */
export function bareHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
