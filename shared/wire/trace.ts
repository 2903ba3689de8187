/**
 * WAYLAND_DEBUG traces for both dialects, exactly as libwayland 1.21 prints
 * them (src/connection.c, wl_closure_print), so a trace of ours can be diffed
 * against a C client's or compositor's:
 *
 *   [ 524450.762]  -> wl_registry@2.bind(3, "wp_viewporter", 1, new id [unknown]@5)   (sent)
 *   [ 524451.300]  -> wp_viewport@8.set_source(100.00000000, 40.00000000, 150.00000000, 100.00000000)
 *   [ 524450.994] wl_display@1.delete_id(3)                                           (received)
 *
 * libwayland's rendering: the stamp is microseconds of CLOCK_REALTIME in 32
 * bits, printed as milliseconds; fixed as "%d.%08d"; strings quoted without
 * escaping; a null object, an object id that names no live object and a null
 * new_id as `nil`; an untyped new_id as its three Wayland wire fields
 * (interface, version, `new id [unknown]@N`). Waltham's `data` prints like an
 * array, and Waltham prints an untyped new_id as one argument (see
 * `TraceArg.objectInterface`).
 *
 * Switched on at run time: WAYLAND_DEBUG=1|client|server for the Wayland
 * dialect (libwayland's own variable and values), WALTHAM_DEBUG=1|client|server
 * for the Waltham dialect. Lines go to stderr.
 */
import { doubleToFixed, formatFixed } from './fixed.js';
import type { Dialect, MessageSpec, UntypedNewId } from './protocol.js';
import type { Role } from './object.js';

/** One argument as the trace sees it: the wire value and, for objects, the interface of the object it names. */
export interface TraceArg {
  readonly value: unknown;
  /**
   * For an object argument: the interface of the object the id names;
   * undefined when it names no live object (printed as nil). For a new_id
   * whose XML names no interface, given as a plain id: the created object's
   * interface, printed as `new id iface@N` (how Waltham prints it; an
   * `UntypedNewId` value prints as libwayland's three fields instead).
   */
  readonly objectInterface?: string | undefined;
}

const ENV: Record<Dialect, string> = { wayland: 'WAYLAND_DEBUG', waltham: 'WALTHAM_DEBUG' };

/** Whether traces are on for this dialect and role, read from the environment now. */
export function traceEnabled(dialect: Dialect, role: Role, env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[ENV[dialect]];
  if (value === undefined || value === '' || value === '0') return false;
  return value === '1' || value === 'all' || value.split(',').includes(role);
}

/** libwayland's stamp: `(realtime_us mod 2^32) / 1000` milliseconds. */
export function libwaylandStamp(nowMs: number = performance.timeOrigin + performance.now()): number {
  return (Math.floor(nowMs * 1000) % 2 ** 32) / 1000;
}

function isUntypedNewId(v: unknown): v is UntypedNewId {
  return typeof v === 'object' && v !== null && 'interface' in v;
}

/** The arguments of a message as wl_closure_print renders them (an untyped new_id gives three). */
export function formatArgs(message: MessageSpec, args: readonly TraceArg[]): string[] {
  const out: string[] = [];
  message.args.forEach((spec, i) => {
    const arg = args[i] ?? { value: undefined };
    const v = arg.value;
    switch (spec.type) {
      case 'fixed':
        out.push(formatFixed(doubleToFixed(v as number)));
        break;
      case 'string':
        out.push(v === null || v === undefined ? 'nil' : `"${String(v)}"`);
        break;
      case 'object':
        out.push(v === 0 || v === null || arg.objectInterface === undefined ? 'nil' : `${arg.objectInterface}@${String(v)}`);
        break;
      case 'new_id':
        if (spec.interface === null && isUntypedNewId(v)) {
          out.push(`"${v.interface}"`, String(v.version), `new id [unknown]@${v.id}`);
        } else {
          out.push(`new id ${spec.interface ?? arg.objectInterface ?? '[unknown]'}@${v === 0 || v === null ? 'nil' : String(v)}`);
        }
        break;
      case 'array':
        out.push(`array[${(v as Uint8Array).byteLength}]`);
        break;
      case 'data':
        out.push(`data[${(v as Uint8Array).byteLength}]`);
        break;
      case 'fd':
        out.push(`fd ${String(v)}`);
        break;
      default:
        out.push(String(v));
    }
  });
  return out;
}

/** One trace line (no newline), as libwayland prints it. `sent` selects the ` -> ` marker. */
export function formatTrace(
  iface: string,
  id: number,
  message: MessageSpec,
  args: readonly TraceArg[],
  sent: boolean,
  nowMs?: number,
): string {
  const stamp = `[${libwaylandStamp(nowMs).toFixed(3).padStart(11)}]`;
  return `${stamp} ${sent ? ' -> ' : ''}${iface}@${id}.${message.name}(${formatArgs(message, args).join(', ')})`;
}

export type TraceSink = (line: string) => void;

export const stderrSink: TraceSink = (line) => {
  process.stderr.write(line + '\n');
};
