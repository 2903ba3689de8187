/**
 * Virtual boards as small qemu machines (../shared/test-recipes.md section 6),
 * like WalT's own virtual nodes: software emulation (TCG), a Debian root file
 * system built once by build-image.sh (debootstrap, then the image's own
 * provisioning script inside it) and cached outside the repository; each run
 * installs this checkout's build into a copy with the same provisioning
 * script (stage.sh, then provision.sh --root) and makes one disk that all
 * boards boot with `snapshot=on`. A board's address, name and receiver come
 * from the kernel command line; it sits on the host bridge through a tap.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killTreeAndWait, run, runSync, spawnProcess, which, type ManagedProcess } from '../../harness/process.js';
import type { BoardAddress } from '../network.js';
import { waitForHealth } from '../walt-node.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');
const STATUS_PORT = 34401;

/** x86_64: WalT's pc-x86-64 virtual nodes; arm64: the Raspberry Pi's architecture (qemu -M virt). */
export type QemuArch = 'x86_64' | 'arm64';

/** Why qemu boards of `arch` cannot run here, or null. */
export function qemuUnavailable(arch: QemuArch = 'x86_64'): string | null {
  const needed = ['debootstrap', 'mkfs.ext4', 'sha256sum', arch === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64'];
  const missing = needed.filter((b) => which(b) === null);
  if (arch === 'arm64') {
    if (!existsSync('/usr/lib/binfmt.d/qemu-aarch64.conf')) missing.push('qemu-user-static');
    if (!existsSync(join(repo, 'native/wayland-shim/index.linux-arm64-gnu.node'))) {
      if (which('aarch64-linux-gnu-gcc') === null) missing.push('gcc-aarch64-linux-gnu (for the native addon)');
      const targets = runSync('rustup', ['target', 'list', '--installed']).stdout;
      if (!targets.includes('aarch64-unknown-linux-gnu')) missing.push('the Rust target aarch64-unknown-linux-gnu (rustup target add aarch64-unknown-linux-gnu)');
    }
  }
  if (missing.length > 0) return `${missing.join(', ')} not installed (scripts/install-deps.sh${arch === 'arm64' ? ' --arm64' : ''} installs them)`;
  if (process.getuid?.() !== 0) return 'building the root file system needs root';
  return null;
}

/**
 * Why the arm64 board does not run in this run, or null: it runs when its
 * root file system is cached already or when WALTHAM_BOARDS_ARM64=1 asks for
 * it (building it takes about 26 minutes on 2 cores, too long for every run).
 */
export function arm64NotRequested(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env['WALTHAM_BOARDS_ARM64'] === '1') return null;
  const cached = runSync('sh', [join(here, 'build-image.sh'), '--cached', 'arm64']);
  if (cached.status === 0) return null;
  return 'its root file system is not cached (building it takes about 26 minutes); WALTHAM_BOARDS_ARM64=1 builds and runs it';
}

export interface QemuDisk {
  readonly arch: QemuArch;
  readonly kernel: string;
  readonly initrd: string;
  readonly disk: string;
  readonly token: string;
  readonly dir: string;
  destroy(): void;
}

/**
 * The cached root file system (built on first use: minutes) with this
 * checkout's build installed by provision.sh, as one ext4 disk image.
 */
export async function prepareQemuDisk(arch: QemuArch, log: (line: string) => void = () => {}): Promise<QemuDisk> {
  log(`qemu ${arch} boards: root file system (built once, then cached)`);
  const cache = (await run('sh', [join(here, 'build-image.sh'), arch], { timeoutMs: 60 * 60_000 })).trim().split('\n').pop()!;
  const dir = mkdtempSync(join(tmpdir(), 'wb-qemu-'));
  try {
    log(`qemu ${arch} boards: this build, staged and provisioned`);
    await run('npm', ['run', '--silent', 'build:ts'], { cwd: repo, timeoutMs: 10 * 60_000 });
    const stage = join(dir, 'stage');
    await run('sh', [join(repo, 'walt/image/stage.sh'), arch === 'arm64' ? 'rpi64' : 'pc-x86-64', stage], { timeoutMs: 10 * 60_000 });
    const root = join(dir, 'rootfs');
    // Hard links: the cache stays as it is; what provision.sh and we write replaces files.
    await run('cp', ['-al', join(cache, 'rootfs'), root], { timeoutMs: 5 * 60_000 });
    await run('sh', [join(stage, 'provision.sh'), stage, '--root', root], { timeoutMs: 5 * 60_000 });
    const token = randomBytes(16).toString('hex');
    const replace = (path: string, text: string): void => {
      try {
        unlinkSync(path);
      } catch {
        // not there
      }
      writeFileSync(path, text);
    };
    replace(join(root, 'etc/waltham/status-token'), `${token}\n`);
    const env = readFileSync(join(root, 'etc/waltham/transmitter.env'), 'utf8').replace(/^WALTHAM_APP=.*$/m, 'WALTHAM_APP=weston-simple-shm');
    replace(join(root, 'etc/waltham/transmitter.env'), env);
    const disk = join(dir, 'disk.img');
    await run('truncate', ['-s', '2G', disk]);
    await run('mkfs.ext4', ['-q', '-F', '-d', root, disk], { timeoutMs: 5 * 60_000 });
    rmSync(root, { recursive: true, force: true });
    rmSync(stage, { recursive: true, force: true });
    return { arch, kernel: join(cache, 'vmlinuz'), initrd: join(cache, 'initrd.img'), disk, token, dir, destroy: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface QemuBoardOptions {
  readonly name: string;
  readonly index: number;
  readonly address: BoardAddress;
  readonly prefix: number;
  readonly disk: QemuDisk;
  /** The receiver, given on the kernel command line (waltham.to=). */
  readonly to: string;
}

export class QemuBoard {
  readonly name: string;
  readonly ip: string;
  /** qemu boards have no walt-log-echo: no WalT log lines. */
  readonly sendsWaltLogs = false;
  private qemu: ManagedProcess | null = null;
  private readonly console: string;

  constructor(private readonly options: QemuBoardOptions) {
    this.name = options.name;
    this.ip = options.address.ip;
    this.console = join(options.disk.dir, `${options.name}.console.log`);
  }

  get statusUrl(): string {
    return `http://${this.ip}:${STATUS_PORT}`;
  }

  get persistFile(): string | null {
    return null;
  }

  token(): string {
    return this.options.disk.token;
  }

  /** Power on; resolves once the transmitter's status endpoint answers (boots take 30-60 s here). */
  async start(timeoutMs = 240_000): Promise<void> {
    const { disk, address, prefix, index } = this.options;
    const arm = disk.arch === 'arm64';
    const append = [
      arm ? 'console=ttyAMA0' : 'console=ttyS0',
      'root=/dev/vda',
      'rw',
      'quiet',
      'panic=-1',
      'net.ifnames=0',
      `systemd.hostname=${this.name}`,
      `vboard.ip=${this.ip}/${prefix}`,
      `waltham.to=${this.options.to}`,
    ].join(' ');
    // prettier-ignore
    this.qemu = spawnProcess(arm ? 'qemu-system-aarch64' : 'qemu-system-x86_64', [
      ...(arm ? ['-M', 'virt'] : []),
      '-accel', 'tcg,tb-size=128', '-cpu', 'max', '-m', arm ? '1024' : '512', '-smp', '1', '-nodefaults', '-display', 'none', '-no-reboot',
      '-kernel', disk.kernel, '-initrd', disk.initrd, '-append', append,
      '-drive', `file=${disk.disk},format=raw,if=none,id=d0,snapshot=on`, '-device', 'virtio-blk-pci,drive=d0',
      '-netdev', `tap,id=n0,ifname=${address.hostVeth},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=n0,mac=52:54:00:77:00:${(10 + index).toString(16).padStart(2, '0')}`,
      '-serial', `file:${this.console}`, '-monitor', 'none',
    ], { name: `${this.name} qemu`, lineBuffered: false });
    const qemu = this.qemu;
    await waitForHealth(this.statusUrl, this.name, timeoutMs, () => {
      if (!qemu.running) throw new Error(`${this.name}: qemu exited\n${qemu.tail()}`);
    }).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${this.tails()}`)));
  }

  /** Power off (the machine is killed; snapshot=on drops what it wrote). */
  async stop(): Promise<void> {
    const q = this.qemu;
    this.qemu = null;
    if (q !== null) await killTreeAndWait(q, 2000);
  }

  tails(): string {
    let text = '';
    try {
      text = readFileSync(this.console, 'utf8');
    } catch {
      // not started
    }
    return `--- ${this.name} console\n${text.split('\n').slice(-25).join('\n')}`;
  }

  async destroy(): Promise<void> {
    await this.stop();
  }
}
