/** Showing scenes on a real compositor: see local-display.ts. */
export { LocalDisplay, readKeymap, type LocalDisplayEvents, type LocalDisplayOptions, type LocalDisplayStats, type LocalShell, type OutputInfo } from './local-display.js';
export { ShmBufferSet, shmFormat } from './buffers.js';
export { Damage, boundingBox, clipRect, MAX_DAMAGE_RECTS } from './damage.js';
