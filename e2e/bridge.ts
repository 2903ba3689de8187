/**
 * Starts the project's own commands for end-to-end runs: the receiver on a
 * compositor, the transmitter with an application. From TypeScript sources
 * (tests, through tsx) or from the build (`dist/`, the demo), whichever this
 * module was loaded from.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, waitFor, type ManagedProcess } from './harness/process.js';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');

/** node arguments that run one of our commands (`transmitter` or `receiver`). */
export function commandArgs(command: 'transmitter' | 'receiver'): string[] {
  const main = join(here, '..', command, fromSource ? 'main.ts' : 'main.js');
  return fromSource ? ['--import', 'tsx', main] : [main];
}

export interface Receiver {
  readonly process: ManagedProcess;
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface ReceiverOptions {
  /** How long to wait for "listening on" (default 20000 ms). */
  readonly timeoutMs?: number;
  /** A fixed port on 127.0.0.1 (default: an ephemeral one). */
  readonly port?: number;
}

/**
 * Start waltham-receiver on `env`'s compositor, on 127.0.0.1 (an ephemeral
 * port unless `options.port` is given); resolves once it listens. A number as
 * third argument is the timeout, as before.
 */
export async function startReceiver(
  env: Readonly<Record<string, string>>,
  args: readonly string[] = [],
  options: number | ReceiverOptions = {},
): Promise<Receiver> {
  const { timeoutMs = 20_000, port = 0 } = typeof options === 'number' ? { timeoutMs: options } : options;
  const proc = spawnProcess(process.execPath, [...commandArgs('receiver'), '--listen', `127.0.0.1:${port}`, ...args], {
    env: { ...env, WALTHAM_LOG_LEVEL: 'debug' },
    name: 'waltham-receiver',
    lineBuffered: false,
  });
  try {
    const line = await proc.waitForLine(/listening on [^ ]+:\d+/, timeoutMs);
    const m = /listening on ([^ ]+):(\d+)/.exec(line)!;
    return { process: proc, host: m[1]!, port: Number(m[2]), stop: async () => void (await proc.stop()) };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (for a receiver that
 * must come back on the same port). Another program could take it in
 * between; on this test machine that does not happen in practice.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

export interface Transmitter {
  readonly process: ManagedProcess;
  /** The runtime directory holding the virtual display's socket. */
  readonly runtimeDir: string;
  readonly socket: string;
  /** Environment for applications started on the virtual display by the caller. */
  readonly clientEnv: Readonly<Record<string, string>>;
  /** Resolves once applications can connect (the virtual display's socket exists). */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Start waltham-transmitter with its own runtime directory and no local
 * display (headless), sending to `to`; `command` (if not empty) is started on
 * it. More applications can connect with `clientEnv` once `ready()` resolves.
 */
export function startTransmitter(to: readonly string[], command: readonly string[], args: readonly string[] = [], env: Readonly<Record<string, string | undefined>> = {}): Transmitter {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'wb-tx-'));
  const socket = 'waltham-0';
  const proc = spawnProcess(
    process.execPath,
    [...commandArgs('transmitter'), '--socket', socket, ...to.flatMap((t) => ['--to', t]), ...args, ...(command.length > 0 ? ['--', ...command] : [])],
    { env: { WAYLAND_DISPLAY: undefined, WALTHAM_LOG_LEVEL: 'debug', ...env, XDG_RUNTIME_DIR: runtimeDir }, name: 'waltham-transmitter', lineBuffered: false },
  );
  const socketPath = join(runtimeDir, socket);
  return {
    process: proc,
    runtimeDir,
    socket,
    clientEnv: { WAYLAND_DISPLAY: socketPath, XDG_RUNTIME_DIR: runtimeDir },
    ready: async (timeoutMs = 20_000) => {
      await waitFor(`the virtual display ${socketPath}`, () => {
        if (!proc.running) throw new Error(`waltham-transmitter exited\n${proc.tail()}`);
        return existsSync(socketPath);
      }, timeoutMs, 50);
    },
    stop: async () => {
      await proc.stop();
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}
