/**
 * LZ4 block codec (the `lz4` codec of wthp_content), through lz4-napi
 * (lz4_flex built with napi-rs; prebuilt binaries ship inside its npm
 * packages). The wire carries the bare LZ4 block: the decompressed size is
 * known from the tile size, so lz4-napi's 4-byte size prefix is stripped on
 * encode and rebuilt on decode from the size we expect, never from the peer.
 *
 * When the native package cannot be loaded (a platform without a prebuilt
 * binary), `lz4Available` is false and the pipeline uses raw tiles only.
 */
import { createRequire } from 'node:module';

interface Lz4Napi {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array): Buffer;
}

function load(): Lz4Napi | null {
  try {
    const require = createRequire(import.meta.url);
    return require('lz4-napi') as Lz4Napi;
  } catch {
    return null;
  }
}

const lib = load();

export const lz4Available = lib !== null;

/** Compress `input` into a bare LZ4 block. */
export function lz4CompressBlock(input: Uint8Array): Uint8Array {
  if (lib === null) throw new Error('lz4 is not available on this platform');
  const out = lib.compressSync(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  return out.subarray(4);
}

/**
 * Decompress a bare LZ4 block that must expand to exactly `size` bytes.
 * Throws on malformed blocks and on any other output size.
 */
export function lz4DecompressBlock(block: Uint8Array, size: number): Uint8Array {
  if (lib === null) throw new Error('lz4 is not available on this platform');
  const framed = Buffer.allocUnsafe(block.byteLength + 4);
  framed.writeUInt32LE(size, 0);
  framed.set(block, 4);
  const out = lib.uncompressSync(framed);
  if (out.byteLength !== size) {
    throw new Error(`lz4 block expands to ${out.byteLength} bytes, expected ${size}`);
  }
  return out;
}
