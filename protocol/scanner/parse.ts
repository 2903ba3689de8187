/**
 * XML -> IR. Reads a Wayland-style protocol file with a real XML parser
 * (saxes, which reports line numbers), validates it and assigns opcodes.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { ArgType, Dialect } from '../../shared/wire/protocol.js';
import { type Doc, type IrArg, type IrEntry, type IrEnum, type IrInterface, type IrMessage, type IrProtocol, ScannerError } from './ir.js';

export interface ParseOptions {
  readonly dialect: Dialect;
  /** Waltham: the number given to the first message (opcodes are global). Default 1. */
  readonly firstOpcode?: number;
}

interface Node {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly line: number;
  readonly children: Node[];
  text: string;
}

const ARG_TYPES: Record<Dialect, readonly ArgType[]> = {
  wayland: ['int', 'uint', 'fixed', 'string', 'object', 'new_id', 'array', 'fd'],
  waltham: ['int', 'uint', 'fixed', 'string', 'object', 'new_id', 'array', 'data'],
};

const NAME = /^[a-z_][a-z0-9_]*$/;
const ENTRY_NAME = /^[a-z0-9_]+$/;

function toTree(file: string, xml: string): Node {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: Node[] = [];
  let root: Node | null = null;
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const node: Node = { name: tag.name, attrs: { ...tag.attributes } as Record<string, string>, line: parser.line, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(node);
    else root = node;
    stack.push(node);
  });
  parser.on('text', (text: string) => {
    if (stack.length > 0) stack[stack.length - 1]!.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('error', (err: Error) => {
    // saxes prefixes its messages with "line:column: "; keep only our own prefix.
    throw new ScannerError(file, parser.line, err.message.replace(/^\d+:\d+: /, ''));
  });
  parser.write(xml).close();
  if (root === null) throw new ScannerError(file, 1, 'no root element');
  return root;
}

function fail(file: string, node: { line: number }, message: string): never {
  throw new ScannerError(file, node.line, message);
}

function attr(file: string, node: Node, name: string): string {
  const value = node.attrs[name];
  if (value === undefined) fail(file, node, `<${node.name}> needs the attribute ${name}`);
  return value;
}

function checkAttrs(file: string, node: Node, allowed: readonly string[]): void {
  for (const key of Object.keys(node.attrs)) {
    if (!allowed.includes(key)) fail(file, node, `<${node.name}> has an unknown attribute ${key}`);
  }
}

function intAttr(file: string, node: Node, name: string, fallback: number, min = 1): number {
  const raw = node.attrs[name];
  if (raw === undefined) return fallback;
  const value = /^0x[0-9a-fA-F]+$/.test(raw) ? Number.parseInt(raw, 16) : /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min) fail(file, node, `${name}="${raw}" is not an integer >= ${min}`);
  return value;
}

function checkName(file: string, node: Node, name: string, pattern = NAME): string {
  if (!pattern.test(name)) fail(file, node, `"${name}" is not a valid name`);
  return name;
}

function dedent(text: string): string | null {
  const lines = text.replace(/\t/g, '        ').split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) return null;
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent).trimEnd()).join('\n');
}

function docOf(file: string, node: Node): Doc {
  const d = node.children.find((c) => c.name === 'description');
  if (d === undefined) return { summary: node.attrs['summary'] ?? null, text: null };
  checkAttrs(file, d, ['summary']);
  return { summary: d.attrs['summary'] ?? null, text: dedent(d.text) };
}

function parseArg(file: string, node: Node, dialect: Dialect): IrArg {
  checkAttrs(file, node, ['name', 'type', 'interface', 'allow-null', 'enum', 'summary']);
  const name = checkName(file, node, attr(file, node, 'name'));
  const type = attr(file, node, 'type') as ArgType;
  if (!ARG_TYPES[dialect].includes(type)) fail(file, node, `argument ${name} has type "${type}", not one of ${ARG_TYPES[dialect].join(', ')} (${dialect} dialect)`);
  const iface = node.attrs['interface'] ?? null;
  if (iface !== null && type !== 'object' && type !== 'new_id') fail(file, node, `argument ${name}: interface= is only valid on object and new_id`);
  if (iface !== null) checkName(file, node, iface);
  const allowNull = node.attrs['allow-null'];
  if (allowNull !== undefined && allowNull !== 'true' && allowNull !== 'false') fail(file, node, `allow-null must be "true" or "false"`);
  const nullable = allowNull === 'true';
  if (nullable && !['object', 'string', 'array', 'new_id'].includes(type)) fail(file, node, `argument ${name} of type ${type} cannot be nullable`);
  const en = node.attrs['enum'] ?? null;
  if (en !== null && type !== 'int' && type !== 'uint') fail(file, node, `argument ${name}: enum= is only valid on int and uint`);
  return { name, type, interface: iface, nullable, enum: en, summary: node.attrs['summary'] ?? null, line: node.line };
}

function parseMessage(file: string, node: Node, kind: 'request' | 'event', opcode: number, ifaceVersion: number, dialect: Dialect): IrMessage {
  checkAttrs(file, node, ['name', 'type', 'since', 'deprecated-since']);
  const name = checkName(file, node, attr(file, node, 'name'));
  const type = node.attrs['type'];
  if (type !== undefined && type !== 'destructor') fail(file, node, `${kind} ${name}: type="${type}" is not "destructor"`);
  const since = intAttr(file, node, 'since', 1);
  if (since > ifaceVersion) fail(file, node, `${kind} ${name}: since="${since}" is above the interface version ${ifaceVersion}`);
  const args: IrArg[] = [];
  for (const child of node.children) {
    if (child.name === 'arg') args.push(parseArg(file, child, dialect));
    else if (child.name !== 'description') fail(file, child, `unexpected <${child.name}> in <${kind}>`);
  }
  const names = new Set<string>();
  for (const a of args) {
    if (names.has(a.name)) fail(file, a, `argument ${a.name} appears twice in ${name}`);
    names.add(a.name);
  }
  if (args.filter((a) => a.type === 'new_id').length > 1) fail(file, node, `${kind} ${name} has more than one new_id argument`);
  return { name, kind, opcode, since, destructor: type === 'destructor', args, doc: docOf(file, node), line: node.line };
}

function parseEnum(file: string, node: Node): IrEnum {
  checkAttrs(file, node, ['name', 'since', 'bitfield']);
  const name = checkName(file, node, attr(file, node, 'name'));
  const bitfield = node.attrs['bitfield'] === 'true';
  const entries: IrEntry[] = [];
  for (const child of node.children) {
    if (child.name === 'description') continue;
    if (child.name !== 'entry') fail(file, child, `unexpected <${child.name}> in <enum>`);
    checkAttrs(file, child, ['name', 'value', 'summary', 'since', 'deprecated-since']);
    const entryName = checkName(file, child, attr(file, child, 'name'), ENTRY_NAME);
    if (entries.some((e) => e.name === entryName)) fail(file, child, `entry ${entryName} appears twice in enum ${name}`);
    const raw = attr(file, child, 'value');
    const value = /^0x[0-9a-fA-F]+$/.test(raw) ? Number.parseInt(raw, 16) : /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value)) fail(file, child, `entry ${entryName}: value "${raw}" is not an integer`);
    let summary = child.attrs['summary'] ?? null;
    const desc = child.children.find((c) => c.name === 'description');
    if (summary === null && desc !== undefined) summary = desc.attrs['summary'] ?? null;
    entries.push({ name: entryName, value, since: intAttr(file, child, 'since', 1), summary });
  }
  return { name, bitfield, since: intAttr(file, node, 'since', 1), entries, doc: docOf(file, node), line: node.line };
}

/** Parse one protocol file. `counter` carries the global opcode across files for Waltham. */
export function parseProtocol(file: string, xml: string, options: ParseOptions): IrProtocol {
  const root = toTree(file, xml);
  if (root.name !== 'protocol') fail(file, root, `the root element is <${root.name}>, not <protocol>`);
  checkAttrs(file, root, ['name']);
  const name = checkName(file, root, attr(file, root, 'name'));
  let next = options.firstOpcode ?? 1;
  let copyright: string | null = null;
  const interfaces: IrInterface[] = [];
  for (const node of root.children) {
    if (node.name === 'copyright') {
      copyright = dedent(node.text);
      continue;
    }
    if (node.name === 'description') continue;
    if (node.name !== 'interface') fail(file, node, `unexpected <${node.name}> in <protocol>`);
    checkAttrs(file, node, ['name', 'version']);
    const ifaceName = checkName(file, node, attr(file, node, 'name'));
    if (interfaces.some((i) => i.name === ifaceName)) fail(file, node, `interface ${ifaceName} is defined twice`);
    const version = intAttr(file, node, 'version', NaN);
    const requests: IrMessage[] = [];
    const events: IrMessage[] = [];
    const enums: IrEnum[] = [];
    for (const child of node.children) {
      if (child.name === 'request' || child.name === 'event') {
        const list = child.name === 'request' ? requests : events;
        const opcode = options.dialect === 'waltham' ? next++ : list.length;
        const message = parseMessage(file, child, child.name, opcode, version, options.dialect);
        if (list.some((m) => m.name === message.name)) fail(file, child, `${child.name} ${message.name} is defined twice in ${ifaceName}`);
        list.push(message);
      } else if (child.name === 'enum') {
        const e = parseEnum(file, child);
        if (enums.some((x) => x.name === e.name)) fail(file, child, `enum ${e.name} is defined twice in ${ifaceName}`);
        enums.push(e);
      } else if (child.name !== 'description') {
        fail(file, child, `unexpected <${child.name}> in <interface>`);
      }
    }
    interfaces.push({ name: ifaceName, version, requests, events, enums, doc: docOf(file, node), line: node.line });
  }
  if (options.dialect === 'waltham' && next - 1 > 0xffff) fail(file, root, 'more than 65535 messages: opcodes do not fit in 16 bits');
  return { name, dialect: options.dialect, file, copyright, interfaces };
}

/**
 * Check that every interface named by an argument exists in `protocols`
 * (a dialect's whole set), so generated imports resolve.
 */
export function checkReferences(protocols: readonly IrProtocol[]): void {
  const known = new Set(protocols.flatMap((p) => p.interfaces.map((i) => i.name)));
  for (const p of protocols) {
    for (const iface of p.interfaces) {
      for (const m of [...iface.requests, ...iface.events]) {
        for (const a of m.args) {
          if (a.interface !== null && !known.has(a.interface)) {
            throw new ScannerError(p.file, a.line, `argument ${a.name} of ${iface.name}.${m.name} names unknown interface ${a.interface}`);
          }
          if (a.enum !== null) {
            const [owner, enumName] = a.enum.includes('.') ? a.enum.split('.', 2) as [string, string] : [iface.name, a.enum];
            const ownerIface = protocols.flatMap((q) => q.interfaces).find((i) => i.name === owner);
            if (ownerIface === undefined || !ownerIface.enums.some((e) => e.name === enumName)) {
              throw new ScannerError(p.file, a.line, `argument ${a.name} of ${iface.name}.${m.name} names unknown enum ${a.enum}`);
            }
          }
        }
      }
    }
  }
}
