/**
 * Both commands stop promptly and cleanly on SIGTERM while a peer is
 * connected: exit code 0 well within 1.5 s (service managers and the test
 * harness wait for them), and no error-level line in their logs (stopping is
 * not a failure; "the local compositor went away" is only for a compositor
 * that really went away).
 *
 * Besides a well-behaved peer, each command also has one that does not
 * cooperate, as a hung host would: the receiver a transmitter that never
 * closes its side of the connection, the transmitter a receiver that accepts
 * the connection and never answers. Neither may hold up the exit.
 *
 * The commands log JSON lines (pino) on stderr when it is not a terminal;
 * pino's error level is 50, fatal 60.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter, type Receiver, type Transmitter } from './bridge.js';
import { describeExit, skipUnless, startWeston, type ManagedProcess } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const EXIT_WITHIN_MS = 1500;
const PINO_ERROR = 50;

/** The log lines at error level or above. */
function errorLines(proc: ManagedProcess): string[] {
  return proc.lines.filter((line) => {
    try {
      const entry = JSON.parse(line) as { level?: unknown };
      return typeof entry.level === 'number' && entry.level >= PINO_ERROR;
    } catch {
      return false; // not a log line
    }
  });
}

/** SIGTERM `proc`; resolves with its exit status and how long it took. */
async function terminate(proc: ManagedProcess): Promise<{ code: number | null; ms: number; status: string }> {
  const started = performance.now();
  proc.child.kill('SIGTERM');
  const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000).unref());
  const status = await Promise.race([proc.exited, timer]);
  const ms = Math.round(performance.now() - started);
  if (status === null) return { code: null, ms, status: 'still running after 5 s' };
  return { code: status.code, ms, status: describeExit(status) };
}

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-simple-shm'))('shutdown on SIGTERM', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  /**
   * weston, a receiver on it, and a transmitter running weston-simple-shm,
   * connected to each other; the transmitter also sends to `moreTo`.
   */
  async function connectedPair(moreTo: readonly string[] = []): Promise<{ receiver: Receiver; transmitter: Transmitter; logs: () => string }> {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 320, height: 240 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`, ...moreTo], ['weston-simple-shm']));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    try {
      await receiver.process.waitForLine(/transmitter .* connected/, 20_000);
      await transmitter.process.waitForLine(/connected to to-1/, 20_000);
      await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, 'the remoted window');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    }
    return { receiver, transmitter, logs };
  }

  /** A TCP listener that accepts connections and reads them, but never writes nor closes its side. */
  async function silentListener(): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket.resume());
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.defer(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    }, 'the silent listener');
    return (server.address() as net.AddressInfo).port;
  }

  it('waltham-receiver exits with 0 within 1.5 s and logs no error', async () => {
    const { receiver, logs } = await connectedPair();
    // A second transmitter that reads what the receiver sends but never closes its side.
    const from = receiver.process.lines.length;
    const lingering = net.connect({ host: receiver.host, port: receiver.port, allowHalfOpen: true });
    cleanup.defer(() => lingering.destroy(), 'the lingering transmitter');
    lingering.resume();
    await receiver.process.waitForLine(/transmitter .* connected/, 5000, from);
    const exit = await terminate(receiver.process);
    expect(exit.code, `${exit.status} after ${exit.ms} ms\n${logs()}`).toBe(0);
    expect(exit.ms, logs()).toBeLessThan(EXIT_WITHIN_MS);
    expect(errorLines(receiver.process)).toEqual([]);
  });

  it('waltham-transmitter exits with 0 within 1.5 s and logs no error', async () => {
    // The second receiver never answers: that link is still in its handshake when the signal comes.
    const silent = await silentListener();
    const { transmitter, logs } = await connectedPair([`127.0.0.1:${silent}`]);
    const exit = await terminate(transmitter.process);
    expect(exit.code, `${exit.status} after ${exit.ms} ms\n${logs()}`).toBe(0);
    expect(exit.ms, logs()).toBeLessThan(EXIT_WITHIN_MS);
    expect(errorLines(transmitter.process)).toEqual([]);
  });

  it('waltham-receiver still reports a local compositor that really went away, at error level', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 320, height: 240 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    await weston.stop();
    const status = await Promise.race([receiver.process.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000).unref())]);
    expect(status?.code, logTails({ receiver: receiver.process })).toBe(1);
    expect(errorLines(receiver.process).join('\n')).toMatch(/the local compositor went away/);
  });
  it('waltham-receiver --oneshot exits with 0 once its transmitter has gone', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 320, height: 240 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--oneshot']));
    // The transmitter exits with its application, after the window was shown.
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['timeout', '2', 'weston-simple-shm']));
    await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, 'the remoted window');
    expect(receiver.process.status, 'the receiver must wait while its transmitter is connected').toBeNull();
    const status = await Promise.race([receiver.process.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000).unref())]);
    expect(status?.code, logTails({ receiver: receiver.process, transmitter: transmitter.process })).toBe(0);
    expect(errorLines(receiver.process)).toEqual([]);
  });
});
