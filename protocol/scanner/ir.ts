/**
 * The scanner's intermediate representation: what the XML says, validated,
 * with opcodes assigned, and the source line of everything for error messages.
 * Emitters are pure functions of this.
 */
import type { ArgType, Dialect } from '../../shared/wire/protocol.js';

export interface Doc {
  readonly summary: string | null;
  readonly text: string | null;
}

export interface IrArg {
  readonly name: string;
  readonly type: ArgType;
  readonly interface: string | null;
  readonly nullable: boolean;
  readonly enum: string | null;
  readonly summary: string | null;
  readonly line: number;
}

export interface IrMessage {
  readonly name: string;
  readonly kind: 'request' | 'event';
  readonly opcode: number;
  readonly since: number;
  readonly destructor: boolean;
  readonly args: readonly IrArg[];
  readonly doc: Doc;
  readonly line: number;
}

export interface IrEntry {
  readonly name: string;
  readonly value: number;
  readonly since: number;
  readonly summary: string | null;
  readonly line: number;
}

export interface IrEnum {
  readonly name: string;
  readonly bitfield: boolean;
  readonly since: number;
  readonly entries: readonly IrEntry[];
  readonly doc: Doc;
  readonly line: number;
}

export interface IrInterface {
  readonly name: string;
  readonly version: number;
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
