/**
 * A private network of virtual boards (../shared/test-recipes.md section 5):
 * one bridge on the host and one network namespace per board, each with a
 * veth pair, on a /24 of their own. Names and subnet carry this process's id
 * so that runs of other checkouts on the same machine do not collide; a lock
 * directory keeps two runs of this suite from building networks at once.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, runSync, sleep } from '../harness/process.js';

export interface BoardAddress {
  /** Network namespace (namespace boards), or null (a tap device for a virtual machine). */
  readonly ns: string | null;
  readonly ip: string;
  /** The host end of its veth, or its tap device. */
  readonly hostVeth: string;
}

/** Namespaces with a veth each (boards run as processes), or tap devices (boards are virtual machines). */
export type BoardLink = 'netns' | 'tap';

export interface BoardNetwork {
  readonly bridge: string;
  /** The host's address on the bridge (the receivers and the WalT stand-in listen there). */
  readonly hostIp: string;
  readonly boards: readonly BoardAddress[];
  /** Run a command in a board's namespace (synchronously), for set-up steps. */
  exec(ns: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string };
  /** The network's prefix length. */
  readonly prefix: number;
  /** Kill what still runs in the namespaces, delete them, the veths and the bridge. */
  destroy(): Promise<void>;
}

const LOCK = join(tmpdir(), 'waltham-netns-boards.lock');

function ip(...args: string[]): void {
  const r = runSync('ip', args);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Wait until no other live run holds the lock, then take it. */
async function lock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
      } catch {
        // being written or removed
      }
      if (owner > 0 && !isAlive(owner)) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`another board run (pid ${owner}) holds ${LOCK}`);
      else await sleep(200);
    }
  }
}

/** Can this process make network namespaces (root, iproute2)? A reason when not. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const r = runSync('ip', ['netns', 'list']);
  if (r.status !== 0) return `ip netns does not work here: ${r.stderr.trim()}`;
  return null;
}

export async function createBoardNetwork(count: number, link: BoardLink = 'netns'): Promise<BoardNetwork> {
  await lock(180_000);
  const id = process.pid % 100000;
  const net = `10.77.${20 + (process.pid % 200)}`;
  const bridge = `wtb${id}br`;
  const boards: BoardAddress[] = [];
  const destroy = async (): Promise<void> => {
    for (const b of boards) {
      if (b.ns === null) {
        runSync('ip', ['link', 'del', b.hostVeth]);
        continue;
      }
      for (const pid of runSync('ip', ['netns', 'pids', b.ns]).stdout.split('\n').filter((p) => p !== '')) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
      runSync('ip', ['link', 'del', b.hostVeth]);
      runSync('ip', ['netns', 'del', b.ns]);
    }
    runSync('ip', ['link', 'del', bridge]);
    rmSync(LOCK, { recursive: true, force: true });
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${net}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let i = 1; i <= count; i++) {
      if (link === 'tap') {
        const b = { ns: null, ip: `${net}.${10 + i}`, hostVeth: `wtb${id}t${i}` };
        boards.push(b);
        ip('tuntap', 'add', b.hostVeth, 'mode', 'tap');
        ip('link', 'set', b.hostVeth, 'master', bridge, 'up');
        continue;
      }
      const b = { ns: `wtb${id}-b${i}`, ip: `${net}.${10 + i}`, hostVeth: `wtb${id}h${i}` };
      boards.push(b);
      ip('netns', 'add', b.ns);
      ip('link', 'add', b.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns);
      ip('link', 'set', b.hostVeth, 'master', bridge, 'up');
      ip('-n', b.ns, 'addr', 'add', `${b.ip}/24`, 'dev', 'eth0');
      ip('-n', b.ns, 'link', 'set', 'eth0', 'up');
      ip('-n', b.ns, 'link', 'set', 'lo', 'up');
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    bridge,
    hostIp: `${net}.1`,
    boards,
    prefix: 24,
    exec: (ns, args) => runSync('ip', ['netns', 'exec', ns, ...args]),
    destroy,
  };
}
