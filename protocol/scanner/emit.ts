/**
 * IR -> TypeScript. Pure functions: the same IR always gives the same text.
 *
 * Per protocol file, one module with:
 * - a frozen descriptor (`InterfaceSpec`) per interface, read by the wire modules;
 * - enums as frozen objects plus a union type;
 * - `XxxProxy` (client side: one method per request, `XxxEvents` handlers) and
 *   `XxxResource` (server side: one `sendX` method per event, `XxxRequests` handlers);
 * - `<protocol>Protocol`, `<protocol>ProxyClasses` and `<protocol>ResourceClasses`
 *   tables (`xdg_shell` -> `xdgShellProtocol`), merged by the index module.
 *
 * XML names become TypeScript names by the functions below; where one would
 * be a reserved word or shadow a member of the base classes it gets a trailing
 * '_' (`interface_`), and `checkNames` rejects XML names that would collide.
 */
import { type Doc, type IrArg, type IrEnum, type IrInterface, type IrMessage, type IrProtocol, ScannerError } from './ir.js';

export const pascal = (name: string): string =>
  name
    .split('_')
    .filter((s) => s !== '')
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join('');

export const camel = (name: string): string => {
  const p = pascal(name);
  return p[0]!.toLowerCase() + p.slice(1);
};

/**
 * Words that cannot name a parameter: ECMAScript reserved words (strict mode,
 * as in a module), plus `arguments` and `eval`, which strict mode forbids as
 * binding names.
 */
const RESERVED = new Set(['arguments', 'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'eval', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'implements', 'import', 'in', 'instanceof', 'interface', 'let', 'new', 'null', 'package', 'private', 'protected', 'public', 'return', 'static', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield']);

/** Members every object has: a handler or method of that name would resolve to them. */
const OBJECT_MEMBERS = new Set(['constructor', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'toString', 'valueOf']);

/** Members of WireObject, Proxy and Resource (shared/wire/object.ts) that a request method must not override. */
const BASE_MEMBERS = new Set([...OBJECT_MEMBERS, 'conn', 'id', 'version', 'handlers', 'destroyed', 'destroyListeners', 'spec', 'listen', 'onDestroy', 'dispatch', 'markDestroyed', 'marshal', 'child', 'post', 'postError']);

/**
 * camelCase names never end in '_' (underscores are separators), so appending
 * one cannot collide with another generated name.
 */
const avoid = (name: string, taken: ReadonlySet<string>): string => (taken.has(name) ? `${name}_` : name);

/** Names the generated code itself gives to the parameters of a method sending an untyped new_id. */
const UNTYPED_PARAMS = new Set(['ctor', 'version']);

/** TypeScript parameter names of a message's arguments, in order. */
export function paramNames(m: IrMessage): string[] {
  const untyped = m.args.some((a) => a.type === 'new_id' && a.interface === null);
  return m.args.map((a) => {
    const c = camel(a.name);
    return RESERVED.has(c) || (untyped && UNTYPED_PARAMS.has(c)) ? `${c}_` : c;
  });
}

/** Proxy method sending a request: `set_buffer_scale` -> `setBufferScale`. */
export const requestMethod = (name: string): string => avoid(camel(name), BASE_MEMBERS);
/** Resource method sending an event: `enter` -> `sendEnter`. */
export const eventMethod = (name: string): string => `send${pascal(name)}`;
/** Handler name of an incoming message, in `XxxEvents` / `XxxRequests` and `handlerNames`. */
export const handlerName = (name: string): string => avoid(camel(name), OBJECT_MEMBERS);

/** Key of an enum entry: `argb8888` -> `Argb8888`, `90` -> `_90`. */
export const entryKey = (name: string): string => {
  const p = pascal(name);
  return /^[0-9]/.test(p) ? `_${p}` : p;
};

export const enumName = (iface: string, e: string): string => `${pascal(iface)}${pascal(e)}`;
export const specName = (iface: string): string => `${camel(iface)}Interface`;
export const proxyName = (iface: string): string => `${pascal(iface)}Proxy`;
export const resourceName = (iface: string): string => `${pascal(iface)}Resource`;

/** Text safe inside a block comment, which a literal star-slash would end. */
const commentSafe = (text: string): string => text.replace(/\*\//g, '*\\/');

function jsdoc(doc: Doc, indent: string, extra: readonly string[] = []): string {
  const lines: string[] = [];
  if (doc.summary !== null) lines.push(...doc.summary.trim().split(/\r\n?|\n/).map((l) => l.trim()));
  if (doc.text !== null) {
    if (lines.length > 0) lines.push('');
    lines.push(...doc.text.split('\n'));
  }
  if (extra.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(...extra);
  }
  if (lines.length === 0) return '';
  const body = lines.map((l) => `${indent} *${l === '' ? '' : ' ' + commentSafe(l)}`).join('\n');
  return `${indent}/**\n${body}\n${indent} */\n`;
}

function argSpec(a: IrArg): string {
  return `{ name: '${a.name}', type: '${a.type}', interface: ${a.interface === null ? 'null' : `'${a.interface}'`}, nullable: ${a.nullable}, enum: ${a.enum === null ? 'null' : `'${a.enum}'`} }`;
}

function messageSpec(m: IrMessage, indent: string): string {
  const args = m.args.length === 0 ? '[]' : `[\n${m.args.map((a) => `${indent}    ${argSpec(a)},`).join('\n')}\n${indent}  ]`;
  return `${indent}{\n${indent}  name: '${m.name}',\n${indent}  opcode: ${m.opcode},\n${indent}  since: ${m.since},\n${indent}  destructor: ${m.destructor},\n${indent}  args: ${args},\n${indent}},`;
}

function enumSpec(e: IrEnum, indent: string): string {
  const entries = e.entries.map((x) => `${indent}    { name: '${x.name}', value: ${x.value}, since: ${x.since} },`).join('\n');
  return `${indent}{\n${indent}  name: '${e.name}',\n${indent}  bitfield: ${e.bitfield},\n${indent}  since: ${e.since},\n${indent}  entries: [\n${entries}\n${indent}  ],\n${indent}},`;
}

function emitSpec(iface: IrInterface): string {
  const list = (ms: readonly IrMessage[]): string => (ms.length === 0 ? '[]' : `[\n${ms.map((m) => messageSpec(m, '    ')).join('\n')}\n  ]`);
  const enums = iface.enums.length === 0 ? '[]' : `[\n${iface.enums.map((e) => enumSpec(e, '    ')).join('\n')}\n  ]`;
  return `export const ${specName(iface.name)}: InterfaceSpec = defineInterface({
  name: '${iface.name}',
  version: ${iface.version},
  requests: ${list(iface.requests)},
  events: ${list(iface.events)},
  enums: ${enums},
});
`;
}

function emitEnum(iface: IrInterface, e: IrEnum): string {
  const name = enumName(iface.name, e.name);
  const entries = e.entries
    .map((x) => {
      const doc = [...(x.summary === null ? [] : [x.summary.trim().replace(/\s*(\r\n?|\n)\s*/g, ' ')]), ...(x.since > 1 ? [`@since ${x.since}`] : [])];
      return `${doc.length === 0 ? '' : `  /** ${commentSafe(doc.join(' '))} */\n`}  ${entryKey(x.name)}: ${x.value},`;
    })
    .join('\n');
  const extra = [...(e.bitfield ? ['A bitfield: values may be combined with `|`.'] : []), ...(e.since > 1 ? [`@since ${e.since}`] : [])];
  return `${jsdoc(e.doc, '', extra)}export const ${name} = Object.freeze({
${entries}
} as const);
export type ${name} = (typeof ${name})[keyof typeof ${name}];
`;
}

type Side = 'proxy' | 'resource';

/**
 * TypeScript type of an argument as the given side sees it. An fd received is an
 * owned `Fd` (the handler owns it); an fd sent is an `Fd` or a number, borrowed
 * (the connection sends a duplicate and the caller keeps its own).
 */
function argType(a: IrArg, side: Side, incoming = false): string {
  switch (a.type) {
    case 'fd':
      return incoming ? 'Fd' : 'Fd | number';
    case 'int':
    case 'uint':
    case 'fixed':
      return 'number';
    case 'string':
      return a.nullable ? 'string | null' : 'string';
    case 'array':
    case 'data':
      return a.nullable ? 'Uint8Array | null' : 'Uint8Array';
    case 'object':
    case 'new_id': {
      const t = a.interface === null ? 'WireObject' : side === 'proxy' ? proxyName(a.interface) : resourceName(a.interface);
      return a.nullable ? `${t} | null` : t;
    }
  }
}

function argDocs(m: IrMessage): string[] {
  const names = paramNames(m);
  return m.args.flatMap((a, i) => (a.summary !== null && a.type !== 'new_id' ? [`@param ${names[i]!} ${a.summary}`] : []));
}

/** Handler signature for an incoming message. */
function handler(m: IrMessage, side: Side): string {
  const names = paramNames(m);
  const params = m.args.map((a, i) => `${names[i]!}: ${a.type === 'new_id' && a.interface === null ? 'UntypedNewId' : argType(a, side, true)}`);
  const extra = [...(m.since > 1 ? [`@since ${m.since}`] : []), ...(m.destructor ? ['Destructor: the object is destroyed after this handler returns.'] : [])];
  return `${jsdoc(m.doc, '  ', extra)}  ${handlerName(m.name)}(${params.join(', ')}): void;`;
}

/**
 * Method that sends an outgoing message. A typed new_id argument is created
 * here and returned; an untyped one (wl_registry.bind) takes the class and
 * version of the object to create in its place: `bind(name, ctor, version)`.
 */
function sender(m: IrMessage, index: number, side: Side): string {
  const names = paramNames(m);
  const params: string[] = [];
  let generic = '';
  let ret = 'void';
  let pre = '';
  let post = '';
  m.args.forEach((a, i) => {
    const name = names[i]!;
    if (a.type !== 'new_id') {
      params.push(`${name}: ${argType(a, side)}`);
      return;
    }
    if (a.interface === null) {
      generic = '<T extends WireObject>';
      params.push(`ctor: WireObjectClass<T>`, `version: number`);
      pre = `    const ${name} = this.child(ctor, version);\n`;
      ret = 'T';
    } else {
      const cls = side === 'proxy' ? proxyName(a.interface) : resourceName(a.interface);
      pre = `    const ${name} = this.child(${cls});\n`;
      ret = cls;
    }
    post = `    return ${name};\n`;
  });
  const method = side === 'proxy' ? requestMethod(m.name) : eventMethod(m.name);
  const call = side === 'proxy' ? 'marshal' : 'post';
  const extra = [
    ...argDocs(m),
    ...(m.since > 1 ? [`@since ${m.since}`] : []),
    ...(m.destructor ? ['Destructor: the object is destroyed once this is sent.'] : []),
  ];
  return `${jsdoc(m.doc, '  ', extra)}  ${method}${generic}(${params.join(', ')}): ${ret} {
${pre}    this.${call}(${index}, [${names.join(', ')}]);
${post}  }`;
}

function emitClasses(iface: IrInterface): string {
  const P = pascal(iface.name);
  const names = (ms: readonly IrMessage[]): string => `[${ms.map((m) => `'${handlerName(m.name)}'`).join(', ')}]`;
  const events = iface.events.map((m) => handler(m, 'proxy')).join('\n');
  const requests = iface.requests.map((m) => handler(m, 'resource')).join('\n');
  const proxyMethods = iface.requests.map((m, i) => sender(m, i, 'proxy')).join('\n\n');
  const resourceMethods = iface.events.map((m, i) => sender(m, i, 'resource')).join('\n\n');
  return `/** Handlers for the events of ${iface.name} (client side). */
export interface ${P}Events {
${events === '' ? '' : events + '\n'}}

/** Handlers for the requests of ${iface.name} (server side). */
export interface ${P}Requests {
${requests === '' ? '' : requests + '\n'}}

${jsdoc(iface.doc, '', ['Client side.'])}export class ${proxyName(iface.name)} extends Proxy<${P}Events> {
  static override readonly spec = ${specName(iface.name)};
  static override readonly handlerNames: readonly string[] = ${names(iface.events)};
${proxyMethods === '' ? '' : '\n' + proxyMethods + '\n'}}

${jsdoc(iface.doc, '', ['Server side.'])}export class ${resourceName(iface.name)} extends Resource<${P}Requests> {
  static override readonly spec = ${specName(iface.name)};
  static override readonly handlerNames: readonly string[] = ${names(iface.requests)};
${resourceMethods === '' ? '' : '\n' + resourceMethods + '\n'}}
`;
}

export interface EmitContext {
  /** Module (without extension) defining each interface of the dialect, e.g. wl_surface -> 'wayland'. */
  readonly moduleOf: ReadonlyMap<string, string>;
  /** Import path of the shared wire folder from the generated module. */
  readonly wireImport: string;
  /** Path of the XML as printed in the banner. */
  readonly source: string;
}

/** Prefix of a protocol's tables: `xdg_shell` -> `xdgShell` (`xdgShellProtocol`, ...). */
export const tableAlias = (protocol: IrProtocol): string => camel(protocol.name);

/** The module name for a protocol: its XML name with dashes. */
export const moduleName = (protocol: IrProtocol): string => protocol.name.replace(/_/g, '-');

/**
 * Foreign classes a module needs, by module: typed new_ids of another file's
 * interface are created by the sending method, so that class is a value; every
 * other use is a type.
 */
function foreignImports(protocol: IrProtocol, ctx: EmitContext): string[] {
  const own = new Set(protocol.interfaces.map((i) => i.name));
  const byModule = new Map<string, Map<string, boolean>>();
  const use = (iface: string, cls: string, value: boolean): void => {
    const mod = ctx.moduleOf.get(iface);
    if (mod === undefined) throw new Error(`no module defines ${iface}`);
    const names = byModule.get(mod) ?? new Map<string, boolean>();
    names.set(cls, (names.get(cls) ?? false) || value);
    byModule.set(mod, names);
  };
  for (const iface of protocol.interfaces) {
    for (const m of [...iface.requests, ...iface.events]) {
      for (const a of m.args) {
        if (a.interface === null || own.has(a.interface)) continue;
        const newId = a.type === 'new_id';
        use(a.interface, proxyName(a.interface), newId && m.kind === 'request');
        use(a.interface, resourceName(a.interface), newId && m.kind === 'event');
      }
    }
  }
  return [...byModule.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([mod, names]) => {
      const sorted = [...names.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return sorted.some(([, value]) => value)
        ? `import { ${sorted.map(([n, value]) => (value ? n : `type ${n}`)).join(', ')} } from './${mod}.js';`
        : `import type { ${sorted.map(([n]) => n).join(', ')} } from './${mod}.js';`;
    });
}

export function emitProtocol(protocol: IrProtocol, ctx: EmitContext): string {
  const usesUntyped = protocol.interfaces.some((i) => [...i.requests, ...i.events].some((m) => m.args.some((a) => a.type === 'new_id' && a.interface === null)));
  const usesAnyObject = protocol.interfaces.some((i) => [...i.requests, ...i.events].some((m) => m.args.some((a) => (a.type === 'object' || a.type === 'new_id') && a.interface === null)));
  const wireTypes = ['InterfaceSpec', 'ProtocolSpec', ...(usesUntyped ? ['UntypedNewId'] : [])];
  const usesFd = protocol.interfaces.some((i) => [...i.requests, ...i.events].some((m) => m.args.some((a) => a.type === 'fd')));
  const objectTypes = [...(usesFd ? ['Fd'] : []), ...(usesAnyObject ? ['WireObject'] : []), 'WireObjectClass'];
  const imports = [
    `import { defineInterface, defineProtocol } from '${ctx.wireImport}/protocol.js';`,
    `import type { ${wireTypes.join(', ')} } from '${ctx.wireImport}/protocol.js';`,
    `import { Proxy, Resource } from '${ctx.wireImport}/object.js';`,
    `import type { ${objectTypes.join(', ')} } from '${ctx.wireImport}/object.js';`,
    ...foreignImports(protocol, ctx),
  ];
  const banner = `// Generated by protocol/scanner from ${ctx.source}. Do not edit.
// Regenerate with \`npm run generate\`.
${protocol.copyright === null ? '' : `//\n${protocol.copyright.split('\n').map((l) => `// ${l}`.trimEnd()).join('\n')}\n`}
/* eslint-disable */
`;
  const parts = [banner, imports.join('\n'), ''];
  for (const iface of protocol.interfaces) {
    parts.push(`// ---- ${iface.name} (version ${iface.version}) ----\n`);
    parts.push(emitSpec(iface));
    for (const e of iface.enums) parts.push(emitEnum(iface, e));
    parts.push(emitClasses(iface));
  }
  const alias = tableAlias(protocol);
  parts.push(`export const ${alias}Protocol: ProtocolSpec = defineProtocol({
  name: '${protocol.name}',
  dialect: '${protocol.dialect}',
  interfaces: [${protocol.interfaces.map((i) => specName(i.name)).join(', ')}],
});

export const ${alias}ProxyClasses: Readonly<Record<string, WireObjectClass>> = Object.freeze({
${protocol.interfaces.map((i) => `  ${i.name}: ${proxyName(i.name)},`).join('\n')}
});

export const ${alias}ResourceClasses: Readonly<Record<string, WireObjectClass>> = Object.freeze({
${protocol.interfaces.map((i) => `  ${i.name}: ${resourceName(i.name)},`).join('\n')}
});
`);
  return parts.join('\n');
}

/** An index module re-exporting every protocol of a dialect and merging their tables. */
export function emitIndex(protocols: readonly IrProtocol[], dialect: string, wireImport: string): string {
  return `// Generated by protocol/scanner. Do not edit.
// Every ${dialect} protocol, and their merged class tables.
import type { ProtocolSpec } from '${wireImport}/protocol.js';
import type { WireObjectClass } from '${wireImport}/object.js';
${protocols.map((p) => `import { ${tableAlias(p)}Protocol, ${tableAlias(p)}ProxyClasses, ${tableAlias(p)}ResourceClasses } from './${moduleName(p)}.js';`).join('\n')}

${protocols.map((p) => `export * from './${moduleName(p)}.js';`).join('\n')}

export const protocols: readonly ProtocolSpec[] = Object.freeze([
${protocols.map((p) => `  ${tableAlias(p)}Protocol,`).join('\n')}
]);

export const allProxyClasses: Readonly<Record<string, WireObjectClass>> = Object.freeze({
${protocols.map((p) => `  ...${tableAlias(p)}ProxyClasses,`).join('\n')}
});

export const allResourceClasses: Readonly<Record<string, WireObjectClass>> = Object.freeze({
${protocols.map((p) => `  ...${tableAlias(p)}ResourceClasses,`).join('\n')}
});
`;
}

/** Names the generated modules import from shared/wire, and the index's own exports. */
const FIXED_NAMES = ['defineInterface', 'defineProtocol', 'InterfaceSpec', 'ProtocolSpec', 'UntypedNewId', 'Proxy', 'Resource', 'WireObject', 'WireObjectClass', 'protocols', 'allProxyClasses', 'allResourceClasses'];

/**
 * Check that the names generated for a dialect's protocols do not collide:
 * module-level names across all modules (the index re-exports them all),
 * methods and handlers within an interface, parameters within a message, keys
 * within an enum. XML names that differ only in underscores (`a_1`, `a1`)
 * would otherwise give the same TypeScript name.
 */
export function checkNames(protocols: readonly IrProtocol[]): void {
  const where = (file: string, line: number): string => `${file}:${line}`;
  const unique = (seen: Map<string, string>, name: string, file: string, line: number, what: string): void => {
    const first = seen.get(name);
    if (first !== undefined) throw new ScannerError(file, line, `${what} is generated as ${name}, which ${first} already uses`);
    seen.set(name, `${what} (${where(file, line)})`);
  };
  const global = new Map<string, string>(FIXED_NAMES.map((n) => [n, 'the generated code']));
  for (const p of protocols) {
    const alias = tableAlias(p);
    for (const suffix of ['Protocol', 'ProxyClasses', 'ResourceClasses']) unique(global, `${alias}${suffix}`, p.file, p.line, `protocol ${p.name}`);
    for (const iface of p.interfaces) {
      const P = pascal(iface.name);
      for (const n of [specName(iface.name), proxyName(iface.name), resourceName(iface.name), `${P}Events`, `${P}Requests`]) {
        unique(global, n, p.file, iface.line, `interface ${iface.name}`);
      }
      for (const e of iface.enums) {
        unique(global, enumName(iface.name, e.name), p.file, e.line, `enum ${iface.name}.${e.name}`);
        const keys = new Map<string, string>();
        for (const x of e.entries) unique(keys, entryKey(x.name), p.file, x.line, `entry ${x.name}`);
      }
      for (const [kind, list, method] of [['request', iface.requests, requestMethod], ['event', iface.events, eventMethod]] as const) {
        const methods = new Map<string, string>();
        const handlers = new Map<string, string>();
        for (const m of list) {
          unique(methods, method(m.name), p.file, m.line, `${kind} ${iface.name}.${m.name}`);
          unique(handlers, handlerName(m.name), p.file, m.line, `${kind} ${iface.name}.${m.name}`);
          // paramNames already keeps clear of ctor/version, the untyped new_id's parameters.
          const params = new Map<string, string>();
          const names = paramNames(m);
          m.args.forEach((a, i) => unique(params, names[i]!, p.file, a.line, `argument ${a.name} of ${iface.name}.${m.name}`));
        }
      }
    }
  }
}
