/**
 * Objects that describe themselves when printed (console.log, the REPL,
 * util.inspect), as WalT's scripting API objects do: a title, their
 * attributes with values, their methods with one line each, their items.
 */
import { inspect } from 'node:util';

export interface Description {
  readonly title: string;
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** `signature` → one-line help, e.g. `'connect(receiver)': 'send ... to RECEIVER[:PORT]'`. */
  readonly methods?: Readonly<Record<string, string>>;
  /** How to reach sub-items → their short form, e.g. `"get('rpi-a')"` → `<node rpi-a>`. */
  readonly items?: Readonly<Record<string, string>>;
  readonly note?: string;
}

export interface SelfDescribing {
  /** The one-line form used when this object is a value inside another's description. */
  shortDescription(): string;
}

function isSelfDescribing(v: unknown): v is SelfDescribing {
  return typeof v === 'object' && v !== null && typeof (v as SelfDescribing).shortDescription === 'function';
}

/** A value as one short line (nested API objects in their short form). */
export function shortValue(v: unknown): string {
  if (isSelfDescribing(v)) return v.shortDescription();
  if (Array.isArray(v)) return `[${v.map(shortValue).join(', ')}]`;
  const text = inspect(v, { depth: 1, breakLength: Infinity, compact: true });
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

export function formatDescription(d: Description): string {
  let text = `< -- ${d.title} --\n`;
  const attrs = Object.entries(d.attributes ?? {});
  if (attrs.length > 0) text += `\n  read-only attributes:\n${attrs.map(([k, v]) => `  - .${k}: ${shortValue(v)}`).join('\n')}\n`;
  const methods = Object.entries(d.methods ?? {});
  if (methods.length > 0) text += `\n  methods:\n${methods.map(([k, v]) => `  - .${k}: ${v}`).join('\n')}\n`;
  const items = Object.entries(d.items ?? {});
  if (items.length > 0) text += `\n  items:\n${items.map(([k, v]) => `  - .${k}: ${v}`).join('\n')}\n`;
  if (d.note !== undefined) text += `\n  note: ${d.note}\n`;
  return `${text}>`;
}
