/**
 * The work budget over every transmitter (`work-rate-total`,
 * `work-burst-total`): the per-transmitter budget (WorkBudget in limits.ts)
 * keeps one transmitter from starving the display, this one keeps many
 * transmitters, each under its own budget, from doing it together.
 *
 * A token bucket like WorkBudget, shared: every transmitter charges the
 * pixels it writes to it. While it has pixels left, every charge passes.
 * Once it is spent, a charge passes only for a transmitter within its fair
 * share; the others are refused (and dropped with `limit work-rate-total`).
 * A transmitter's share is measured as a leaky bucket of what it charged,
 * drained at the fair rate (the total rate over the transmitters that wrote
 * in the last second) and over its share past the fair burst (the total
 * burst over them likewise). When the total is spent, the transmitters
 * together write faster than the total rate, so at least one of them writes
 * faster than its fair rate: that one is refused, not the ones that stay
 * within theirs.
 */

/** How long a transmitter counts as writing after its last charge (ms). */
const ACTIVE_MS = 1000;

export class TotalWork {
  private balance: number;
  private at: number;
  private readonly shares = new Set<WorkShare>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly now: () => number = () => performance.now(),
  ) {
    this.balance = burst;
    this.at = now();
  }

  /** A transmitter's share; `leave()` it when the transmitter goes. */
  join(): WorkShare {
    const share = new WorkShare(this);
    this.shares.add(share);
    return share;
  }

  /** @internal WorkShare.leave */
  remove(share: WorkShare): void {
    this.shares.delete(share);
  }

  /** The transmitters that wrote in the last second, `share` included. */
  private active(share: WorkShare, t: number): number {
    let n = 1;
    for (const s of this.shares) if (s !== share && s.lastAt !== null && t - s.lastAt <= ACTIVE_MS) n++;
    return n;
  }

  /** @internal WorkShare.charge: the bucket first, the share once it is spent. */
  take(share: WorkShare, pixels: number): boolean {
    const t = this.now();
    this.balance = Math.min(this.burst, this.balance + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
    const n = this.active(share, t);
    const withinShare = share.record(pixels, t, this.perSecond / n, this.burst / n);
    if (this.balance >= pixels || withinShare) {
      // Within its share, a transmitter writes even when the bucket is spent (no debt: once the
      // ones over their share are gone, the others fit at once).
      this.balance = Math.max(0, this.balance - pixels);
      return true;
    }
    share.refund(pixels);
    return false;
  }
}

/** One transmitter's part of the total work budget. */
export class WorkShare {
  /** Pixels charged lately, drained at the fair rate. */
  private usage = 0;
  /** When it last charged (ms, the budget's clock); null: never. */
  lastAt: number | null = null;

  constructor(private readonly total: TotalWork) {}

  /** Take `pixels`; false when the total is spent and this transmitter is over its fair share (the caller drops it). */
  charge(pixels: number): boolean {
    return this.total.take(this, pixels);
  }

  /** The transmitter is gone: the others share what it had. */
  leave(): void {
    this.total.remove(this);
  }

  /** @internal Add `pixels` to the usage; whether it stays within the fair burst. */
  record(pixels: number, t: number, fairRate: number, fairBurst: number): boolean {
    const since = this.lastAt === null ? 0 : t - this.lastAt;
    this.usage = Math.max(0, this.usage - (since / 1000) * fairRate) + pixels;
    this.lastAt = t;
    return this.usage <= fairBurst;
  }

  /** @internal A refused charge is not counted. */
  refund(pixels: number): void {
    this.usage = Math.max(0, this.usage - pixels);
  }
}
