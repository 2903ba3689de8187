/** Showing scenes on a real compositor: see local-display.ts. */
export { LocalDisplay, readKeymap, type LocalDisplayEvents, type LocalDisplayOptions, type LocalDisplayStats, type LocalShell } from './local-display.js';
export type { OutputInfo } from '../scene/output.js';
export { ShmBufferSet, shmFormat } from './buffers.js';
export { Damage, MAX_DAMAGE_RECTS } from './damage.js';
export { boundingBox, clipRect } from '../scene/region.js';
