#!/usr/bin/env node
/**
 * waltham: the management command, in WalT's shape
 * (`waltham CATEGORY SUBCOMMAND [args]`). It starts fast: this module loads
 * nothing heavy, and only the module of the category asked for is imported
 * (scripts/bundle-waltham.mjs bundles each category apart).
 */
import { isWalthamError } from '../client/errors.js';
import { CATEGORIES } from './categories.js';
import { categoryUsage, GLOBAL_HELP, parseInvocation, subcommandUsage, type Invocation } from './command.js';

const VERSION = '0.1.0';

function usage(): string {
  const width = Math.max(...CATEGORIES.map((c) => c.name.length));
  const lines = CATEGORIES.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: waltham CATEGORY SUBCOMMAND [args]

Management of waltham-bridge transmitters, with WalT boards as transmitters.

categories:
${lines.join('\n')}

${GLOBAL_HELP}
'waltham CATEGORY --help' lists the subcommands of a category.
`;
}

const out = (text: string): void => void process.stdout.write(text);
const err = (text: string): void => void process.stderr.write(text);

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    out(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version') {
    out(`waltham ${VERSION}\n`);
    return 0;
  }
  const entry = CATEGORIES.find((c) => c.name === first);
  if (entry === undefined) {
    err(`waltham: unknown category '${first}'\n\n${usage()}`);
    return 2;
  }
  const category = await entry.load();
  const [second, ...more] = rest;
  if (second === undefined || second === '-h' || second === '--help') {
    out(categoryUsage(category));
    return second === undefined && category.defaultSubcommand === undefined ? 2 : 0;
  }
  let sub = category.subcommands.find((s) => s.name === second);
  let args = more;
  if (sub === undefined && category.defaultSubcommand !== undefined && !second.startsWith('-')) {
    sub = category.subcommands.find((s) => s.name === category.defaultSubcommand);
    args = rest;
  }
  if (sub === undefined) {
    err(`waltham ${category.name}: unknown subcommand '${second}'\n\n${categoryUsage(category)}`);
    return 2;
  }
  try {
    const parsed = parseInvocation(args, sub);
    if (parsed.values['help'] === true) {
      out(subcommandUsage(category.name, sub));
      return 0;
    }
    const inv: Invocation = { ...parsed, out, err };
    return await sub.run(inv);
  } catch (e) {
    if (isWalthamError(e)) {
      if (e.code === 'ERR_USAGE') {
        err(`waltham ${category.name} ${sub.name}: ${e.message}\n\n${subcommandUsage(category.name, sub)}`);
        return 2;
      }
      err(`waltham: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// Exit as soon as the answer is printed: idle keep-alive sockets or timers must not hold the process.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    err(`waltham: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
