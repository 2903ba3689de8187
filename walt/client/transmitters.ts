/**
 * WalT nodes joined with their transmitters: which nodes run our image, where
 * each one's status endpoint is, what it says, and the checks every command
 * that talks to one board makes first (the node exists, runs our image,
 * answers).
 */
import { WalthamError } from './errors.js';
import { BoardEndpoint, probe, statusAddress, STATUS_TIMEOUT_MS, type Probe } from './board.js';
import { checkNodeName, formatHostPort, type HostPort } from './names.js';
import { STATUS_PORT, type TransmitterStatus } from './status-types.js';
import type { WaltApi, WaltNodeRecord } from './walt-api.js';

/** Our images are named `<user>/waltham-tx-<arch>:<tag>` (../shared/walt-fixtures/README.md). */
export function isTransmitterImage(image: string): boolean {
  return /(?:^|\/)waltham-tx-[a-z0-9-]+(?::[a-z0-9-]+)?$/.test(image);
}

export interface Platform {
  readonly walt: WaltApi;
  /** The WalT server's address (for nodes behind its NAT). */
  readonly server: HostPort;
  readonly statusPort?: number;
  readonly timeoutMs?: number;
  readonly token: string | null;
}

export function nodeStatusAddress(p: Platform, node: WaltNodeRecord): HostPort | null {
  return statusAddress(node, p.server, p.statusPort ?? STATUS_PORT);
}

/** A node's transmitter state; nodes not booted are down without asking. */
export function probeTransmitter(p: Platform, node: WaltNodeRecord): Promise<Probe<TransmitterStatus>> {
  if (!node.booted) return Promise.resolve({ kind: 'down', reason: 'node not booted' });
  return probe<TransmitterStatus>(nodeStatusAddress(p, node), 'waltham-transmitter', p.timeoutMs ?? STATUS_TIMEOUT_MS);
}

export async function findNode(p: Platform, name: string): Promise<WaltNodeRecord> {
  const [node] = await p.walt.nodes({ name: checkNodeName(name) });
  if (node === undefined) throw new WalthamError('ERR_NODE_UNKNOWN', `unknown node '${name}' (waltham node show --all lists the nodes)`);
  return node;
}

/**
 * The endpoint of a node's transmitter, once it has answered as ours: else an
 * error that says why (not our image, not booted, does not answer).
 */
export async function transmitterOf(p: Platform, node: WaltNodeRecord): Promise<{ endpoint: BoardEndpoint; status: TransmitterStatus }> {
  const addr = nodeStatusAddress(p, node);
  const found = await probeTransmitter(p, node);
  if (found.kind === 'up') return { endpoint: new BoardEndpoint(node.name, addr!, p.token), status: found.status };
  if (!isTransmitterImage(node.image) && found.kind !== 'unknown') {
    throw new WalthamError('ERR_NOT_OUR_IMAGE', `node ${node.name} runs ${node.image}, not a waltham image (waltham image deploy ${node.name})`);
  }
  if (found.kind === 'foreign') {
    throw new WalthamError('ERR_NOT_OUR_IMAGE', `node ${node.name} is not running our transmitter: ${found.reason}`);
  }
  const where = addr === null ? 'no IP address' : formatHostPort(addr);
  if (!node.booted) throw new WalthamError('ERR_BOARD_UNREACHABLE', `node ${node.name} is not booted (walt node reboot ${node.name})`);
  throw new WalthamError('ERR_BOARD_UNREACHABLE', `the transmitter of ${node.name} does not answer at ${where} (${found.reason})`);
}
