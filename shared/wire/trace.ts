/**
 * WAYLAND_DEBUG-style traces for both dialects, in libwayland's format:
 *   [  12345.678]  -> wl_surface@3.attach(wl_buffer@5, 0, 0)      (sent)
 *   [  12345.679] wl_callback@7.done(1234)                         (received)
 * Switched on at run time: WAYLAND_DEBUG=1|client|server for the Wayland
 * dialect (libwayland's own variable and values), WALTHAM_DEBUG=1|client|server
 * for the Waltham dialect. Lines go to stderr.
 */
import type { ArgSpec, Dialect, MessageSpec, UntypedNewId } from './protocol.js';
import type { Role } from './object.js';

/** What the trace prints for an argument: the raw value plus, for objects, the interface name when known. */
export interface TraceArg {
  readonly value: unknown;
  /** For object arguments: the interface of the referenced object, if it exists. */
  readonly objectInterface?: string | undefined;
}

const ENV: Record<Dialect, string> = { wayland: 'WAYLAND_DEBUG', waltham: 'WALTHAM_DEBUG' };

/** Whether traces are on for this dialect and role, read from the environment now. */
export function traceEnabled(dialect: Dialect, role: Role, env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[ENV[dialect]];
  if (value === undefined || value === '' || value === '0') return false;
  return value === '1' || value === 'all' || value.split(',').includes(role);
}

function formatArg(spec: ArgSpec, arg: TraceArg): string {
  const v = arg.value;
  switch (spec.type) {
    case 'string':
      return v === null ? 'nil' : JSON.stringify(v);
    case 'object':
      if (v === 0 || v === null) return 'nil';
      return `${arg.objectInterface ?? '[unknown]'}@${String(v)}`;
    case 'new_id': {
      if (typeof v === 'object' && v !== null && 'interface' in v) {
        const u = v as UntypedNewId;
        return `new id ${u.interface}@${u.id}`;
      }
      return `new id ${spec.interface ?? '[unknown]'}@${String(v)}`;
    }
    case 'fixed':
      return (v as number).toFixed(6);
    case 'fd':
      return `fd ${String(v)}`;
    case 'array':
      return `array[${(v as Uint8Array).length}]`;
    case 'data':
      return `data[${(v as Uint8Array).length}]`;
    default:
      return String(v);
  }
}

/** One trace line without the trailing newline. `sent` selects the ` -> ` marker. */
export function formatTrace(
  iface: string,
  id: number,
  message: MessageSpec,
  args: readonly TraceArg[],
  sent: boolean,
  nowMs: number = performance.timeOrigin + performance.now(),
): string {
  const stamp = `[${(nowMs % 1e7).toFixed(3).padStart(11)}]`;
  const body = message.args.map((spec, i) => formatArg(spec, args[i] ?? { value: undefined })).join(', ');
  return `${stamp} ${sent ? ' -> ' : ''}${iface}@${id}.${message.name}(${body})`;
}

export type TraceSink = (line: string) => void;

export const stderrSink: TraceSink = (line) => {
  process.stderr.write(line + '\n');
};
