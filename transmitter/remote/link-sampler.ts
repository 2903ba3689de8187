/**
 * What the link's socket does, for the codec policy: bytes the kernel sent
 * and bytes still queued, sampled at each flush and, while a backlog lasts,
 * every `intervalMs` as well, so a transmitter that stopped (a backlog holds
 * its frames back) sees it drain. A queue that is only the last flush's few
 * bytes (at most `FRESH_QUEUE_BYTES`, all of the queue before it through) is
 * no backlog: on loopback a frame's bytes stay unacknowledged until the
 * receiver's next reply, and a timer for them would wake the transmitter
 * every interval while frames come. No timer runs while the queue is empty.
 *
 * The queue is the stream's own (`writableLength`) plus what the kernel holds
 * unacknowledged (SIOCOUTQ: unsent, or in flight through the link's queues):
 * a TCP socket takes several MB before Node queues anything, so on a slow
 * link most of the backlog is there. Bytes the link carried are those the
 * peer acknowledged (TCP_INFO): their rate is the link's (bytes handed to the
 * kernel would count a burst at memory speed). Without the fd, `bytesWritten`
 * minus the stream's queue stands for both.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { LinkSample } from '../../shared/remote/codec-policy.js';
import { socketBytesAcked, socketUnackedBytes } from '../../shared/native.js';
import { socketFd } from '../../shared/waltham/tcp.js';

/** A queue of at most this many bytes, all written since the last sample, keeps no timer. */
export const FRESH_QUEUE_BYTES = 256 * 1024;

/** The kernel's counters of a socket, where a test stands in for them. */
export interface LinkCounters {
  /** Bytes written and not acknowledged yet. */
  unacked(): number;
  /** Bytes the peer acknowledged so far. */
  acked(): number;
}

export class LinkSampler {
  private taken = 0;
  /** Bytes queued at the last sample. */
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The socket's fd for the kernel's unacknowledged bytes, or -1 (not a socket of ours). */
  private fd = -1;

  constructor(
    private readonly stream: Duplex,
    private readonly feed: (sample: LinkSample) => void,
    private readonly intervalMs = 50,
    private readonly counters: LinkCounters | null = null,
  ) {
    if (stream instanceof net.Socket && counters === null) this.fd = socketFd(stream);
    this.taken = this.sentBytes(this.unacked());
    this.sample();
  }

  /** Bytes the kernel holds unacknowledged (0 when it cannot tell). */
  private unacked(): number {
    if (this.counters !== null) return this.counters.unacked();
    if (this.fd < 0 || this.stream.destroyed) return 0;
    try {
      return socketUnackedBytes(this.fd);
    } catch {
      // Not a socket (or no longer open): the stream's queue is all there is to see.
      this.fd = -1;
      return 0;
    }
  }

  /** Bytes the peer acknowledged so far (0 for a stream that does not count them). */
  private sentBytes(unacked: number): number {
    if (this.counters !== null) return this.counters.acked();
    if (this.fd >= 0 && !this.stream.destroyed) {
      try {
        return socketBytesAcked(this.fd);
      } catch {
        // Not TCP: bytes written minus the queues below.
      }
    }
    const s = this.stream;
    if (!(s instanceof net.Socket)) return 0;
    const n = (s.bytesWritten as number | undefined) ?? 0;
    return Number.isFinite(n) ? Math.max(0, n - s.writableLength - unacked) : 0;
  }

  /** Take a sample now (after a flush); more follow every `intervalMs` while a backlog lasts. */
  sample(): void {
    if (this.stopped || !(this.stream instanceof net.Socket)) return;
    const unacked = this.unacked();
    const taken = this.sentBytes(unacked);
    const queued = this.stream.writableLength + unacked;
    const acked = Math.max(0, taken - this.taken);
    this.feed({ now: performance.now(), ackedBytes: acked, queuedBytes: queued });
    // Bytes of the last sample's queue still not through: a backlog that outlasts a flush.
    const carried = this.queued - acked;
    // A chunk the kernel took in part is in both queues until Node is done with it: the count
    // dips then, and only what goes beyond the highest count so far is new.
    this.taken = Math.max(this.taken, taken);
    this.queued = queued;
    if (queued === 0 || this.stream.destroyed || (carried <= 0 && queued <= FRESH_QUEUE_BYTES)) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.intervalMs);
      this.timer.unref();
    }
  }

  /** A backlog lasted `intervalMs`: sample it. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.sample();
  };

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
