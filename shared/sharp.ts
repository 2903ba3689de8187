/**
 * sharp (libvips), loaded on first use. Only the lossy codecs and the status page's pictures
 * need it; loading it costs a process 10-20 MB of memory and about 30 ms, which a lossless
 * session never spends. The first caller waits for the load; later ones get it at once.
 */
import type Sharp from 'sharp';

let loading: Promise<typeof Sharp> | undefined;

export function loadSharp(): Promise<typeof Sharp> {
  return (loading ??= import('sharp').then((m) => m.default));
}
