import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_FDS,
  POLL_HANGUP,
  POLL_READABLE,
  POLL_WRITABLE,
  Poller,
  ShmMapping,
  UnixListener,
  closeFd,
  applySpans,
  compress,
  copyPixels,
  decompress,
  dupFd,
  fdSize,
  ftruncateFd,
  isNativeError,
  lz4Compress,
  lz4Decompress,
  memfdCreate,
  native,
  MAX_SEND_PARTS,
  recvMsg,
  recvMsgInto,
  sendMsg,
  sendParts,
  socketPair,
  unixConnect,
} from './native.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const addonDir = fileURLToPath(new URL('../native/wayland-shim/', import.meta.url));

/** Everything a test opens, closed (or unmapped) afterwards even when an assertion fails. */
const cleanup: Array<() => void> = [];
function own(fd: number): number {
  cleanup.push(() => {
    try {
      closeFd(fd);
    } catch {
      // already closed by the test
    }
  });
  return fd;
}
afterEach(() => {
  for (const undo of cleanup.splice(0).reverse()) undo();
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Collects poller reports and lets a test wait for the next report of one fd. */
class Reports {
  private readonly queued = new Map<number, number[]>();
  private readonly waiting = new Map<number, (events: number) => void>();
  readonly callback = (fd: number, events: number): void => {
    const waiter = this.waiting.get(fd);
    if (waiter !== undefined) {
      this.waiting.delete(fd);
      waiter(events);
    } else {
      const q = this.queued.get(fd) ?? [];
      q.push(events);
      this.queued.set(fd, q);
    }
  };

  next(fd: number, timeoutMs = 5000): Promise<number> {
    const q = this.queued.get(fd);
    if (q !== undefined && q.length > 0) return Promise.resolve(q.shift()!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(fd);
        reject(new Error(`no report for fd ${fd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(fd, (events) => {
        clearTimeout(timer);
        resolve(events);
      });
    });
  }

  /** Forget the reports of `fd` not taken yet (a persistent fd is reported on every turn while ready). */
  forget(fd: number): void {
    this.queued.delete(fd);
  }

  /** True if fd gets no report for `ms` milliseconds. */
  async quiet(fd: number, ms = 200): Promise<boolean> {
    try {
      await this.next(fd, ms);
      return false;
    } catch {
      return true;
    }
  }
}

function drain(fd: number): number {
  const buf = new Uint8Array(64 * KIB);
  let total = 0;
  for (;;) {
    const r = recvMsg(fd, buf);
    if (r === null) return total;
    for (const f of r.fds) closeFd(f);
    if (r.bytes === 0) return total;
    total += r.bytes;
  }
}

describe('the addon', () => {
  it('exports exactly the documented API', () => {
    expect(Object.keys(native).filter((k) => !k.startsWith('__')).sort()).toEqual(
      [
        'FrameEncoder',
        'Poller',
        'SteadyCommits',
        'SteadyFrames',
        'TileWriter',
        'ShmMapping',
        'UnixListener',
        'applySpans',
        'closeFd',
        'compress',
        'copyChanged',
        'copyPixels',
        'decompress',
        'discardFdPages',
        'dupFd',
        'fdSize',
        'ftruncateFd',
        'lz4Compress',
        'lz4Decompress',
        'memfdCreate',
        'packRgb',
        'pipe',
        'recvMsgInto',
        'sendMsg',
        'sendParts',
        'socketBytesAcked',
        'socketLowWater',
        'socketPair',
        'socketUnackedBytes',
        'tuneAllocator',
        'unixConnect',
        'unpackRgb',
      ].sort(),
    );
    const members = (c: { prototype: object }) =>
      Object.getOwnPropertyNames(c.prototype)
        .filter((n) => n !== 'constructor')
        .sort();
    expect(members(native.Poller)).toEqual(['add', 'close', 'drain', 'nestedWakes', 'nesting', 'rearm', 'remove']);
    expect(members(native.SteadyFrames as unknown as { prototype: object })).toEqual(
      ['adopt', 'counters', 'forgetPeer', 'hookDisplay', 'hookPeer', 'nativeReads', 'release', 'releaseSurface', 'setBudget', 'takeDisplayNotice', 'takePeerNotice', 'takeStaged', 'takeWaltham', 'takeWayland', 'unhookDisplay', 'unhookPeer'].sort(),
    );
    expect(members(native.SteadyCommits as unknown as { prototype: object })).toEqual(
      ['addBuffer', 'adopt', 'counters', 'forget', 'hookApp', 'hookLink', 'nativeReads', 'overdue', 'releaseApp', 'releaseBack', 'releaseLink', 'releaseSurface', 'settle', 'takeApp', 'takeLink', 'takeLinkMessages', 'takeLinkNotice', 'takeNotice', 'takeStaged', 'unhookApp', 'unhookLink'].sort(),
    );
    expect(members(native.UnixListener as unknown as { prototype: object })).toEqual(['accept', 'close', 'fd', 'path']);
    expect(members(native.ShmMapping as unknown as { prototype: object })).toEqual(
      ['buffer', 'clearTruncated', 'copyTo', 'length', 'truncated', 'unmap'].sort(),
    );
  });

  it('generates the index.d.ts of the snapshot', async () => {
    // A change of the Rust API shows here first; update shared/native.ts along with the snapshot.
    await expect(readFileSync(join(addonDir, 'index.d.ts'), 'utf8')).toMatchFileSnapshot(
      '../native/wayland-shim/index.d.ts.snap',
    );
  });

  it('throws errors naming the call and the errno, with the errno name as code', () => {
    const [a, b] = socketPair().map(own);
    closeFd(b);
    const error = thrown(() => sendMsg(a, new Uint8Array([1]), []));
    expect(isNativeError(error, 'EPIPE')).toBe(true);
    expect((error as Error).message).toBe('sendmsg: Broken pipe (EPIPE)');
    const bad = thrown(() => closeFd(b));
    expect((bad as Error).message).toBe('close: Bad file descriptor (EBADF)');
    expect((bad as { code?: string }).code).toBe('EBADF');
  });
});

describe('fds', () => {
  it('memfdCreate, fdSize, ftruncateFd and dupFd work on the same file', () => {
    const fd = own(memfdCreate('test', 12345));
    expect(fdSize(fd)).toBe(12345);
    const copy = own(dupFd(fd));
    expect(copy).not.toBe(fd);
    ftruncateFd(copy, 3 * MIB);
    expect(fdSize(fd)).toBe(3 * MIB);
    expect(isNativeError(thrown(() => memfdCreate('test', -1)), 'EINVAL')).toBe(true);
  });
});

describe('sockets', () => {
  it('carry a memfd over SCM_RIGHTS; both sides map the same memory', () => {
    const [a, b] = socketPair().map(own);
    const memfd = own(memfdCreate('pool', 4096));
    const writer = ShmMapping.map(memfd, 0, 4096, true);
    cleanup.push(() => writer.unmap());
    const text = new TextEncoder().encode('hello from the client');
    new Uint8Array(writer.buffer).set(text, 100);

    expect(sendMsg(a, new Uint8Array([1, 2, 3]), [memfd])).toBe(3);
    const buf = new Uint8Array(16);
    const got = recvMsg(b, buf);
    expect(got).not.toBeNull();
    expect(got!.bytes).toBe(3);
    expect([...buf.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect(got!.fds).toHaveLength(1);
    const received = own(got!.fds[0]!);
    expect(received).not.toBe(memfd);
    expect(fdSize(received)).toBe(4096);

    const reader = ShmMapping.map(received, 100, text.length, false);
    cleanup.push(() => reader.unmap());
    expect(new TextDecoder().decode(new Uint8Array(reader.buffer))).toBe('hello from the client');
    // Shared: later writes on one side are seen on the other.
    new Uint8Array(writer.buffer)[100] = 'H'.charCodeAt(0);
    expect(new Uint8Array(reader.buffer)[0]).toBe('H'.charCodeAt(0));
    // The sender still owns its fd.
    expect(fdSize(memfd)).toBe(4096);
  });

  it('recvMsg returns null when empty and bytes 0 once the peer closed', () => {
    const [a, b] = socketPair().map(own);
    const buf = new Uint8Array(8);
    expect(recvMsg(b, buf)).toBeNull();
    closeFd(a);
    expect(recvMsg(b, buf)).toEqual({ bytes: 0, fds: [] });
  });

  it('recvMsgInto reads at an offset and lists the fds before a -1, allocating nothing', () => {
    const [a, b] = socketPair().map(own);
    const memfd = own(memfdCreate('into', 1));
    const buf = new Uint8Array(8).fill(9);
    const fds = new Int32Array(MAX_FDS).fill(99);
    expect(recvMsgInto(b, buf, 0, fds)).toBe(-1);
    expect(sendMsg(a, new Uint8Array([1, 2, 3]), [memfd, memfd])).toBe(3);
    expect(recvMsgInto(b, buf, 5, fds)).toBe(3);
    expect([...buf]).toEqual([9, 9, 9, 9, 9, 1, 2, 3]);
    const got = [...fds.subarray(0, 3)];
    got.slice(0, 2).forEach(own);
    expect(got[2]).toBe(-1);
    expect(new Set([memfd, ...got.slice(0, 2)]).size).toBe(3);
    expect(fds[3]).toBe(99);
    // A read without fds says so in the first slot.
    expect(sendMsg(a, new Uint8Array([4]), [])).toBe(1);
    expect(recvMsgInto(b, buf, 0, fds)).toBe(1);
    expect(fds[0]).toBe(-1);
    // Refused before reading: too little room for fds, no room for bytes (a read of none would
    // look like the peer closing), an offset past the end.
    expect(sendMsg(a, new Uint8Array([5]), [])).toBe(1);
    for (const [offset, room] of [
      [0, MAX_FDS - 1],
      [8, MAX_FDS],
      [9, MAX_FDS],
    ] as const) {
      expect(isNativeError(thrown(() => recvMsgInto(b, buf, offset, new Int32Array(room))), 'EINVAL')).toBe(true);
    }
    expect(recvMsgInto(b, buf, 7, fds)).toBe(1);
    expect(buf[7]).toBe(5);
  });

  it('sendMsg returns -1 once the socket buffer is full, and sends again once drained', () => {
    const [a, b] = socketPair().map(own);
    const chunk = new Uint8Array(64 * KIB).fill(7);
    let sent = 0;
    let result = 0;
    for (let i = 0; i < 10_000; i++) {
      result = sendMsg(a, chunk, []);
      if (result === -1) break;
      expect(result).toBeGreaterThan(0);
      sent += result;
    }
    expect(result).toBe(-1);
    expect(sent).toBeGreaterThan(0);
    expect(drain(b)).toBe(sent);
    expect(sendMsg(a, chunk.subarray(0, 10), [])).toBe(10);
  });

  it(`sendParts writes up to ${MAX_SEND_PARTS} parts as one stream of bytes, and refuses more`, () => {
    const [a, b] = socketPair().map(own);
    const parts = Array.from({ length: MAX_SEND_PARTS }, (_, i) => new Uint8Array([i & 0xff, i >> 8]));
    expect(sendParts(a, parts)).toBe(2 * MAX_SEND_PARTS);
    const buf = new Uint8Array(4 * MAX_SEND_PARTS);
    const got = recvMsg(b, buf)!;
    expect(Buffer.from(buf.subarray(0, got.bytes)).equals(Buffer.concat(parts))).toBe(true);
    const error = thrown(() => sendParts(a, [...parts, new Uint8Array([1])]));
    expect(isNativeError(error, 'EINVAL')).toBe(true);
    expect(recvMsg(b, buf)).toBeNull();
  });

  it(`refuses more than ${MAX_FDS} fds and passes ${MAX_FDS}`, () => {
    const [a, b] = socketPair().map(own);
    const memfd = own(memfdCreate('fds', 1));
    const error = thrown(() => sendMsg(a, new Uint8Array([0]), new Array<number>(MAX_FDS + 1).fill(memfd)));
    expect(isNativeError(error, 'EINVAL')).toBe(true);
    expect((error as Error).message).toContain(String(MAX_FDS));
    // Nothing was sent by the refused call.
    expect(recvMsg(b, new Uint8Array(4))).toBeNull();

    expect(sendMsg(a, new Uint8Array([0]), new Array<number>(MAX_FDS).fill(memfd))).toBe(1);
    const got = recvMsg(b, new Uint8Array(4))!;
    got.fds.forEach(own);
    expect(got.fds).toHaveLength(MAX_FDS);
    expect(new Set(got.fds).size).toBe(MAX_FDS);
  });
});

describe('UnixListener', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wayland-shim-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  });

  it('refuses a name whose lock is held, with a clear error', () => {
    const path = join(dir, 'wayland-9');
    const first = UnixListener.bind(path);
    cleanup.push(() => first.close());
    const error = thrown(() => UnixListener.bind(path));
    expect((error as Error).message).toBe(`socket ${path} is in use by another compositor`);
    expect((error as { code?: string }).code).toBe('EADDRINUSE');
    expect(existsSync(path)).toBe(true);

    first.close();
    first.close();
    expect(first.fd).toBe(-1);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.lock`)).toBe(false);
    const second = UnixListener.bind(path);
    cleanup.push(() => second.close());
    expect(second.path).toBe(path);
    expect(second.fd).toBeGreaterThanOrEqual(0);
  });

  it('replaces a stale socket file', () => {
    const path = join(dir, 'wayland-0');
    writeFileSync(path, 'stale');
    const listener = UnixListener.bind(path);
    cleanup.push(() => listener.close());
    own(unixConnect(path));
    expect(listener.accept()).not.toBeNull();
  });

  it('accepts connections reported by the Poller; reports are one-shot until rearm; EOF is seen', async () => {
    const path = join(dir, 'wayland-1');
    const listener = UnixListener.bind(path);
    cleanup.push(() => listener.close());
    const reports = new Reports();
    const poller = new Poller(reports.callback);
    cleanup.push(() => poller.close());

    poller.add(listener.fd, POLL_READABLE);
    expect(await reports.quiet(listener.fd)).toBe(true);
    const client = own(unixConnect(path));
    expect((await reports.next(listener.fd)) & POLL_READABLE).toBe(POLL_READABLE);
    const server = own(listener.accept()!);
    expect(listener.accept()).toBeNull();
    poller.remove(listener.fd);

    poller.add(server, POLL_READABLE);
    poller.add(client, POLL_READABLE);
    expect(sendMsg(client, new TextEncoder().encode('ping'), [])).toBe(4);
    expect(await reports.next(server)).toBe(POLL_READABLE);
    // More data without a rearm: no second report.
    expect(sendMsg(client, new TextEncoder().encode('more'), [])).toBe(4);
    expect(await reports.quiet(server)).toBe(true);
    // Rearm with data still pending: reported again at once.
    poller.rearm(server, POLL_READABLE);
    expect(await reports.next(server)).toBe(POLL_READABLE);
    expect(drain(server)).toBe(8);
    poller.rearm(server, POLL_READABLE);

    expect(sendMsg(server, new TextEncoder().encode('pong'), [])).toBe(4);
    expect(await reports.next(client)).toBe(POLL_READABLE);
    expect(drain(client)).toBe(4);

    // Writable interest.
    poller.rearm(client, POLL_WRITABLE);
    expect(await reports.next(client)).toBe(POLL_WRITABLE);

    // The client goes away: the server sees hangup and end of file.
    poller.remove(client);
    closeFd(client);
    const events = await reports.next(server);
    expect(events & POLL_HANGUP).toBe(POLL_HANGUP);
    expect(events & POLL_READABLE).toBe(POLL_READABLE);
    expect(recvMsg(server, new Uint8Array(8))).toEqual({ bytes: 0, fds: [] });
    poller.remove(server);

    // Removed fds get no report even with data pending.
    const [a, b] = socketPair().map(own);
    poller.add(b, POLL_READABLE);
    poller.remove(b);
    sendMsg(a, new Uint8Array([1]), []);
    expect(await reports.quiet(b)).toBe(true);

    poller.close();
    expect(isNativeError(thrown(() => poller.add(a, POLL_READABLE)), 'EBADF')).toBe(true);
  });
  it('reports a persistent fd for as long as it is ready, without a rearm; rearm changes its interest', async () => {
    const reports = new Reports();
    const poller = new Poller(reports.callback);
    cleanup.push(() => poller.close());
    const [a, b] = socketPair().map(own);
    poller.add(b, POLL_READABLE, true);
    expect(await reports.quiet(b)).toBe(true);
    sendMsg(a, new TextEncoder().encode('ping'), []);
    // Not read: reported again on the next turns, with no rearm.
    expect(await reports.next(b)).toBe(POLL_READABLE);
    expect(await reports.next(b)).toBe(POLL_READABLE);
    expect(drain(b)).toBe(4);
    reports.forget(b);
    expect(await reports.quiet(b)).toBe(true);
    sendMsg(a, new TextEncoder().encode('more'), []);
    expect(await reports.next(b)).toBe(POLL_READABLE);
    expect(drain(b)).toBe(4);
    reports.forget(b);
    // A new interest, once: writable from then on, report after report.
    poller.rearm(b, POLL_WRITABLE);
    expect(await reports.next(b)).toBe(POLL_WRITABLE);
    expect(await reports.next(b)).toBe(POLL_WRITABLE);
    poller.remove(b);
    reports.forget(b);
    expect(await reports.quiet(b)).toBe(true);
  });
});

describe('Poller waiting inside the loop', () => {
  /** A shell loop writing a line to `fd` every 10 ms, in a process of its own (no JavaScript here wakes for it). */
  function writer(fd: number, script = 'while :; do echo x; sleep 0.01; done'): ChildProcess {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', fd, 'ignore'] });
    cleanup.push(() => child.kill('SIGKILL'));
    return child;
  }

  it('waits for reports handled natively in the callback; a timer due, a stream of the loop and a report for JavaScript end the wait', async () => {
    const reports = new Reports();
    const poller = new Poller(reports.callback);
    cleanup.push(() => poller.close());
    expect(poller.nesting).toBe(true);
    const [a, b] = socketPair().map(own);
    poller.add(b, POLL_READABLE, true);
    poller.drain(b);
    writer(a);
    // Timers fire while the lines keep coming, each after more wake-ups handled in the callback
    // (until eight have, at most 40: a loaded machine runs the writer less often).
    let ticks = 0;
    for (let i = 0; i < 40 && ticks < 8; i++) {
      const before = poller.nestedWakes;
      await new Promise((r) => setTimeout(r, 40));
      if (poller.nestedWakes > before) ticks++;
    }
    expect(ticks, 'timers that fired after wake-ups in the callback').toBe(8);
    expect(await reports.quiet(b, 0), 'no report of the drained fd reached JavaScript').toBe(true);
    // A stream of the loop's own (a child's output, read by Node) while the wait goes on.
    const before = poller.nestedWakes;
    const child = spawn('sh', ['-c', 'sleep 0.2; echo from-the-child'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanup.push(() => child.kill('SIGKILL'));
    const line = await new Promise<string>((r) => child.stdout!.once('data', (d: Buffer) => r(d.toString())));
    expect(line).toBe('from-the-child\n');
    expect(poller.nestedWakes, 'wake-ups in the callback while the child slept').toBeGreaterThan(before);
    // A line every 10 ms wakes it a few times each, not thousands of times (the loop's fd ready
    // and waited for again and again).
    expect(poller.nestedWakes - before, 'wake-ups in the callback while the child slept').toBeLessThan(1000);
    // A report for JavaScript, of an fd written from another process while the wait goes on.
    const [c, d] = socketPair().map(own);
    poller.add(d, POLL_READABLE);
    const beforeReport = poller.nestedWakes;
    writer(c, 'sleep 0.2; echo y');
    expect(await reports.next(d)).toBe(POLL_READABLE);
    expect(poller.nestedWakes, 'wake-ups in the callback before the report').toBeGreaterThan(beforeReport);
  });

  it('ends a wait in the callback when the loop\'s next timer is due, not at the next report', async () => {
    const reports = new Reports();
    const poller = new Poller(reports.callback);
    cleanup.push(() => poller.close());
    const [a, b] = socketPair().map(own);
    const [c, d] = socketPair().map(own);
    poller.add(b, POLL_READABLE, true);
    poller.drain(b);
    poller.add(d, POLL_READABLE);
    // Three lines read natively (the wait in the callback begins), then nothing for half a
    // second, then a line for JavaScript.
    const child = spawn('sh', ['-c', 'echo x; sleep 0.01; echo x; sleep 0.01; echo x; sleep 0.5; echo end >&3'], { stdio: ['ignore', a, 'ignore', c] });
    cleanup.push(() => child.kill('SIGKILL'));
    const order: string[] = [];
    const timer = new Promise<void>((r) => setTimeout(() => r(void order.push('timer')), 100));
    const report = reports.next(d).then(() => void order.push('report'));
    await Promise.all([timer, report]);
    expect(poller.nestedWakes, 'wake-ups handled in the callback').toBeGreaterThan(0);
    expect(order).toEqual(['timer', 'report']);
  });

  it('goes back to the loop after every wake-up without nesting', async () => {
    const reports = new Reports();
    const poller = new Poller(reports.callback);
    cleanup.push(() => poller.close());
    poller.nesting = false;
    const [a, b] = socketPair().map(own);
    poller.add(b, POLL_READABLE, true);
    poller.drain(b);
    writer(a);
    await new Promise((r) => setTimeout(r, 200));
    expect(poller.nestedWakes).toBe(0);
    // The lines were read natively all the same: none was reported to JavaScript.
    expect(await reports.quiet(b, 0)).toBe(true);
  });
});

describe('Poller and process lifetime', () => {
  /** Runs a script that loads the addon; resolves with its exit code, or 'running' after `ms`. */
  function run(body: string, ms: number): Promise<number | 'running'> {
    const loader = join(addonDir, 'index.cjs');
    const script = `const n = require(${JSON.stringify(loader)});\n${body}`;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('running');
      }, ms);
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (signal !== null && signal !== 'SIGKILL') reject(new Error(`child died of ${signal}: ${stderr}`));
        else if (code !== 0 && code !== null) reject(new Error(`child exited ${code}: ${stderr}`));
        else resolve(code ?? -1);
      });
    });
  }

  const setup = 'const p = new n.Poller(() => {}); const [a, b] = n.socketPair();';

  it('lets the process exit once no fd is watched', async () => {
    expect(await run(`${setup} p.add(a, 1); p.remove(a);`, 5000)).toBe(0);
  });

  it('keeps the process alive while an fd is watched', async () => {
    expect(await run(`${setup} p.add(a, 1);`, 1500)).toBe('running');
  });

  it('lets the process exit after close()', async () => {
    expect(await run(`${setup} p.add(a, 1); p.close();`, 5000)).toBe(0);
  });

  it('turns an exception thrown by the callback into an uncaughtException', async () => {
    const body = `
      process.on('uncaughtException', (e) => process.exit(e.message === 'boom' ? 0 : 4));
      const p = new n.Poller(() => { throw new Error('boom'); });
      const [a, b] = n.socketPair();
      p.add(a, 2);`;
    expect(await run(body, 5000)).toBe(0);
  });

  it('delivers a report, then lets the process exit when the callback removes the fd', async () => {
    const body = `
      const p = new n.Poller((fd, events) => {
        if (fd !== a || events !== 2) process.exit(3);
        p.remove(fd);
      });
      const [a, b] = n.socketPair();
      p.add(a, 2);`;
    expect(await run(body, 5000)).toBe(0);
  });
});

describe('ShmMapping', () => {
  it('returns the same external ArrayBuffer and detaches it on unmap', () => {
    const fd = own(memfdCreate('pool', 3 * 4096));
    const m = ShmMapping.map(fd, 4096 + 10, 100, true);
    expect(m.length).toBe(100);
    const buffer = m.buffer;
    expect(m.buffer).toBe(buffer);
    expect(buffer.byteLength).toBe(100);
    const view = new Uint8Array(buffer);
    view[0] = 42;
    const other = ShmMapping.map(fd, 0, 3 * 4096, false);
    cleanup.push(() => other.unmap());
    expect(new Uint8Array(other.buffer)[4096 + 10]).toBe(42);

    m.unmap();
    expect(buffer.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(isNativeError(thrown(() => m.buffer), 'EBADF')).toBe(true);
    expect(isNativeError(thrown(() => m.copyTo(0, new Uint8Array(1))), 'EBADF')).toBe(true);
    m.unmap();
    // The file still holds the byte.
    expect(new Uint8Array(other.buffer)[4096 + 10]).toBe(42);
  });

  it('copyTo copies ranges and checks bounds', () => {
    const fd = own(memfdCreate('pool', 4096));
    const m = ShmMapping.map(fd, 0, 4096, true);
    cleanup.push(() => m.unmap());
    new Uint8Array(m.buffer).set([1, 2, 3, 4], 1000);
    const dst = new Uint8Array(4);
    expect(m.copyTo(1000, dst)).toBe(true);
    expect([...dst]).toEqual([1, 2, 3, 4]);
    expect(isNativeError(thrown(() => m.copyTo(4093, dst)), 'ERANGE')).toBe(true);
    // The destination may be a view of the mapping itself.
    expect(m.copyTo(1000, new Uint8Array(m.buffer, 1002, 4))).toBe(true);
    expect([...new Uint8Array(m.buffer, 1000, 6)]).toEqual([1, 2, 1, 2, 3, 4]);
  });

  it('survives a client truncating its pool: reads through the ArrayBuffer see zeros', () => {
    const fd = own(memfdCreate('pool', MIB));
    const m = ShmMapping.map(fd, 0, MIB, true);
    cleanup.push(() => m.unmap());
    const view = new Uint8Array(m.buffer);
    view[512 * KIB] = 0xab;
    view[10] = 0xcd;
    expect(view[512 * KIB]).toBe(0xab);
    expect(m.truncated).toBe(false);

    ftruncateFd(fd, 4 * KIB);
    expect(view[10]).toBe(0xcd); // below the new end of file: no fault yet
    expect(m.truncated).toBe(false);
    expect(view[512 * KIB]).toBe(0); // SIGBUS, rescued
    expect(m.truncated).toBe(true);
    expect(view[10]).toBe(0); // the whole mapping is zeros now

    m.clearTruncated();
    expect(m.truncated).toBe(false);
    const dst = new Uint8Array(16).fill(7);
    expect(m.copyTo(512 * KIB, dst)).toBe(false);
    expect([...dst]).toEqual(new Array(16).fill(0));
  });

  it('survives a client truncating its pool: copyTo reports it', () => {
    const fd = own(memfdCreate('pool', MIB));
    const m = ShmMapping.map(fd, 0, MIB, false);
    cleanup.push(() => m.unmap());
    ftruncateFd(fd, 4 * KIB);
    const dst = new Uint8Array(16).fill(7);
    expect(m.copyTo(512 * KIB, dst)).toBe(false);
    expect([...dst]).toEqual(new Array(16).fill(0));
    expect(m.truncated).toBe(true);
  });

  it('survives truncation under optimized code', () => {
    const sum = (v: Uint8Array): number => {
      let s = 0;
      for (let i = 0; i < v.length; i += 4096) s += v[i]!;
      return s;
    };
    const warmFd = own(memfdCreate('warm', MIB));
    const warm = ShmMapping.map(warmFd, 0, MIB, true);
    cleanup.push(() => warm.unmap());
    const warmView = new Uint8Array(warm.buffer).fill(1);
    for (let i = 0; i < 2000; i++) expect(sum(warmView)).toBe(256);

    const fd = own(memfdCreate('hot', MIB));
    const m = ShmMapping.map(fd, 0, MIB, true);
    cleanup.push(() => m.unmap());
    const view = new Uint8Array(m.buffer).fill(1);
    expect(sum(view)).toBe(256);
    ftruncateFd(fd, 0);
    expect(sum(view)).toBe(0);
    expect(m.truncated).toBe(true);
    // The other mapping is untouched.
    expect(sum(warmView)).toBe(256);
    expect(warm.truncated).toBe(false);
  });
});

describe('pixel functions', () => {
  const stride = 16 * 4;
  const pixels = (fill: number): Uint8Array => new Uint8Array(new Uint32Array(16 * 8).fill(fill).buffer);

  it('copy rectangles between buffers of different strides', () => {
    const b = pixels(0xff0000ff);
    const packed = new Uint8Array(3 * 2 * 4).fill(7);
    copyPixels(packed, 3 * 4, 0, 0, b, stride, 5, 4, 3, 2);
    const px = new Uint32Array(b.buffer);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 16; x++) expect(px[y * 16 + x]).toBe(x >= 5 && x < 8 && y >= 4 && y < 6 ? 0x07070707 : 0xff0000ff);
    }
  });

  it('refuse rectangles outside their buffers and views that overlap', () => {
    const a = pixels(0);
    const b = pixels(0);
    const range = (fn: () => unknown): void => expect(isNativeError(thrown(fn), 'ERANGE')).toBe(true);
    range(() => copyPixels(a, stride, 10, 0, b, stride, 0, 0, 8, 1));
    range(() => copyPixels(a, stride, 0, 0, b, stride, 0, 7, 1, 2));
    const overlap = (fn: () => unknown): void => expect(isNativeError(thrown(fn), 'EINVAL')).toBe(true);
    overlap(() => copyPixels(a, stride, 0, 0, a.subarray(4), stride, 0, 0, 1, 1));
    overlap(() => applySpans(a.subarray(0, 8), a, stride, 0, 0, 1, 1));
  });
});

describe('block codecs', () => {
  /** A few rows of a UI: flat colour with a darker stripe every 7 pixels. */
  const screen = (): Uint8Array => {
    const px = new Uint32Array(16 * KIB);
    for (let i = 0; i < px.length; i++) px[i] = i % 7 === 0 ? 0xff202020 : 0xfff0f0f0;
    return new Uint8Array(px.buffer);
  };
  const noise = (len: number): Uint8Array => new Uint8Array(randomBytes(len));

  for (const codec of ['lz4', 'zstd'] as const) {
    it(`${codec}: round trips and refuses to expand`, () => {
      const src = screen();
      const block = new Uint8Array(src.length);
      const n = compress(codec, src, block.subarray(0, src.length - 1));
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(src.length / 10);
      const out = new Uint8Array(src.length);
      expect(decompress(codec, block.subarray(0, n), out)).toBe(src.length);
      expect(Buffer.compare(out, src)).toBe(0);
      const random = noise(4096);
      expect(compress(codec, random, new Uint8Array(4095), 1)).toBe(-1);
    });

    it(`${codec}: malformed input and short outputs throw EBADMSG`, () => {
      const src = screen();
      const block = new Uint8Array(src.length);
      const n = compress(codec, src, block);
      const bad = (fn: () => unknown): void => expect(isNativeError(thrown(fn), 'EBADMSG')).toBe(true);
      bad(() => decompress(codec, block.subarray(0, n), new Uint8Array(src.length - 1)));
      bad(() => decompress(codec, new Uint8Array(0), new Uint8Array(16)));
      bad(() => decompress(codec, Uint8Array.of(0x10, 1, 0, 0), new Uint8Array(16)));
      expect(() => decompress(codec, new Uint8Array(16), new Uint8Array(16))).toThrow(new RegExp(`^${codec} decompress:`));
    });
  }

  it('zstd levels change the output; out-of-range levels are clamped', () => {
    const src = noise(64 * KIB).map((b, i) => (i % 4 === 3 ? 0xff : b));
    const sizes = [-5, 1, 30, -1000].map((level) => compress('zstd', src, new Uint8Array(src.length + 1024), level));
    // Negative levels store noise; level 1 entropy-codes it (the alpha bytes are constant).
    expect(sizes[0]).toBeGreaterThan(src.length);
    expect(sizes[1]).toBeLessThan(src.length * 0.9);
    expect(sizes[2]).toBeGreaterThan(0);
    expect(sizes[3]).toBe(sizes[0]);
  });

  it('lz4Compress and lz4Decompress are the lz4 codec', () => {
    const src = screen();
    const a = new Uint8Array(src.length);
    const b = new Uint8Array(src.length);
    const n = lz4Compress(src, a);
    expect(compress('lz4', src, b)).toBe(n);
    expect(Buffer.compare(a.subarray(0, n), b.subarray(0, n))).toBe(0);
    const out = new Uint8Array(src.length);
    expect(lz4Decompress(a.subarray(0, n), out)).toBe(src.length);
    expect(Buffer.compare(out, src)).toBe(0);
  });

  it('refuses unknown codecs and overlapping views', () => {
    const buf = new Uint8Array(1024);
    expect(isNativeError(thrown(() => compress('brotli' as 'lz4', buf.subarray(0, 10), buf.subarray(10))), 'EINVAL')).toBe(true);
    expect(isNativeError(thrown(() => decompress('zstd', buf.subarray(0, 100), buf.subarray(50))), 'EINVAL')).toBe(true);
    expect(isNativeError(thrown(() => lz4Compress(buf.subarray(0, 100), buf.subarray(99))), 'EINVAL')).toBe(true);
  });
});
