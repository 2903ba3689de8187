/**
 * Test helpers: temporary runtime directories, a headless weston, and running
 * real Wayland programs without blocking the event loop (our own server may
 * live in the test process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { closeFd, recvMsg, sendMsg, unixConnect } from '../../native.js';
import { sleep, waitFor } from '../../test/helpers.js';
import type { InterfaceSpec, WireValue } from '../../wire/protocol.js';
import { encodeMessage, parseMessage, readHeader } from '../wire.js';

export { sleep, waitFor, which } from '../../test/helpers.js';

/** A fresh runtime directory (mode 0700, as weston wants). */
export function tempRuntimeDir(): string {
  const dir = mkdtempSync('/tmp/wl-rt-');
  chmodSync(dir, 0o700);
  return dir;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a program to completion (asynchronously), killing it after `timeoutMs`. */
export function run(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface Weston {
  readonly runtimeDir: string;
  readonly socket: string;
  readonly path: string;
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** weston headless (pixman) in its own runtime directory; resolves once its socket exists. */
export async function startWeston(socket = 'wl-test-0'): Promise<Weston> {
  const runtimeDir = tempRuntimeDir();
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };
  delete env['WAYLAND_DISPLAY'];
  delete env['WAYLAND_SOCKET'];
  delete env['DISPLAY'];
  delete env['WAYLAND_DEBUG'];
  const child: ChildProcess = spawn(
    'weston',
    ['--backend=headless-backend.so', '--use-pixman', `--socket=${socket}`, '--idle-time=0', `--log=${runtimeDir}/weston.log`],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const path = join(runtimeDir, socket);
  try {
    await waitFor(() => existsSync(path) || child.exitCode !== null, 10_000, `weston socket ${path}`);
    if (!existsSync(path)) throw new Error(`weston exited (${child.exitCode}): ${stderr}`);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(runtimeDir, { recursive: true, force: true });
    throw error;
  }
  return {
    runtimeDir,
    socket,
    path,
    env: { ...env, WAYLAND_DISPLAY: socket },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** Parse wayland-info's "interface: 'x', version: n, name: m" lines. */
export function parseWaylandInfo(output: string): { interface: string; version: number; name: number }[] {
  const out: { interface: string; version: number; name: number }[] = [];
  for (const m of output.matchAll(/^interface: '([^']+)',\s*version:\s*(\d+),\s*name:\s*(\d+)/gm)) {
    out.push({ interface: m[1]!, version: Number(m[2]), name: Number(m[3]) });
  }
  return out;
}

/** Open fds of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export interface DecodedEvent {
  readonly objectId: number;
  readonly interface: string;
  readonly name: string;
  readonly args: WireValue[];
}

/** Decode a byte stream of messages for known objects; messages for others are skipped. */
export function decodeStream(bytes: Uint8Array, objects: Record<number, InterfaceSpec>, side: 'events' | 'requests' = 'events'): DecodedEvent[] {
  const out: DecodedEvent[] = [];
  let pos = 0;
  for (;;) {
    const rest = bytes.subarray(pos);
    const header = readHeader(rest);
    if (header === null || header.size < 8 || rest.byteLength < header.size) break;
    const iface = objects[header.objectId];
    const message = iface?.[side][header.opcode];
    if (iface !== undefined && message !== undefined) {
      const r = parseMessage(rest, [], () => ({ interfaceName: iface.name, message }));
      if (r.kind === 'message') out.push({ objectId: header.objectId, interface: iface.name, name: message.name, args: r.args });
    }
    pos += header.size;
  }
  return out;
}

/**
 * A hand-driven Wayland client over a raw socket, for sending malformed bytes.
 * Reads poll without blocking so a server in the same process keeps running.
 */
export class RawClient {
  private closedFd = false;
  constructor(readonly fd: number) {}

  static connect(path: string): RawClient {
    return new RawClient(unixConnect(path));
  }

  send(bytes: Uint8Array, fds: number[] = []): void {
    const n = sendMsg(this.fd, bytes, fds);
    if (n !== bytes.byteLength) throw new Error(`short send: ${n} of ${bytes.byteLength}`);
  }

  /** Encode and send one request. */
  request(objectId: number, iface: InterfaceSpec, name: string, args: WireValue[], fds: number[] = []): void {
    const message = iface.requests.find((m) => m.name === name);
    if (message === undefined) throw new Error(`${iface.name} has no request ${name}`);
    this.send(encodeMessage(objectId, message, args).bytes, fds);
  }

  /** Read until the peer closes or `timeoutMs` passes. Received fds are closed. */
  async readUntilClosed(timeoutMs = 3000): Promise<{ bytes: Uint8Array; closed: boolean }> {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    const start = Date.now();
    let closed = false;
    while (Date.now() - start < timeoutMs) {
      let r;
      try {
        r = recvMsg(this.fd, buf);
      } catch {
        closed = true; // ECONNRESET
        break;
      }
      if (r === null) {
        await sleep(10);
        continue;
      }
      for (const fd of r.fds) closeFd(fd);
      if (r.bytes === 0) {
        closed = true;
        break;
      }
      chunks.push(buf.slice(0, r.bytes));
    }
    const total = chunks.reduce((n, c) => n + c.byteLength, 0);
    const bytes = new Uint8Array(total);
    let pos = 0;
    for (const c of chunks) {
      bytes.set(c, pos);
      pos += c.byteLength;
    }
    return { bytes, closed };
  }

  close(): void {
    if (this.closedFd) return;
    this.closedFd = true;
    closeFd(this.fd);
  }
}

/** `promise`, or a rejection after `ms` naming `what`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
