/**
 * Child processes for end-to-end tests: spawn with line-buffered output
 * captured in memory, wait for a line, stop a whole process tree and wait for
 * it, and skip a test cleanly when a binary is missing.
 *
 * Rules from the test recipes that this module applies:
 * - A background program's stdout is block-buffered when it is not a
 *   terminal; `lineBuffered` runs it under `stdbuf -oL` so lines arrive as
 *   they are printed.
 * - Daemonized children are reparented and may stay zombies for a moment;
 *   `killTree` therefore collects the tree from /proc before signalling and
 *   treats zombies as gone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface SpawnOptions {
  /** Extra environment, merged over `process.env` unless `cleanEnv` is set. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Start from an empty environment (plus PATH) instead of `process.env`. */
  readonly cleanEnv?: boolean;
  readonly cwd?: string;
  /** Run under `stdbuf -oL -eL` so stdout/stderr lines arrive as printed. Default true. */
  readonly lineBuffered?: boolean;
  /** Short label used in error messages (default: the command's base name). */
  readonly name?: string;
  /** Extra stdio slots after stdin/stdout/stderr (e.g. ['pipe'] for fd 3). */
  readonly extraFds?: readonly ('pipe' | 'ignore')[];
  /** Keep at most this many lines of output in memory (default 10000). */
  readonly maxLines?: number;
  /** 'pipe' to write to the process's stdin (`child.stdin`); default 'ignore'. */
  readonly stdin?: 'pipe' | 'ignore';
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running child process whose output lines are kept for inspection. */
export class ManagedProcess {
  readonly pid: number;
  /** stdout and stderr lines, in arrival order (each stream split on '\n'). */
  readonly lines: string[] = [];
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly maxLines: number;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
    maxLines = 10_000,
  ) {
    if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
    this.pid = child.pid;
    this.maxLines = maxLines;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.push(line);
      });
      stream.on('end', () => {
        if (partial !== '') this.push(partial);
        partial = '';
      });
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        this.notify();
        resolve(this.exitStatus);
      });
      child.once('error', () => {
        if (this.exitStatus !== null) return;
        this.exitStatus = { code: null, signal: null };
        this.notify();
        resolve(this.exitStatus);
      });
    });
  }

  /** Null while running. */
  get status(): ExitStatus | null {
    return this.exitStatus;
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  /** All captured output as one string. */
  output(): string {
    return this.lines.join('\n');
  }

  /**
   * Wait until a line matches (a substring or a RegExp), looking at lines
   * already captured first. Rejects on timeout or when the process exits
   * first, with the last lines of output in the message.
   */
  async waitForLine(match: string | RegExp, timeoutMs = 5000, fromLine = 0): Promise<string> {
    const test = (line: string): boolean => (typeof match === 'string' ? line.includes(match) : match.test(line));
    let checked = fromLine;
    return new Promise<string>((resolve, reject) => {
      const check = (): boolean => {
        for (; checked < this.lines.length; checked++) {
          const line = this.lines[checked]!;
          if (test(line)) {
            finish();
            resolve(line);
            return true;
          }
        }
        if (this.exitStatus !== null) {
          finish();
          reject(new Error(`${this.name} exited (${describeExit(this.exitStatus)}) before printing ${String(match)}\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: no line matching ${String(match)} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(onLine);
      };
      const onLine = (): void => {
        check();
      };
      if (!check()) this.waiters.add(onLine);
    });
  }

  /** The last `n` lines, indented, for error messages. */
  tail(n = 20): string {
    return this.lines
      .slice(-n)
      .map((l) => `  | ${l}`)
      .join('\n');
  }

  /**
   * Stop the process and all its descendants (SIGTERM, then SIGKILL after
   * `graceMs`) and wait for the process itself to exit.
   */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    if (this.exitStatus !== null) return this.exitStatus;
    return killTreeAndWait(this, graceMs);
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

export function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `signal ${s.signal}` : `code ${s.code}`;
}

/** Spawn `command args` with captured, line-buffered output. */
export function spawnProcess(command: string, args: readonly string[], options: SpawnOptions = {}): ManagedProcess {
  const lineBuffered = options.lineBuffered ?? true;
  const base: Record<string, string | undefined> = options.cleanEnv === true ? { PATH: process.env['PATH'] } : { ...process.env };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...base, ...options.env })) if (v !== undefined) env[k] = v;
  const [cmd, argv] = lineBuffered ? ['stdbuf', ['-oL', '-eL', command, ...args]] : [command, [...args]];
  const child = spawn(cmd, argv, {
    env,
    cwd: options.cwd,
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe', ...(options.extraFds ?? [])],
  });
  return new ManagedProcess(child, options.name ?? command.split('/').pop() ?? command, options.maxLines);
}

/** Run a command to completion and return its output; throws on a non-zero exit or timeout. */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: Readonly<Record<string, string | undefined>>; timeoutMs?: number; cwd?: string } = {},
): Promise<string> {
  const p = spawnProcess(command, args, { env: options.env, cwd: options.cwd, lineBuffered: false });
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(p.pid, 'SIGKILL');
  }, timeoutMs);
  const status = await p.exited;
  clearTimeout(timer);
  if (timedOut) throw new Error(`${command} ${args.join(' ')}: timed out after ${timeoutMs} ms\n${p.tail()}`);
  if (status.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${describeExit(status)}\n${p.tail()}`);
  return p.output();
}

interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
}

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...; comm may contain spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), state: rest[0]!, ppid: Number(rest[1]) });
    } catch {
      // the process went away while we listed
    }
  }
  return out;
}

/** `pid` and all its live descendants, parents first; empty when `pid` is gone. */
export function processTree(pid: number): number[] {
  if (!isAlive(pid)) return [];
  const procs = readProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    if (p.state === 'Z') continue;
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const result: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    result.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return result;
}

/** True when `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Signal `pid` and its descendants (collected before signalling). Returns the pids signalled. */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGTERM', includeRoot = true): number[] {
  const pids = processTree(pid).filter((p) => includeRoot || p !== pid);
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
  return pids;
}

/**
 * SIGTERM the tree of `proc`, wait for all of it to exit, SIGKILL what is
 * left after `graceMs`. Resolves with the root's exit status.
 */
export async function killTreeAndWait(proc: ManagedProcess, graceMs = 3000): Promise<ExitStatus> {
  const pids = killTree(proc.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  const allGone = (): boolean => !proc.running && pids.every((p) => p === proc.pid || !isAlive(p));
  while (!allGone() && Date.now() < deadline) await sleep(20);
  if (!allGone()) {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  return proc.exited;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `probe` until it returns a value other than undefined/false, or fail
 * after `timeoutMs` with `what` in the message. Errors thrown by the probe
 * count as "not yet" (the last one is reported on timeout).
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

/** The absolute path of `binary` in PATH, or null. */
export function which(binary: string): string | null {
  if (binary.includes('/')) return isExecutable(binary) ? binary : null;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, binary);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binaries of the list that are not in PATH. */
export function missingBinaries(...binaries: string[]): string[] {
  return binaries.filter((b) => which(b) === null);
}

/**
 * True (skip) when one of `binaries` is missing, after printing which and
 * why. For `describe.skipIf(skipUnless('weston', 'xdotool'))(...)`.
 */
export function skipUnless(...binaries: string[]): boolean {
  const missing = missingBinaries(...binaries);
  if (missing.length === 0) return false;
  console.warn(`skipping: ${missing.join(', ')} not found in PATH (install: see ../shared/test-recipes.md)`);
  return true;
}

/** Synchronous variant of `run` for quick probes (e.g. `weston --version`). */
export function runSync(command: string, args: readonly string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
