/**
 * Tables as the WalT client prints them (walt.common.formatting.columnate):
 * left-aligned columns two spaces apart, a header, a dashed line under it;
 * a bold title above when the output is a terminal.
 */

export function columnate(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function paragraph(title: string, content: string, footnote: string | null, tty: boolean): string {
  const t = tty ? `\x1b[1m${title}\x1b[0m` : title;
  return `\n${t}\n\n${content}\n\n${footnote === null ? '' : `${footnote}\n`}`;
}
