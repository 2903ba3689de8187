/**
 * The pixels of one commit, to the receiver: wthp_content.begin and the
 * changed tiles of `content` within `damage`, encoded in one native pass
 * against the remote's mirror of what the receiver has (TileEncoder) with
 * the codecs both sides know, queued as finished messages. The caller
 * commits the surface after. A large frame is encoded on a worker thread
 * (encodeContentAsync, then sendFrame).
 */
import type { Content, Rect } from '../../shared/scene/scene.js';
import { CODEC_ZSTD, codecBit, formatToWire, type EncodedFrame } from '../../shared/remote/tiles.js';
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
  remote.encoder.setCodecs(contentCodecs(conn, zstd));
  // One native pass writes the tile messages; they go out right after begin.
  return sendFrame(conn, remote, content, remote.encoder.encodeMessages(content, damage, conn.content.id, remote.surface.id));
}

/**
 * `sendContent` in two steps, the encode on a worker thread: the promise
 * gives the frame for `sendFrame`, which the caller calls unless the
 * connection or the surface went away meanwhile (then it releases it).
 */
export function encodeContentAsync(conn: ConnectionState, remote: Remote, content: Content, damage: readonly Rect[] | null, zstd: boolean): Promise<EncodedFrame> {
  remote.encoder.setCodecs(contentCodecs(conn, zstd));
  return remote.encoder.encodeMessagesAsync(content, damage, conn.content.id, remote.surface.id);
}

/** Lossless here: lossy frames go through lossy-sender.ts; zstd only when the policy chose it. */
function contentCodecs(conn: ConnectionState, zstd: boolean): number {
  const lossless = conn.codecs & ~LOSSY_CODECS;
  return zstd ? lossless : lossless & ~codecBit(CODEC_ZSTD);
}

/** Begin (when the receiver's buffer needs one) and the encoded tiles of `frame`. */
export function sendFrame(conn: ConnectionState, remote: Remote, content: Content, frame: EncodedFrame): ContentSent {
  const size = remote.size;
  const newBuffer = size === null || size.width !== content.width || size.height !== content.height || size.format !== content.format;
  if (frame.tiles > 0 || frame.reset || newBuffer) conn.content.begin(remote.surface, content.width, content.height, formatToWire(content.format));
  conn.client.sendEncoded(frame.bytes, frame.release);
  remote.size = { width: content.width, height: content.height, format: content.format };
  return { reset: frame.reset, tiles: frame.tiles, unchangedTiles: frame.unchangedTiles, rawBytes: frame.rawBytes, wireBytes: frame.bytes.byteLength };
}
