/**
 * The pixels of one commit, to the receiver: wthp_content.begin and the
 * changed tiles of `content` within `damage`, encoded against the remote's
 * mirror of what the receiver has (TileEncoder) with the codecs both sides
 * know. The caller commits the surface after.
 */
import type { Content, Rect } from '../../shared/scene/scene.js';
import { formatToWire } from '../../shared/remote/tiles.js';
import type { ConnectionState, Remote } from './remote.js';

/** What one `sendContent` put on the wire. */
export interface ContentSent {
  readonly tiles: number;
  readonly unchangedTiles: number;
  /** Bytes of pixels the tiles carried, before encoding. */
  readonly rawBytes: number;
  /** Bytes of tile messages. */
  readonly wireBytes: number;
}

/** Send the tiles of `content` that changed in `damage` (buffer pixels; null: all of it). */
export function sendContent(conn: ConnectionState, remote: Remote, content: Content, damage: readonly Rect[] | null): ContentSent {
  const surface = remote.surface;
  remote.encoder.setCodecs(conn.codecs);
  // Tiles go out as they are encoded (their data is only valid during the call), after begin.
  let begun = false;
  let tiles = 0;
  const res = remote.encoder.encode(content, damage, (t) => {
    if (!begun) conn.content.begin(surface, content.width, content.height, formatToWire(content.format));
    begun = true;
    tiles++;
    conn.content.tile(surface, t.x, t.y, t.width, t.height, t.codec, t.data);
  });
  const size = remote.size;
  const newBuffer = size === null || size.width !== content.width || size.height !== content.height || size.format !== content.format;
  if (!begun && (res.reset || newBuffer)) conn.content.begin(surface, content.width, content.height, formatToWire(content.format));
  remote.size = { width: content.width, height: content.height, format: content.format };
  return { tiles, unchangedTiles: res.unchangedTiles, rawBytes: res.rawBytes, wireBytes: res.wireBytes };
}
