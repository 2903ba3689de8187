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

/** Lower-case words joined by '_'; at least one letter, so that generated names are never empty. */
const NAME = /^_*[a-z][a-z0-9_]*$/;
/** Entry names may start with a digit (wl_output.transform "90"); generated keys then get a '_' prefix. */
const ENTRY_NAME = /^[a-z0-9_]*[a-z0-9][a-z0-9_]*$/;
/** enum= names an enum of the same interface, or INTERFACE.ENUM. */
const ENUM_REF = /^(_*[a-z][a-z0-9_]*\.)?_*[a-z][a-z0-9_]*$/;

/** 1-based line of each UTF-16 offset, counting \n, \r\n and a lone \r as line breaks (XML 1.0, 2.11). */
function lineIndex(xml: string): (offset: number) => number {
  const starts = [0];
  for (const m of xml.matchAll(/\r\n?|\n/g)) starts.push(m.index + m[0].length);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

function toTree(file: string, xml: string): Node {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const lineAt = lineIndex(xml);
  const stack: Node[] = [];
  let root: Node | null = null;
  parser.on('opentag', (tag: SaxesTagPlain) => {
    // saxes reports the position after the tag's '>'; a tag may span lines, and
    // '<' cannot occur inside it (XML 1.0, 3.1), so its start is the last '<' before.
    const line = lineAt(Math.max(0, xml.lastIndexOf('<', parser.position - 1)));
    const node: Node = { name: tag.name, attrs: { ...tag.attributes } as Record<string, string>, line, children: [], text: '' };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(node);
    else root = node;
    // A self-closing tag gets its closetag event at once; push it all the same.
    stack.push(node);
  });
  const onText = (text: string): void => {
    if (stack.length > 0) stack[stack.length - 1]!.text += text;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  let closed: Node | undefined;
  parser.on('closetag', () => {
    closed = stack.pop();
  });
  parser.on('error', (err: Error) => {
    // saxes prefixes its messages with "line:column: "; keep only our own prefix.
    const message = err.message.replace(/^\d+:\d+: /, '');
    const open = stack[stack.length - 1];
    if (open !== undefined && /^unclosed tag/.test(message)) {
      throw new ScannerError(file, open.line, `<${open.name}> is never closed`);
    }
    // On a close tag that does not match, saxes first closes the open element
    // (emitting its closetag), then reports.
    if (closed !== undefined && /^unexpected close tag/.test(message)) {
      throw new ScannerError(file, closed.line, `<${closed.name}> is not closed before the close tag on line ${parser.line}`);
    }
    throw new ScannerError(file, parser.line, message);
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

/** Fails on any child element not named in `allowed`, and on a second <description>. */
function checkChildren(file: string, node: Node, allowed: readonly string[]): void {
  let descriptions = 0;
  for (const child of node.children) {
    if (!allowed.includes(child.name)) fail(file, child, `unexpected <${child.name}> in <${node.name}>`);
    if (child.name === 'description' && ++descriptions > 1) fail(file, child, `<${node.name}> has more than one <description>`);
  }
}

function parseInt32(raw: string): number {
  return /^0x[0-9a-fA-F]+$/.test(raw) ? Number.parseInt(raw, 16) : /^-?\d+$/.test(raw) ? Number(raw) : NaN;
}

function intAttr(file: string, node: Node, name: string, fallback: number): number {
  const raw = node.attrs[name];
  if (raw === undefined) return fallback;
  const value = parseInt32(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > 0xffffffff) fail(file, node, `${name}="${raw}" is not an integer from 1 to 4294967295`);
  return value;
}

function checkName(file: string, node: Node, name: string, pattern = NAME): string {
  if (!pattern.test(name)) fail(file, node, `"${name}" is not a valid name`);
  return name;
}

function dedent(text: string): string | null {
  const lines = text.replace(/\r\n?/g, '\n').replace(/\t/g, '        ').split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) return null;
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent).trimEnd()).join('\n');
}

/** The <description> of a node (children already checked), or its summary attribute. */
function docOf(file: string, node: Node): Doc {
  const d = node.children.find((c) => c.name === 'description');
  if (d === undefined) return { summary: node.attrs['summary'] ?? null, text: null };
  checkAttrs(file, d, ['summary']);
  checkChildren(file, d, []);
  return { summary: node.attrs['summary'] ?? d.attrs['summary'] ?? null, text: dedent(d.text) };
}

function parseArg(file: string, node: Node, dialect: Dialect): IrArg {
  checkAttrs(file, node, ['name', 'type', 'interface', 'allow-null', 'enum', 'summary']);
  checkChildren(file, node, ['description']);
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
  if (en !== null && !ENUM_REF.test(en)) fail(file, node, `argument ${name}: enum="${en}" is neither ENUM nor INTERFACE.ENUM`);
  return { name, type, interface: iface, nullable, enum: en, summary: docOf(file, node).summary, line: node.line };
}

function parseMessage(file: string, node: Node, kind: 'request' | 'event', opcode: number, ifaceVersion: number, dialect: Dialect): IrMessage {
  checkAttrs(file, node, ['name', 'type', 'since', 'deprecated-since']);
  checkChildren(file, node, ['description', 'arg']);
  const name = checkName(file, node, attr(file, node, 'name'));
  const type = node.attrs['type'];
  if (type !== undefined && type !== 'destructor') fail(file, node, `${kind} ${name}: type="${type}" is not "destructor"`);
  const since = intAttr(file, node, 'since', 1);
  if (since > ifaceVersion) fail(file, node, `${kind} ${name}: since="${since}" is above the interface version ${ifaceVersion}`);
  const args: IrArg[] = [];
  for (const child of node.children) {
    if (child.name !== 'arg') continue;
    const a = parseArg(file, child, dialect);
    if (args.some((b) => b.name === a.name)) fail(file, a, `argument ${a.name} appears twice in ${name}`);
    // wayland-scanner and libwayland allow one new object per message.
    if (a.type === 'new_id' && args.some((b) => b.type === 'new_id')) fail(file, a, `${kind} ${name} has more than one new_id argument`);
    args.push(a);
  }
  return { name, kind, opcode, since, destructor: type === 'destructor', args, doc: docOf(file, node), line: node.line };
}

function parseEnum(file: string, node: Node): IrEnum {
  checkAttrs(file, node, ['name', 'since', 'bitfield']);
  checkChildren(file, node, ['description', 'entry']);
  const name = checkName(file, node, attr(file, node, 'name'));
  const bitfield = node.attrs['bitfield'];
  if (bitfield !== undefined && bitfield !== 'true' && bitfield !== 'false') fail(file, node, `bitfield must be "true" or "false"`);
  const entries: IrEntry[] = [];
  for (const child of node.children) {
    if (child.name !== 'entry') continue;
    checkAttrs(file, child, ['name', 'value', 'summary', 'since', 'deprecated-since']);
    checkChildren(file, child, ['description']);
    const entryName = checkName(file, child, attr(file, child, 'name'), ENTRY_NAME);
    if (entries.some((e) => e.name === entryName)) fail(file, child, `entry ${entryName} appears twice in enum ${name}`);
    const raw = attr(file, child, 'value');
    const value = parseInt32(raw);
    // The wire carries enum values as int or uint: 32 bits either way.
    if (!Number.isSafeInteger(value) || value < -0x80000000 || value > 0xffffffff) fail(file, child, `entry ${entryName}: value "${raw}" is not a 32-bit integer`);
    entries.push({ name: entryName, value, since: intAttr(file, child, 'since', 1), summary: docOf(file, child).summary, line: child.line });
  }
  return { name, bitfield: bitfield === 'true', since: intAttr(file, node, 'since', 1), entries, doc: docOf(file, node), line: node.line };
}

/**
 * Parse one protocol file. Waltham opcodes are global: they start at
 * `options.firstOpcode` and count every message in file order.
 */
export function parseProtocol(file: string, xml: string, options: ParseOptions): IrProtocol {
  const root = toTree(file, xml);
  if (root.name !== 'protocol') fail(file, root, `the root element is <${root.name}>, not <protocol>`);
  checkAttrs(file, root, ['name']);
  checkChildren(file, root, ['copyright', 'description', 'interface']);
  const name = checkName(file, root, attr(file, root, 'name'));
  let next = options.firstOpcode ?? 1;
  let copyright: string | null = null;
  let copyrights = 0;
  const interfaces: IrInterface[] = [];
  for (const node of root.children) {
    if (node.name === 'copyright') {
      checkAttrs(file, node, []);
      checkChildren(file, node, []);
      if (++copyrights > 1) fail(file, node, 'more than one <copyright>');
      copyright = dedent(node.text);
      continue;
    }
    if (node.name === 'description') {
      checkAttrs(file, node, ['summary']);
      checkChildren(file, node, []);
      continue;
    }
    checkAttrs(file, node, ['name', 'version']);
    checkChildren(file, node, ['description', 'request', 'event', 'enum']);
    const ifaceName = checkName(file, node, attr(file, node, 'name'));
    if (interfaces.some((i) => i.name === ifaceName)) fail(file, node, `interface ${ifaceName} is defined twice`);
    const version = intAttr(file, node, 'version', Number.NaN);
    if (Number.isNaN(version)) fail(file, node, `interface ${ifaceName} needs the attribute version`);
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
      }
    }
    // Wayland opcodes share a 16-bit field with the message size.
    if (Math.max(requests.length, events.length) > 0x10000) fail(file, node, `interface ${ifaceName} has more than 65536 requests or events`);
    interfaces.push({ name: ifaceName, version, requests, events, enums, doc: docOf(file, node), line: node.line });
  }
  if (options.dialect === 'waltham' && next - 1 > 0xffff) fail(file, root, 'more than 65535 messages: opcodes do not fit in 16 bits');
  return { name, dialect: options.dialect, file, line: root.line, copyright, interfaces };
}

/**
 * Parse the files of one dialect in order and validate them together
 * (`checkReferences`). Waltham opcodes continue from one file to the next.
 */
export function parseProtocols(dialect: Dialect, files: readonly { readonly file: string; readonly xml: string }[]): IrProtocol[] {
  const protocols: IrProtocol[] = [];
  let firstOpcode = 1;
  for (const { file, xml } of files) {
    const p = parseProtocol(file, xml, { dialect, firstOpcode });
    for (const i of p.interfaces) for (const m of [...i.requests, ...i.events]) firstOpcode = Math.max(firstOpcode, m.opcode + 1);
    protocols.push(p);
  }
  checkReferences(protocols);
  return protocols;
}

/**
 * Check a dialect's whole set of protocols together: interface and protocol
 * names are unique, and every interface or enum named by an argument exists,
 * so generated imports resolve.
 */
export function checkReferences(protocols: readonly IrProtocol[]): void {
  const owner = new Map<string, { protocol: IrProtocol; iface: IrInterface }>();
  const protocolNames = new Map<string, IrProtocol>();
  for (const p of protocols) {
    const other = protocolNames.get(p.name);
    if (other !== undefined) throw new ScannerError(p.file, p.line, `protocol ${p.name} is also defined in ${other.file}:${other.line}`);
    protocolNames.set(p.name, p);
    for (const iface of p.interfaces) {
      const first = owner.get(iface.name);
      if (first !== undefined) throw new ScannerError(p.file, iface.line, `interface ${iface.name} is also defined in ${first.protocol.file}:${first.iface.line}`);
      owner.set(iface.name, { protocol: p, iface });
    }
  }
  for (const p of protocols) {
    for (const iface of p.interfaces) {
      for (const m of [...iface.requests, ...iface.events]) {
        for (const a of m.args) {
          const where = `argument ${a.name} of ${iface.name}.${m.name}`;
          if (a.interface !== null && !owner.has(a.interface)) {
            throw new ScannerError(p.file, a.line, `${where} names unknown interface ${a.interface}`);
          }
          if (a.enum === null) continue;
          const dot = a.enum.indexOf('.');
          const ownerName = dot < 0 ? iface.name : a.enum.slice(0, dot);
          const enumName = a.enum.slice(dot + 1);
          const e = owner.get(ownerName)?.iface.enums.find((x) => x.name === enumName);
          if (e === undefined) throw new ScannerError(p.file, a.line, `${where} names unknown enum ${a.enum}`);
          // As wayland-scanner: a bitfield's combined values only make sense unsigned.
          if (e.bitfield && a.type !== 'uint') throw new ScannerError(p.file, a.line, `${where} is ${a.type} but names the bitfield ${a.enum}, which needs uint`);
        }
      }
    }
  }
}
