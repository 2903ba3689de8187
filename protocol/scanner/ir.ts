/**
 * The scanner's intermediate representation: what the XML says, validated,
 * with opcodes assigned, and the source line of everything for error messages.
 * Emitters are pure functions of this. Each IR type extends the descriptor
 * the generated tables carry (shared/wire/protocol.ts) with what only the
 * scanner needs: documentation and source lines.
 */
import type { ArgSpec, Dialect, EnumEntrySpec, EnumSpec, InterfaceSpec, MessageSpec } from '../../shared/wire/protocol.js';

export interface Doc {
  readonly summary: string | null;
  readonly text: string | null;
}

export interface IrArg extends ArgSpec {
  readonly summary: string | null;
  readonly line: number;
}

export interface IrMessage extends MessageSpec {
  readonly kind: 'request' | 'event';
  readonly args: readonly IrArg[];
  readonly doc: Doc;
  readonly line: number;
}

export interface IrEntry extends EnumEntrySpec {
  readonly summary: string | null;
  readonly line: number;
}

export interface IrEnum extends EnumSpec {
  readonly entries: readonly IrEntry[];
  readonly doc: Doc;
  readonly line: number;
}

export interface IrInterface extends InterfaceSpec {
  readonly requests: readonly IrMessage[];
  readonly events: readonly IrMessage[];
  readonly enums: readonly IrEnum[];
  readonly doc: Doc;
  readonly line: number;
}

export interface IrProtocol {
  readonly name: string;
  readonly dialect: Dialect;
  /** Path of the XML file, as given to the scanner (for banners and errors). */
  readonly file: string;
  /** Line of the <protocol> element. */
  readonly line: number;
  readonly copyright: string | null;
  readonly interfaces: readonly IrInterface[];
}

/** An error in an XML protocol file, naming the file and line. */
export class ScannerError extends Error {
  readonly code = 'ERR_SCANNER';
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'ScannerError';
  }
}
