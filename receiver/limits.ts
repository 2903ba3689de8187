/**
 * Limits that hold for the whole receiver process, over every transmitter
 * (the per-transmitter ones are in remote-client.ts): connections in total
 * and per address, objects, surfaces and pixel memory in total, the memory
 * queued in and out, the work (pixels written) a transmitter may ask for per
 * second, and deadlines for a connection that never completes a message or
 * goes quiet without showing anything.
 *
 * A transmitter that goes over one gets wth_display.error naming the limit by
 * its [receiver] key (`limit max-connections: ...`) and is dropped; the
 * others are not touched. The defaults are sized for a board with 1 GiB.
 */
import type net from 'node:net';
import { LimitExceededError, limitText } from '../shared/wire/errors.js';
import { WthDisplayError } from '../shared/generated/waltham/waltham.js';
import type { WalthamLogger } from '../shared/waltham/connection.js';
import type { WalthamPeer } from '../shared/waltham/display.js';
import { every, type Tick } from '../shared/ticker.js';

const MiB = 1024 * 1024;

export interface ProcessLimits {
  /** Connections at once, over every address (`max-connections`). */
  readonly maxConnections: number;
  /** Connections at once from one address (`max-connections-per-address`). */
  readonly maxConnectionsPerAddress: number;
  /** Live objects of one transmitter (`max-objects`). */
  readonly maxObjects: number;
  /** Live objects over every transmitter (`max-objects-total`). */
  readonly maxObjectsTotal: number;
  /** Surfaces over every transmitter (`max-surfaces-total`; per transmitter: `max-surfaces`). */
  readonly maxSurfacesTotal: number;
  /** Pixel memory over every transmitter (`max-pixel-mib-total`; per transmitter: `max-pixel-mib`). */
  readonly maxPixelBytesTotal: number;
  /** Memory queued for one transmitter, in and out, counted as the memory it takes (`max-queued-mib`). */
  readonly maxQueuedBytes: number;
  /** The same over every transmitter (`max-queued-mib-total`). */
  readonly maxQueuedBytesTotal: number;
  /** Pixels a transmitter may have written (fills, decodes, new buffers) per second, on average (`work-rate`, in Mpx/s). */
  readonly workPixelsPerSecond: number;
  /** ... and at once, when it has been quiet (`work-burst`, in Mpx). */
  readonly workBurstPixels: number;
  /** Pixels all transmitters together may have written per second (`work-rate-total`, in Mpx/s; total-work.ts). */
  readonly workPixelsPerSecondTotal: number;
  /** ... and at once (`work-burst-total`, in Mpx). */
  readonly workBurstPixelsTotal: number;
  /** Time from connect to the first whole message (`handshake-timeout`, s); 0: none. */
  readonly handshakeTimeoutMs: number;
  /** Time without a whole message for a transmitter that shows no surface (`idle-timeout`, s); 0: none. */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_PROCESS_LIMITS: ProcessLimits = {
  maxConnections: 64,
  maxConnectionsPerAddress: 8,
  maxObjects: 16384,
  maxObjectsTotal: 131072,
  maxSurfacesTotal: 1024,
  maxPixelBytesTotal: 384 * MiB,
  maxQueuedBytes: 16 * MiB,
  maxQueuedBytesTotal: 96 * MiB,
  workPixelsPerSecond: 500_000_000,
  workBurstPixels: 1_500_000_000,
  // Twice one transmitter's own budget: one at its limit (four full-HD windows at 60 Hz) never meets it alone.
  workPixelsPerSecondTotal: 1_000_000_000,
  workBurstPixelsTotal: 3_000_000_000,
  handshakeTimeoutMs: 5000,
  idleTimeoutMs: 30_000,
};

/**
 * A work budget refilled over time (a token bucket): `charge` takes the
 * pixels a message costs and says whether the budget allows it.
 */
export class WorkBudget {
  private balance: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.balance = burst;
    this.at = now();
  }

  /** Pixels that may be taken now. */
  available(): number {
    return Math.min(this.burst, this.balance + ((this.now() - this.at) / 1000) * this.perSecond);
  }

  /** Take `pixels`; false when the budget is spent (the caller drops the peer). */
  charge(pixels: number): boolean {
    const t = this.now();
    this.balance = Math.min(this.burst, this.balance + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
    this.balance -= pixels;
    return this.balance >= 0;
  }
}

/** The peer's remote address, for the per-address limit. */
function addressOf(peer: WalthamPeer): string {
  const s = peer.stream as Partial<net.Socket>;
  return typeof s.remoteAddress === 'string' ? s.remoteAddress : peer.label;
}

/** How long a refused peer may take to read its error before its connection is destroyed. */
const REFUSED_GRACE_MS = 200;

/**
 * How often the guard sweeps, in ms: at rest, while every peer holds at most a quarter of
 * max-queued and all of them a quarter of max-queued-total; on alert, while one holds more.
 * (A peer's output never passes twice max-queued: its connection refuses it as it is queued.)
 */
export interface SweepPeriods {
  readonly rest: number;
  readonly alert: number;
}

const SWEEP_PERIODS: SweepPeriods = { rest: 1000, alert: 250 };

/**
 * The process-wide side of the limits: admits connections, shares the
 * object budget, and sweeps the peers for deadlines and queued memory.
 */
export class ProcessGuard {
  private readonly addresses = new Map<string, number>();
  private readonly admitted = new Set<WalthamPeer>();
  private timer: Tick | null;
  private period: number;

  constructor(
    readonly limits: ProcessLimits,
    private readonly logger: WalthamLogger,
    private readonly peers: () => Iterable<WalthamPeer>,
    /** Whether the peer shows a surface (an idle peer that does is not dropped). */
    private readonly showsSurfaces: (peer: WalthamPeer) => boolean,
    /** Memory held for the peer besides its connection's queues (lossy tiles being decoded). */
    private readonly heldFor: (peer: WalthamPeer) => number = () => 0,
    private readonly periods: SweepPeriods = SWEEP_PERIODS,
  ) {
    this.period = periods.rest;
    this.timer = every(this.period, () => this.tick());
  }

  stop(): void {
    this.timer?.stop();
    this.timer = null;
  }

  /** A sweep, then sweeps as often as the memory it found asks. */
  private tick(): void {
    const period = this.sweep() ? this.periods.alert : this.periods.rest;
    if (this.timer === null || period === this.period) return;
    this.timer.stop();
    this.period = period;
    this.timer = every(period, () => this.tick());
  }

  /**
   * A new connection: null when it is admitted, else it was refused (given
   * wth_display.error and closed) and the text says why.
   */
  admit(peer: WalthamPeer): string | null {
    const address = addressOf(peer);
    const fromAddress = this.addresses.get(address) ?? 0;
    let refused: string | null = null;
    if (this.admitted.size >= this.limits.maxConnections) {
      refused = limitText('max-connections', `${this.limits.maxConnections} connections already`);
    } else if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      refused = limitText('max-connections-per-address', `${fromAddress} connections from ${address} already`);
    }
    if (refused !== null) {
      this.refuse(peer, refused);
      return refused;
    }
    this.admitted.add(peer);
    this.addresses.set(address, fromAddress + 1);
    peer.once('close', () => {
      this.admitted.delete(peer);
      const n = (this.addresses.get(address) ?? 1) - 1;
      if (n <= 0) this.addresses.delete(address);
      else this.addresses.set(address, n);
    });
    return null;
  }

  /** wth_display.error with `text`, then the connection is closed (destroyed soon if the peer lingers). */
  refuse(peer: WalthamPeer, text: string): void {
    peer.postError(peer.display, WthDisplayError.NoMemory, text);
    setTimeout(() => peer.destroy(new LimitExceededError('receiver', text)), REFUSED_GRACE_MS).unref();
  }

  /** The object budget shared by every connection (WalthamConnectionOptions.objectBudget). */
  readonly objectBudget = (count: number): LimitExceededError | null => {
    let total = count;
    for (const p of this.peers()) total += p.objectCount;
    if (total <= this.limits.maxObjectsTotal) return null;
    return new LimitExceededError('max-objects-total', limitText('max-objects-total', `the transmitters would have more than ${this.limits.maxObjectsTotal} objects`));
  };

  /** Deadlines and queued memory; true when a peer holds more than a quarter of its limit, or all of them of theirs. */
  sweep(now = Date.now()): boolean {
    const { handshakeTimeoutMs, idleTimeoutMs, maxQueuedBytes, maxQueuedBytesTotal } = this.limits;
    let total = 0;
    let biggest: { peer: WalthamPeer; bytes: number } | null = null;
    for (const peer of [...this.peers()]) {
      if (!peer.isOpen) continue;
      const quiet = now - peer.lastMessageAt;
      if (handshakeTimeoutMs > 0 && peer.messagesIn === 0 && quiet > handshakeTimeoutMs) {
        this.refuse(peer, limitText('handshake-timeout', `no whole message within ${handshakeTimeoutMs / 1000} s of connecting`));
        continue;
      }
      if (idleTimeoutMs > 0 && quiet > idleTimeoutMs && !this.showsSurfaces(peer)) {
        this.refuse(peer, limitText('idle-timeout', `no whole message for ${idleTimeoutMs / 1000} s and no surface shown`));
        continue;
      }
      const memory = peer.memory;
      const bytes = memory.in + memory.out + this.heldFor(peer);
      if (bytes > maxQueuedBytes) {
        this.drop(peer, limitText('max-queued-mib', `${bytes} bytes of memory queued (limit ${maxQueuedBytes})`));
        continue;
      }
      total += bytes;
      if (biggest === null || bytes > biggest.bytes) biggest = { peer, bytes };
    }
    if (total > maxQueuedBytesTotal && biggest !== null) {
      this.drop(biggest.peer, limitText('max-queued-mib-total', `${total} bytes of memory queued for all transmitters (limit ${maxQueuedBytesTotal}); this one holds ${biggest.bytes}`));
    }
    return total > maxQueuedBytesTotal / 4 || (biggest !== null && biggest.bytes > maxQueuedBytes / 4);
  }

  /**
   * Drop at once, queues and all: a peer that does not read would not get
   * the error anyway (it is tried), and its memory is what is to be freed.
   */
  private drop(peer: WalthamPeer, text: string): void {
    this.logger.warn({ peer: peer.label }, `${peer.label}: ${text}`);
    peer.destroy(new LimitExceededError(text.split(':')[0]!.replace('limit ', ''), text));
  }
}
