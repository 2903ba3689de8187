// A process's on-CPU time from its threads' counters (/proc/PID/task/TID/schedstat), kept
// monotonic: a thread that ends takes its time with it from /proc, so a plain sum over the
// threads listed now drops whenever one exits (V8's and libuv's helpers come and go). Each
// thread's last value is kept once it is gone, and a thread id that comes back with a smaller
// count is a new thread (the old one's time is kept too).

export class ThreadCpu {
  /** pid -> { live: Map<tid, ns>, ended: ns } */
  #procs = new Map();

  /**
   * The process `pid`'s total after one look at its threads: `counts` maps each thread id
   * listed now to its counter, or to undefined when it could not be read (it is ending).
   */
  update(pid, counts) {
    let p = this.#procs.get(pid);
    if (p === undefined) this.#procs.set(pid, (p = { live: new Map(), ended: 0 }));
    const live = new Map();
    for (const [tid, ns] of counts) {
      const before = p.live.get(tid);
      if (ns === undefined) {
        if (before !== undefined) live.set(tid, before);
        continue;
      }
      if (before !== undefined && ns < before) p.ended += before;
      live.set(tid, ns);
    }
    for (const [tid, ns] of p.live) if (!live.has(tid)) p.ended += ns;
    p.live = live;
    let total = p.ended;
    for (const ns of live.values()) total += ns;
    return total;
  }
}
