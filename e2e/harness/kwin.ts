/**
 * KWin (Debian's kwin-wayland) on its virtual backend, for what weston 10
 * and sway 1.7 do not have: wp_fractional_scale_manager_v1 (its virtual
 * output has a fractional scale with `--scale`). KWin runs in its own D-Bus
 * session (dbus-run-session) and runtime directory.
 *
 * Debian gives /usr/bin/kwin_wayland the file capability cap_sys_resource
 * (to raise its scheduling limits); where the process may not hold it (a
 * container's bounding set), exec fails with EPERM. The harness then runs a
 * copy of the binary, which has no file capability, under the same name.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingBinaries, runSync, spawnProcess, waitFor, type ManagedProcess } from './process.js';

export interface KWin {
  readonly process: ManagedProcess;
  /** Environment for clients of this KWin (WAYLAND_DISPLAY, XDG_RUNTIME_DIR). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const BINARY = '/usr/bin/kwin_wayland';

/** Why KWin cannot run here (printed by the caller before skipping), or null. */
export function kwinUnavailable(): string | null {
  const missing = missingBinaries('dbus-run-session');
  if (!existsSync(BINARY)) missing.unshift('kwin_wayland');
  return missing.length === 0 ? null : `${missing.join(', ')} not found (Debian packages kwin-wayland, dbus)`;
}

/** The kwin_wayland to execute: the installed one, or a copy without its file capability when that one cannot start. */
function executable(workDir: string): string {
  if (runSync(BINARY, ['--version']).status === 0) return BINARY;
  const dir = join(workDir, 'bin');
  mkdirSync(dir);
  const copy = join(dir, 'kwin_wayland');
  copyFileSync(BINARY, copy);
  chmodSync(copy, 0o755);
  return copy;
}

export async function startKWin(options: { width?: number; height?: number; scale?: number; timeoutMs?: number } = {}): Promise<KWin> {
  const workDir = mkdtempSync(join(tmpdir(), 'wb-kwin-'));
  const runtimeDir = join(workDir, 'rt');
  mkdirSync(runtimeDir, { mode: 0o700 });
  chmodSync(runtimeDir, 0o700);
  const socketName = `kwin-${process.pid}-${Date.now()}`;
  const args = ['--', executable(workDir), '--virtual', '--socket', socketName, '--width', String(options.width ?? 800), '--height', String(options.height ?? 600)];
  if (options.scale !== undefined) args.push('--scale', String(options.scale));
  const proc = spawnProcess('dbus-run-session', args, {
    env: { WAYLAND_DISPLAY: undefined, WAYLAND_SOCKET: undefined, DISPLAY: undefined, XDG_RUNTIME_DIR: runtimeDir, HOME: workDir, QT_QPA_PLATFORM: undefined },
    name: 'kwin_wayland',
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const socket = join(runtimeDir, socketName);
    await waitFor(`kwin socket ${socket}`, () => (!proc.running ? Promise.reject(new Error(`kwin_wayland exited\n${proc.tail()}`)) : existsSync(socket)), options.timeoutMs ?? 20_000, 50);
  } catch (e) {
    await stop();
    throw e;
  }
  return { process: proc, env: { WAYLAND_DISPLAY: socketName, XDG_RUNTIME_DIR: runtimeDir }, stop };
}
