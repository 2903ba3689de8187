/**
 * The pixels of one commit, to the receiver: wthp_content.begin and the
 * changed tiles of `content` within `damage`, encoded in one native pass
 * against the remote's mirror of what the receiver has (TileEncoder) with
 * the codecs both sides know, queued as finished messages. The caller
 * commits the surface after.
 */
import type { Content, Rect } from '../../shared/scene/scene.js';
import { CODEC_ZSTD, codecBit, formatToWire } from '../../shared/remote/tiles.js';
import { LOSSY_CODECS } from '../../shared/remote/lossy.js';
import type { ConnectionState, Remote } from './remote.js';

/** What one `sendContent` put on the wire. */
export interface ContentSent {
  /** The receiver's buffer starts over (a new size, or the mirror was reset). */
  readonly reset: boolean;
  readonly tiles: number;
  readonly unchangedTiles: number;
  /** Bytes of pixels the tiles carried, before encoding. */
  readonly rawBytes: number;
  /** Bytes of tile messages. */
  readonly wireBytes: number;
}

/** Send the tiles of `content` that changed in `damage` (buffer pixels; null: all of it). */
export function sendContent(conn: ConnectionState, remote: Remote, content: Content, damage: readonly Rect[] | null, zstd = false): ContentSent {
  const surface = remote.surface;
  // Lossless here: lossy frames go through lossy-sender.ts; zstd only when the policy chose it.
  const lossless = conn.codecs & ~LOSSY_CODECS;
  remote.encoder.setCodecs(zstd ? lossless : lossless & ~codecBit(CODEC_ZSTD));
  // One native pass writes the tile messages; they go out right after begin.
  const frame = remote.encoder.encodeMessages(content, damage, conn.content.id, surface.id);
  const size = remote.size;
  const newBuffer = size === null || size.width !== content.width || size.height !== content.height || size.format !== content.format;
  if (frame.tiles > 0 || frame.reset || newBuffer) conn.content.begin(surface, content.width, content.height, formatToWire(content.format));
  conn.client.sendEncoded(frame.bytes, frame.release);
  remote.size = { width: content.width, height: content.height, format: content.format };
  return { reset: frame.reset, tiles: frame.tiles, unchangedTiles: frame.unchangedTiles, rawBytes: frame.rawBytes, wireBytes: frame.bytes.byteLength };
}
