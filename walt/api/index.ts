/**
 * The scripting API: the objects of the `waltham` command, in TypeScript.
 *
 *   import { api } from 'waltham-bridge';
 *   const nodes = await api.nodes.get();
 *   for (const node of nodes.filter({ booted: true })) console.log(node.name, (await node.transmitter).state);
 *
 * Printed, every object describes itself (attributes and methods), as the
 * objects of WalT's own scripting API (`walt.client.api`) do.
 */
import { inspect } from 'node:util';
import { boardToken } from '../client/board.js';
import { checkNodeSet, formatHostPort, parseHostPort } from '../client/names.js';
import { RECEIVER_PORT, type ReceiverLinkStatus, type SurfaceStatus, type TransmitterStatus } from '../client/status-types.js';
import { findNode, nodeStatusAddress, probeTransmitter, transmitterOf, type Platform } from '../client/transmitters.js';
import { WaltApi, type WaltNodeRecord } from '../client/walt-api.js';
import { waltServer } from '../client/walt-config.js';
import { formatDescription, type SelfDescribing } from './describe.js';

export { WalthamError } from '../client/errors.js';
export type { WalthamErrorCode } from '../client/errors.js';
export type { LinkState, ReceiverLinkStatus, SurfaceStatus, TransmitterStatus } from '../client/status-types.js';

export interface ApiOptions {
  /** `HOST[:PORT]`; default `$WALT_SERVER`, else the walt client's ~/.walt/config. */
  readonly waltServer?: string;
  /** The boards' status port (default 34401). */
  readonly statusPort?: number;
  /** How long to wait for a board's status (default 500 ms). */
  readonly timeoutMs?: number;
  /** The boards' control token; default `$WALTHAM_TOKEN`, else ~/.config/waltham/token. */
  readonly token?: string;
}

/** A node's transmitter as its status endpoint describes it, or why there is none. */
export class TransmitterState implements SelfDescribing {
  /** `up`; `down` (nothing listens, or the node is not booted); `unknown` (no answer in time); `other` (not our transmitter). */
  readonly state: 'up' | 'down' | 'unknown' | 'other';
  /** Why it is not up, or null. */
  readonly reason: string | null;
  readonly version: string | null;
  readonly uptimeS: number | null;
  readonly receivers: readonly ReceiverLinkStatus[];
  readonly surfaces: readonly SurfaceStatus[];

  constructor(
    readonly node: string,
    found: { kind: 'up'; status: TransmitterStatus } | { kind: 'down' | 'unknown' | 'foreign'; reason: string },
  ) {
    this.state = found.kind === 'foreign' ? 'other' : found.kind;
    const s = found.kind === 'up' ? found.status : null;
    this.reason = found.kind === 'up' ? null : found.reason;
    this.version = s?.version ?? null;
    this.uptimeS = s?.uptime_s ?? null;
    this.receivers = s?.receivers ?? [];
    this.surfaces = s?.surfaces ?? [];
  }

  /** Total frames per second sent, all surfaces. */
  get fps(): number {
    return this.surfaces.reduce((sum, s) => sum + s.fps, 0);
  }

  shortDescription(): string {
    return this.state === 'up' ? `<transmitter ${this.state}, ${this.surfaces.length} surface(s), ${this.receivers.map((r) => r.address).join(', ') || 'no receiver'}>` : `<transmitter ${this.state}>`;
  }

  [inspect.custom](): string {
    return formatDescription({
      title: `transmitter of ${this.node}`,
      attributes: {
        state: this.state,
        reason: this.reason,
        version: this.version,
        uptimeS: this.uptimeS,
        receivers: this.receivers.map((r) => `${r.address} (${r.state})`),
        surfaces: this.surfaces.map((s) => `${s.app_id ?? '?'} ${s.width}x${s.height} ${s.fps.toFixed(1)} fps`),
        fps: this.fps,
      },
    });
  }
}

type NodeField = 'name' | 'model' | 'virtual' | 'image' | 'booted' | 'ip' | 'mac';

/** A WalT node; its transmitter is asked for lazily, on first use of `transmitter`. */
export class WalthamNode implements SelfDescribing {
  readonly name: string;
  readonly model: string;
  readonly virtual: boolean;
  readonly image: string;
  readonly booted: boolean;
  readonly ip: string | null;
  readonly mac: string;
  readonly config: Readonly<Record<string, unknown>>;
  #transmitter: Promise<TransmitterState> | null = null;

  constructor(
    private readonly platform: Platform,
    record: WaltNodeRecord,
  ) {
    this.name = record.name;
    this.model = record.model;
    this.virtual = record.virtual;
    this.image = record.image;
    this.booted = record.booted;
    this.ip = record.ip;
    this.mac = record.mac;
    this.config = record.config;
  }

  /** The transmitter's state, asked once (a short timeout; `refresh()` asks again). */
  get transmitter(): Promise<TransmitterState> {
    this.#transmitter ??= probeTransmitter(this.platform, this.record()).then((found) => new TransmitterState(this.name, found));
    return this.#transmitter;
  }

  /** Forget the transmitter's state, so the next `transmitter` asks again. */
  refresh(): void {
    this.#transmitter = null;
  }

  /** Where this node's status endpoint is, `host:port`, or null without an IP address. */
  get statusAddress(): string | null {
    const addr = nodeStatusAddress(this.platform, this.record());
    return addr === null ? null : formatHostPort(addr);
  }

  /** Send this node's surfaces to `receiver` (`HOST[:PORT]`, default port 34400), persisted on the node. */
  async connect(receiver: string): Promise<TransmitterState> {
    const to = formatHostPort(parseHostPort(receiver, RECEIVER_PORT, 'receiver'));
    const { endpoint } = await transmitterOf(this.platform, this.record());
    const status = await endpoint.connect(to);
    return this.settle(status);
  }

  /** Stop sending this node's surfaces, persisted on the node. */
  async disconnect(): Promise<TransmitterState> {
    const { endpoint } = await transmitterOf(this.platform, this.record());
    return this.settle(await endpoint.disconnect());
  }

  /** A PNG of what this node's applications show. */
  async screenshot(): Promise<Buffer> {
    const { endpoint } = await transmitterOf(this.platform, this.record());
    return endpoint.screenshot();
  }

  shortDescription(): string {
    return `<${this.virtual ? 'virtual node' : 'node'} ${this.name}>`;
  }

  [inspect.custom](): string {
    return formatDescription({
      title: `${this.virtual ? 'virtual node' : 'node'} ${this.name}`,
      attributes: {
        booted: this.booted,
        config: this.config,
        image: this.image,
        ip: this.ip,
        mac: this.mac,
        model: this.model,
        name: this.name,
        statusAddress: this.statusAddress,
        transmitter: { shortDescription: () => (this.#transmitter === null ? '<not asked yet: await node.transmitter>' : '<asked: await node.transmitter>') },
        virtual: this.virtual,
      },
      methods: {
        'connect(receiver)': "send this node's surfaces to RECEIVER[:PORT] (persisted on the node)",
        'disconnect()': "stop sending this node's surfaces",
        'refresh()': "forget the transmitter's state, ask again on next use",
        'screenshot()': "a PNG (Buffer) of what this node's applications show",
      },
    });
  }

  private settle(status: TransmitterStatus): TransmitterState {
    const state = new TransmitterState(this.name, { kind: 'up', status });
    this.#transmitter = Promise.resolve(state);
    return state;
  }

  private record(): WaltNodeRecord {
    return { name: this.name, model: this.model, virtual: this.virtual, image: this.image, booted: this.booted, ip: this.ip, mac: this.mac, config: this.config };
  }
}

export type NodeFilter = Partial<Pick<WalthamNode, NodeField>> | ((node: WalthamNode) => boolean);

/** A set of nodes: iterable, `get(name)`, `filter(...)`, `size`. */
export class NodeSet implements Iterable<WalthamNode>, SelfDescribing {
  readonly #nodes: ReadonlyMap<string, WalthamNode>;

  constructor(nodes: Iterable<WalthamNode>) {
    this.#nodes = new Map([...nodes].map((n) => [n.name, n]));
  }

  get size(): number {
    return this.#nodes.size;
  }

  [Symbol.iterator](): Iterator<WalthamNode> {
    return this.#nodes.values();
  }

  /** The node of that name, or undefined. */
  get(name: string): WalthamNode | undefined {
    return this.#nodes.get(name);
  }

  names(): string[] {
    return [...this.#nodes.keys()];
  }

  /** The nodes with these attribute values (`{ booted: true, virtual: false }`), or for which the function returns true. */
  filter(f: NodeFilter): NodeSet {
    const test = typeof f === 'function' ? f : (n: WalthamNode) => Object.entries(f).every(([k, v]) => n[k as NodeField] === v);
    return new NodeSet([...this].filter(test));
  }

  /** Every node's transmitter state, asked in parallel, by node name. */
  async transmitters(): Promise<Map<string, TransmitterState>> {
    const nodes = [...this];
    const states = await Promise.all(nodes.map((n) => n.transmitter));
    return new Map(nodes.map((n, i) => [n.name, states[i]!]));
  }

  shortDescription(): string {
    return `<set of ${this.size} node(s)>`;
  }

  [inspect.custom](): string {
    return formatDescription({
      title: `Set of WalT nodes (${this.size} items)`,
      attributes: { size: this.size },
      methods: {
        'filter(attrs | fn)': 'the subset of nodes with these attribute values (or for which fn is true)',
        'get(name)': 'the node of that name, or undefined',
        'names()': 'the names of the nodes',
        'transmitters()': "every node's transmitter state (a Map by name), asked in parallel",
        '[Symbol.iterator]()': 'for (const node of set)',
      },
      items: Object.fromEntries([...this].map((n) => [`get('${n.name}')`, n.shortDescription()])),
    });
  }
}

class NodesModule implements SelfDescribing {
  constructor(private readonly root: Api) {}

  /** The platform's nodes, or those of a node set (`'rpi-a,rpi-b'`, or an array of names). */
  async get(nodeSet: string | readonly string[] = 'all-nodes'): Promise<NodeSet> {
    const platform = this.root.platform();
    const names = typeof nodeSet === 'string' ? checkNodeSet(nodeSet) : nodeSet.flatMap(checkNodeSet);
    const records = names.includes('all-nodes') || names.includes('my-nodes') ? await platform.walt.nodes() : await Promise.all(names.map((n) => findNode(platform, n)));
    return new NodeSet(records.map((r) => new WalthamNode(platform, r)));
  }

  shortDescription(): string {
    return '<API submodule for WalT nodes>';
  }

  [inspect.custom](): string {
    return formatDescription({
      title: 'API submodule for WalT nodes',
      methods: { "get(nodeSet = 'all-nodes')": "the nodes of the platform (a NodeSet), or of a set like 'rpi-a,rpi-b'" },
    });
  }
}

export class Api implements SelfDescribing {
  readonly nodes: NodesModule = new NodesModule(this);
  #options: ApiOptions = {};
  #platform: Platform | null = null;

  /** Set where the WalT server is, the boards' port, timeout, token (each optional). */
  configure(options: ApiOptions): void {
    this.#platform?.walt.close();
    this.#options = { ...this.#options, ...options };
    this.#platform = null;
  }

  /** @internal */
  platform(): Platform {
    if (this.#platform === null) {
      const o = this.#options;
      const { address } = waltServer(o.waltServer);
      this.#platform = {
        walt: new WaltApi(address),
        server: address,
        token: boardToken(o.token),
        ...(o.statusPort === undefined ? {} : { statusPort: o.statusPort }),
        ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
      };
    }
    return this.#platform;
  }

  shortDescription(): string {
    return '<waltham API>';
  }

  [inspect.custom](): string {
    return formatDescription({
      title: 'waltham API',
      attributes: { nodes: this.nodes },
      methods: { 'configure({ waltServer, statusPort, timeoutMs, token })': 'where the WalT server is, the boards\' status port, timeout and token' },
    });
  }
}

/** The entry point of the scripting API. */
export const api: Api = new Api();
