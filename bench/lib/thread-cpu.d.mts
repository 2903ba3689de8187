/** A process's on-CPU time from its threads' counters, kept when threads end (thread-cpu.mjs). */
export declare class ThreadCpu {
  /** The total (ns) of `pid` after one look: each thread id listed now and its counter, undefined if unreadable. */
  update(pid: number, counts: ReadonlyMap<string, number | undefined>): number;
}
