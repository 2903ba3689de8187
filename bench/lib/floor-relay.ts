/**
 * The least a Node process relaying a frame can do: one message in from the
 * transmitter's side (TCP), one out to the compositor (Unix socket), one
 * answer back from the compositor, one message out over TCP. Run by
 * bench/loop-floor.ts; prints its own CPU per exchange after `warmup`
 * exchanges as one JSON line when the TCP peer closes.
 *
 *   node dist/bench/lib/floor-relay.js net|shim TCP_PORT UNIX_PATH WARMUP
 *
 * `net`: both sockets as net.Socket reading into one static buffer each
 * (Node's cheapest reads). `shim`: the Unix socket the way our Wayland
 * connections use it (readiness from the native shim's Poller,
 * recvmsg/sendmsg through napi).
 */
import net from 'node:net';
import { rearmFd, READABLE, watchFd } from '../../shared/wayland/fd-watch.js';
import { MAX_FDS, recvMsgInto, sendMsg, unixConnect } from '../../shared/native.js';

const [variant, port, path, warmupArg] = process.argv.slice(2);
const warmup = Number(warmupArg ?? 30);
const tcpBuffer = Buffer.alloc(65536);
const unixBuffer = new Uint8Array(65536);
const unixFds = new Int32Array(MAX_FDS);
let exchanges = 0;
let start: NodeJS.CpuUsage | null = null;
let toUnix: (bytes: Uint8Array) => void;

function answered(): void {
  exchanges++;
  if (exchanges === warmup) start = process.cpuUsage();
  tcp.write(unixBuffer.subarray(0, 40));
}

if (variant === 'net') {
  const unix = net.connect({
    path: path!,
    onread: {
      buffer: unixBuffer,
      callback: () => {
        answered();
        return true;
      },
    },
  });
  toUnix = (bytes) => void unix.write(bytes);
} else if (variant === 'shim') {
  const fd = unixConnect(path!);
  watchFd(fd, READABLE, () => {
    // As our Wayland connections read: until EAGAIN.
    while (recvMsgInto(fd, unixBuffer, 0, unixFds) > 0) answered();
    rearmFd(fd, READABLE);
  });
  toUnix = (bytes) => void sendMsg(fd, bytes, []);
} else throw new Error(`unknown variant ${variant}: net or shim`);

const tcp = net.connect({
  host: '127.0.0.1',
  port: Number(port),
  noDelay: true,
  onread: {
    buffer: tcpBuffer,
    callback: () => {
      toUnix(tcpBuffer.subarray(0, 100));
      return true;
    },
  },
});
tcp.on('end', () => {
  const used = start === null ? null : process.cpuUsage(start);
  const measured = exchanges - warmup;
  process.stdout.write(`${JSON.stringify({ variant, exchanges: measured, cpuUs: used === null ? null : used.user + used.system })}\n`);
  process.exit(0);
});
