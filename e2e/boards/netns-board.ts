/**
 * A virtual board in a network namespace: a root directory made by the
 * image's own provisioning script (walt/image/provision.sh, without apt and
 * without the packaged build: the board runs this checkout), and the image's
 * own start scripts run in the namespace as the board's services would:
 * weston (headless: no /dev/dri here), then the transmitter with its status
 * endpoint on port 34401, the receiver from the board's configuration and a
 * real application. `stop()` is the board losing power; `start()` boots it.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandArgs } from '../bridge.js';
import { killTreeAndWait, runSync, spawnProcess, waitFor, type ManagedProcess } from '../harness/process.js';
import type { BoardAddress } from './network.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const imageDir = join(repo, 'walt', 'image');
export const STATUS_PORT = 34401;

export interface NetnsBoardOptions {
  readonly name: string;
  readonly address: BoardAddress;
  /** What the WalT server fills into /etc/waltham/walt-server.env. */
  readonly waltServerIp: string;
  /** WALTHAM_TO of the image's /etc/waltham/transmitter.env. */
  readonly to: string;
  /** WALTHAM_APP: the application the transmitter starts. */
  readonly app: string;
}

export class NetnsBoard {
  readonly name: string;
  readonly ip: string;
  readonly root: string;
  private weston: ManagedProcess | null = null;
  private transmitter: ManagedProcess | null = null;

  constructor(private readonly options: NetnsBoardOptions) {
    this.name = options.name;
    this.ip = options.address.ip;
    this.root = mkdtempSync(join(tmpdir(), `wb-board-${options.name}-`));
    const r = runSync('sh', [join(imageDir, 'provision.sh'), imageDir, '--root', this.root, '--no-apt', '--no-package']);
    if (r.status !== 0) throw new Error(`provision.sh for ${this.name} failed:\n${r.stdout}${r.stderr}`);
    const etc = join(this.root, 'etc/waltham');
    writeFileSync(join(etc, 'walt-server.env'), `WALT_SERVER_IP=${options.waltServerIp}\n`);
    const env = readFileSync(join(etc, 'transmitter.env'), 'utf8')
      .replace(/^WALTHAM_TO=.*$/m, `WALTHAM_TO=${options.to}`)
      .replace(/^WALTHAM_APP=.*$/m, `WALTHAM_APP=${options.app}`);
    writeFileSync(join(etc, 'transmitter.env'), env);
    mkdirSync(join(this.root, 'persist'));
    mkdirSync(join(this.root, 'run'), { mode: 0o700 });
    // The board's waltham-transmitter runs this checkout; walt-log-echo stands in for WalT's
    // command of that name and keeps the lines in a file the WalT stand-in serves.
    const bin = join(this.root, 'usr/local/bin');
    mkdirSync(bin, { recursive: true });
    const tx = join(bin, 'waltham-transmitter');
    writeFileSync(tx, `#!/bin/sh\ncd '${repo}'\nexec '${process.execPath}' ${commandArgs('transmitter').map((a) => `'${a}'`).join(' ')} "$@"\n`);
    const echo = join(bin, 'walt-log-echo');
    writeFileSync(echo, `#!/bin/sh\n# Stands in for WalT's walt-log-echo: STREAM LINE, kept as JSON lines.\nprintf '{"timestamp": %s, "stream": "%s", "line": "%s"}\\n' "$(date +%s.%N)" "$1" "$2" >> '${this.logFile}'\n`);
    for (const f of [tx, echo]) chmodSync(f, 0o755);
  }

  /** Where a control request persists the receiver (WalT's /persist on the board). */
  get persistFile(): string | null {
    return join(this.root, 'persist/waltham/transmitter.env');
  }

  /** Its walt-log-echo stand-in keeps what the board sends to WalT's logs. */
  readonly sendsWaltLogs = true;

  /** The lines the board sent to WalT's log stream (walt-log-echo). */
  get logFile(): string {
    return join(this.root, 'walt-log-echo.jsonl');
  }

  get statusUrl(): string {
    return `http://${this.ip}:${STATUS_PORT}`;
  }

  /** The node's status token, as `walt node cp NODE:/persist/waltham/status-token` gives it. */
  token(): string {
    return readFileSync(join(this.root, 'persist/waltham/status-token'), 'utf8').trim();
  }

  get running(): boolean {
    return this.transmitter?.running === true;
  }

  /** Boot: weston, then the transmitter (as the two services do). Resolves once the status endpoint answers. */
  async start(timeoutMs = 60_000): Promise<void> {
    const ns = this.options.address.ns;
    if (ns === null) throw new Error(`${this.name}: a namespace board needs a namespace`);
    const lib = join(this.root, 'usr/local/lib/waltham');
    const env = {
      XDG_RUNTIME_DIR: join(this.root, 'run'),
      WALTHAM_ETC: join(this.root, 'etc/waltham'),
      WALTHAM_PERSIST: join(this.root, 'persist'),
      WALTHAM_CMDLINE: join(this.root, 'cmdline'),
      WALTHAM_DRM_CARD: join(this.root, 'no-dri-card0'),
      WALTHAM_NODE_NAME: this.name,
      WALTHAM_WIDTH: '640',
      WALTHAM_HEIGHT: '480',
      WALTHAM_LOG_LEVEL: 'debug',
      WAYLAND_DISPLAY: undefined,
      PATH: `${join(this.root, 'usr/local/bin')}:${process.env['PATH'] ?? ''}`,
    };
    this.weston = spawnProcess('ip', ['netns', 'exec', ns, join(lib, 'weston-start')], { env, name: `${this.name} weston` });
    await waitFor(`${this.name}: weston's socket`, () => {
      if (!this.weston!.running) throw new Error(`weston exited\n${this.weston!.tail()}`);
      return runSync('test', ['-S', join(this.root, 'run/wayland-0')]).status === 0;
    }, timeoutMs);
    this.transmitter = spawnProcess('ip', ['netns', 'exec', ns, join(lib, 'transmitter-start')], { env, name: `${this.name} transmitter`, lineBuffered: false });
    await this.transmitter.waitForLine(/status on http:/, timeoutMs);
  }

  /** Power off: everything of the board is killed at once. */
  async stop(): Promise<void> {
    const procs = [this.transmitter, this.weston].filter((p): p is ManagedProcess => p !== null);
    this.transmitter = null;
    this.weston = null;
    await Promise.all(procs.map((p) => killTreeAndWait(p, 2000)));
  }

  /** The last lines of the board's processes, for failure messages. */
  tails(): string {
    return [this.transmitter, this.weston]
      .filter((p): p is ManagedProcess => p !== null)
      .map((p) => `--- ${p.name}\n${p.tail(15)}`)
      .join('\n');
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (process.env['WALTHAM_E2E_KEEP'] !== '1') rmSync(this.root, { recursive: true, force: true });
  }
}
