/** The before / after table of bench/compare.sh (compare.mjs). */
export interface SummaryRow {
  readonly section: string;
  readonly workload: string;
  readonly mode: string;
  readonly [figure: string]: unknown;
}

export interface Run {
  readonly build: 'base' | 'head';
  readonly summary: readonly SummaryRow[];
}

export interface Figure {
  readonly base: number[];
  readonly head: number[];
  readonly before: number | null;
  readonly after: number | null;
  readonly ratio: number | null;
}

export interface Row {
  readonly section: string;
  readonly workload: string;
  readonly mode: string;
  readonly figures: Readonly<Record<string, Figure>>;
}

export declare const FIGURES: readonly (readonly [string, string])[];
export declare function median(values: readonly unknown[]): number | null;
export declare function compare(runs: readonly Run[]): Row[];
export declare function readRuns(dir: string): (Run & { readonly k: number })[];
export declare function format(rows: readonly Row[]): string;
