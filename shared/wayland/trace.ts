/**
 * WAYLAND_DEBUG lines exactly as libwayland 1.21 prints them
 * (src/connection.c, wl_closure_print), so a trace of ours can be diffed
 * against a C client's or compositor's:
 *
 *   [ 524450.762]  -> wl_registry@2.bind(3, "wp_viewporter", 1, new id [unknown]@5)
 *   [ 524451.300]  -> wp_viewport@8.set_source(100.00000000, 40.00000000, 150.00000000, 100.00000000)
 *   [ 524450.994] wl_display@1.delete_id(3)
 *
 * The line layout is the shared `formatTrace`; what differs from the shared
 * argument rendering is done here: fixed as "%d.%08d", strings quoted without
 * escaping, an untyped new_id as its three wire fields (interface, version,
 * `new id [unknown]@N`), a null new_id and an unresolved object as `nil`, and
 * the stamp as libwayland's (microseconds of CLOCK_REALTIME in 32 bits, printed
 * as milliseconds).
 */
import type { MessageSpec, UntypedNewId } from '../wire/protocol.js';
import { formatTrace } from '../wire/trace.js';
import { doubleToFixed, formatFixed } from './wire.js';

/** One argument as the trace sees it: the wire value and, for objects, the interface of the object it names. */
export interface TracedArg {
  readonly value: unknown;
  /** Interface of the referenced object; undefined when the id names no live object (printed as nil). */
  readonly objectInterface?: string | undefined;
}

/** libwayland's stamp: `(realtime_us mod 2^32) / 1000` milliseconds. */
export function libwaylandStamp(nowMs: number = performance.timeOrigin + performance.now()): number {
  return (Math.floor(nowMs * 1000) % 2 ** 32) / 1000;
}

/** Message specs whose arguments are pre-rendered strings, by argument count. */
const rendered = new WeakMap<MessageSpec, Map<number, MessageSpec>>();

function renderedSpec(message: MessageSpec, count: number): MessageSpec {
  let byCount = rendered.get(message);
  if (byCount === undefined) {
    byCount = new Map();
    rendered.set(message, byCount);
  }
  let spec = byCount.get(count);
  if (spec === undefined) {
    spec = {
      ...message,
      args: Array.from({ length: count }, (_, i) => ({ name: `a${i}`, type: 'uint' as const, interface: null, nullable: false, enum: null })),
    };
    byCount.set(count, spec);
  }
  return spec;
}

/** Render the arguments of a message the way wl_closure_print does. */
export function renderArgs(message: MessageSpec, args: readonly TracedArg[]): string[] {
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
        if (spec.interface === null && typeof v === 'object' && v !== null) {
          const u = v as UntypedNewId;
          out.push(`"${u.interface}"`, String(u.version), `new id [unknown]@${u.id}`);
        } else {
          out.push(`new id ${spec.interface ?? '[unknown]'}@${v === 0 || v === null ? 'nil' : String(v)}`);
        }
        break;
      case 'array':
        out.push(`array[${(v as Uint8Array).byteLength}]`);
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

/** One trace line (no newline), as libwayland prints it. */
export function formatWaylandTrace(
  iface: string,
  id: number,
  message: MessageSpec,
  args: readonly TracedArg[],
  sent: boolean,
  nowMs?: number,
): string {
  const values = renderArgs(message, args);
  return formatTrace(iface, id, renderedSpec(message, values.length), values.map((value) => ({ value })), sent, libwaylandStamp(nowMs));
}
