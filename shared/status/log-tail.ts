/**
 * The last lines a process logged, for its status endpoint: a pino
 * destination that keeps a bounded ring of JSON log lines.
 */
export class LogTail {
  private readonly lines: string[] = [];

  constructor(private readonly capacity = 200) {}

  /** pino destination interface: one JSON line per call. */
  write(line: string): void {
    this.lines.push(line.endsWith('\n') ? line.slice(0, -1) : line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  /** The last `n` lines, parsed (a line that is not JSON comes back as `{ msg }`), oldest first. */
  tail(n = this.capacity): object[] {
    return this.lines.slice(-Math.max(0, n)).map((l) => {
      try {
        return JSON.parse(l) as object;
      } catch {
        return { msg: l };
      }
    });
  }
}
