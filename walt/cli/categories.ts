/**
 * The categories of `waltham`, with their one-line help, and how to load
 * each: only the module of the category asked for is loaded, so
 * `waltham --help` loads none.
 */
import type { Category } from './command.js';

export interface CategoryEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Category>;
}

export const CATEGORIES: readonly CategoryEntry[] = [
  { name: 'node', summary: 'WalT nodes as transmitters: state, receiver, screenshot', load: async () => (await import('./categories/node.js')).category },
  { name: 'surface', summary: "the transmitters' windows: app_id, title, size, fps, bandwidth", load: async () => (await import('./categories/surface.js')).category },
  { name: 'receiver', summary: 'receivers the transmitters send to', load: async () => (await import('./categories/receiver.js')).category },
  { name: 'log', summary: "a node's transmitter log", load: async () => (await import('./categories/log.js')).category },
  { name: 'image', summary: 'the transmitter image: build it, deploy it on nodes (with the walt command)', load: async () => (await import('./categories/image.js')).category },
];
