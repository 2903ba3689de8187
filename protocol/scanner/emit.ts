/**
 * IR -> TypeScript. Pure functions: the same IR always gives the same text.
 *
 * Per protocol file, one module with:
 * - a frozen descriptor (`InterfaceSpec`) per interface, read by the wire modules;
 * - enums as frozen objects plus a union type;
 * - `XxxProxy` (client side: one method per request, `XxxEvents` handlers) and
 *   `XxxResource` (server side: one `sendX` method per event, `XxxRequests` handlers);
 * - `protocol`, `proxyClasses` and `resourceClasses` tables.
 */
import type { Doc, IrArg, IrEnum, IrInterface, IrMessage, IrProtocol } from './ir.js';

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

const RESERVED = new Set(['break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'new', 'null', 'return', 'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield', 'let', 'static', 'implements', 'interface', 'package', 'private', 'protected', 'public', 'await']);

/** A TypeScript parameter name for an XML argument name. */
const param = (name: string): string => {
  const c = camel(name);
  return RESERVED.has(c) ? `${c}_` : c;
};

const entryKey = (name: string): string => {
  const p = pascal(name);
  return /^[0-9]/.test(p) ? `_${p}` : p;
};

export const specName = (iface: string): string => `${camel(iface)}Interface`;
export const proxyName = (iface: string): string => `${pascal(iface)}Proxy`;
export const resourceName = (iface: string): string => `${pascal(iface)}Resource`;

function jsdoc(doc: Doc, indent: string, extra: readonly string[] = []): string {
  const lines: string[] = [];
  if (doc.summary !== null) lines.push(doc.summary.trim());
  if (doc.text !== null) {
    if (lines.length > 0) lines.push('');
    lines.push(...doc.text.split('\n'));
  }
  if (extra.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(...extra);
  }
  if (lines.length === 0) return '';
  const body = lines.map((l) => `${indent} *${l === '' ? '' : ' ' + l.replace(/\*\//g, '*\\/')}`).join('\n');
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
  const name = `${pascal(iface.name)}${pascal(e.name)}`;
  const entries = e.entries
    .map((x) => `${x.summary === null ? '' : `  /** ${x.summary.replace(/\*\//g, '*\\/')} */\n`}  ${entryKey(x.name)}: ${x.value},`)
    .join('\n');
  return `${jsdoc(e.doc, '', e.bitfield ? ['A bitfield: values may be combined with `|`.'] : [])}export const ${name} = Object.freeze({
${entries}
} as const);
export type ${name} = (typeof ${name})[keyof typeof ${name}];
`;
}

type Side = 'proxy' | 'resource';

/** TypeScript type of an argument as the given side sees it. */
function argType(a: IrArg, side: Side): string {
  switch (a.type) {
    case 'int':
    case 'uint':
    case 'fixed':
    case 'fd':
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
  return m.args.filter((a) => a.summary !== null && a.type !== 'new_id').map((a) => `@param ${param(a.name)} ${a.summary!}`);
}

/** Handler signature for an incoming message. */
function handler(m: IrMessage, side: Side): string {
  const params = m.args.map((a) => {
    if (a.type === 'new_id' && a.interface === null) return `${param(a.name)}: UntypedNewId`;
    return `${param(a.name)}: ${argType(a, side)}`;
  });
  const extra = [...(m.since > 1 ? [`@since ${m.since}`] : []), ...(m.destructor ? ['Destructor: the object is destroyed after this handler returns.'] : [])];
  return `${jsdoc(m.doc, '  ', extra)}  ${camel(m.name)}(${params.join(', ')}): void;`;
}

/** Method that sends an outgoing message. */
function sender(m: IrMessage, index: number, side: Side): string {
  const newId = m.args.find((a) => a.type === 'new_id');
  const params: string[] = [];
  let generic = '';
  let ret = 'void';
  let pre = '';
  let post = '';
  const values = m.args.map((a) => {
    if (a.type !== 'new_id') {
      params.push(`${param(a.name)}: ${argType(a, side)}`);
      return param(a.name);
    }
    if (a.interface === null) {
      generic = '<T extends WireObject>';
      params.push(`ctor: WireObjectClass<T>`, `version: number`);
      pre = `    const ${param(a.name)} = this.child(ctor, version);\n`;
      ret = 'T';
    } else {
      const cls = side === 'proxy' ? proxyName(a.interface) : resourceName(a.interface);
      pre = `    const ${param(a.name)} = this.child(${cls});\n`;
      ret = cls;
    }
    post = `    return ${param(a.name)};\n`;
    return param(a.name);
  });
  void newId;
  const method = side === 'proxy' ? camel(m.name) : `send${pascal(m.name)}`;
  const call = side === 'proxy' ? 'marshal' : 'post';
  const extra = [
    ...argDocs(m),
    ...(m.since > 1 ? [`@since ${m.since}`] : []),
    ...(m.destructor ? ['Destructor: the object is destroyed once this is sent.'] : []),
  ];
  return `${jsdoc(m.doc, '  ', extra)}  ${method}${generic}(${params.join(', ')}): ${ret} {
${pre}    this.${call}(${index}, [${values.join(', ')}]);
${post}  }`;
}

function emitClasses(iface: IrInterface): string {
  const P = pascal(iface.name);
  const names = (ms: readonly IrMessage[]): string => `[${ms.map((m) => `'${camel(m.name)}'`).join(', ')}]`;
  const events = iface.events.map((m) => handler(m, 'proxy')).join('\n');
  const requests = iface.requests.map((m) => handler(m, 'resource')).join('\n');
  const proxyMethods = iface.requests.map((m, i) => sender(m, i, 'proxy')).join('\n\n');
  const resourceMethods = iface.events.map((m, i) => sender(m, i, 'resource')).join('\n\n');
  return `/** Handlers for the events of ${iface.name} (client side). */
export interface ${P}Events {
${events}
}

/** Handlers for the requests of ${iface.name} (server side). */
export interface ${P}Requests {
${requests}
}

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

export function emitProtocol(protocol: IrProtocol, ctx: EmitContext): string {
  const own = new Set(protocol.interfaces.map((i) => i.name));
  const foreign = new Map<string, Set<string>>();
  for (const iface of protocol.interfaces) {
    for (const m of [...iface.requests, ...iface.events]) {
      for (const a of m.args) {
        if (a.interface === null || own.has(a.interface)) continue;
        const mod = ctx.moduleOf.get(a.interface);
        if (mod === undefined) throw new Error(`no module defines ${a.interface}`);
        const set = foreign.get(mod) ?? new Set<string>();
        set.add(proxyName(a.interface)).add(resourceName(a.interface));
        foreign.set(mod, set);
      }
    }
  }
  const usesUntyped = protocol.interfaces.some((i) => [...i.requests, ...i.events].some((m) => m.args.some((a) => a.type === 'new_id' && a.interface === null)));
  const usesAnyObject = protocol.interfaces.some((i) => [...i.requests, ...i.events].some((m) => m.args.some((a) => (a.type === 'object' || a.type === 'new_id') && a.interface === null)));
  const wireTypes = ['InterfaceSpec', 'ProtocolSpec', ...(usesUntyped ? ['UntypedNewId'] : [])];
  const objectTypes = [...(usesAnyObject ? ['WireObject'] : []), 'WireObjectClass'];
  const imports = [
    `import { defineInterface, defineProtocol } from '${ctx.wireImport}/protocol.js';`,
    `import type { ${wireTypes.join(', ')} } from '${ctx.wireImport}/protocol.js';`,
    `import { Proxy, Resource } from '${ctx.wireImport}/object.js';`,
    `import type { ${objectTypes.join(', ')} } from '${ctx.wireImport}/object.js';`,
    ...[...foreign.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([mod, names]) => `import type { ${[...names].sort().join(', ')} } from './${mod}.js';`),
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
export function emitIndex(protocols: readonly IrProtocol[], dialect: string): string {
  return `// Generated by protocol/scanner. Do not edit.
// Every ${dialect} protocol, and their merged class tables.
import type { ProtocolSpec } from '../../wire/protocol.js';
import type { WireObjectClass } from '../../wire/object.js';
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
