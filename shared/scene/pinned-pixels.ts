/**
 * Pixels read outside the JavaScript thread: a content's pixels handed to a
 * native encode that runs on a worker (TileEncoder.encodeMessagesAsync) are
 * pinned until it settles. A producer that would update a content's pixels
 * in place (a commit of a buffer of the same size, a viewport scaling into
 * the previous view) writes into a copy instead while they are pinned, so an
 * encode never sees pixels change under it.
 */

const pins = new WeakMap<Uint8Array, number>();

/** Pin `pixels`; returns the unpin function (idempotent). */
export function pinPixels(pixels: Uint8Array): () => void {
  pins.set(pixels, (pins.get(pixels) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (pins.get(pixels) ?? 1) - 1;
    if (n > 0) pins.set(pixels, n);
    else pins.delete(pixels);
  };
}

/** Whether some encode reads `pixels` now: they must not be written. */
export function pixelsPinned(pixels: Uint8Array): boolean {
  return pins.has(pixels);
}
