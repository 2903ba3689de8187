/**
 * What the link's socket does, for the codec policy: bytes the kernel took
 * (`bytesWritten` minus what still waits in the stream, `writableLength`) and
 * bytes still queued, sampled at each flush and, while a backlog lasts, every
 * `intervalMs` (no timer runs while the queue is empty).
 *
 * What it sees is the stream's own queue: bytes the kernel's socket buffers
 * took (several MB for TCP on Linux) count as sent, so a backlog smaller than
 * those buffers does not show here.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { LinkSample } from '../../shared/remote/codec-policy.js';

export class LinkSampler {
  private taken = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly stream: Duplex,
    private readonly feed: (sample: LinkSample) => void,
    private readonly intervalMs = 50,
  ) {
    this.taken = this.kernelBytes();
    this.sample();
  }

  /** Bytes the kernel has taken so far (0 for a stream that does not count them). */
  private kernelBytes(): number {
    const s = this.stream;
    if (!(s instanceof net.Socket)) return 0;
    const n = (s.bytesWritten as number | undefined) ?? 0;
    return Number.isFinite(n) ? Math.max(0, n - s.writableLength) : 0;
  }

  /** Take a sample now (after a flush); keeps sampling on a timer while bytes are queued. */
  sample(): void {
    if (this.stopped || !(this.stream instanceof net.Socket)) return;
    const taken = this.kernelBytes();
    const queued = this.stream.writableLength;
    this.feed({ now: performance.now(), ackedBytes: Math.max(0, taken - this.taken), queuedBytes: queued });
    this.taken = taken;
    if (queued > 0 && this.timer === undefined) {
      this.timer = setInterval(() => {
        this.sample();
        if (this.stream.writableLength === 0 || this.stream.destroyed) {
          clearInterval(this.timer);
          this.timer = undefined;
        }
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
