/**
 * The Wayland library: wire codec, connection, client and server. Generated
 * protocol classes live in `shared/generated/wayland`.
 */
export * from './wire.js';
export * from './connection.js';
export * from './client.js';
export * from './server.js';
export { formatWaylandTrace, libwaylandStamp, renderArgs, type TracedArg } from './trace.js';
export { Emitter } from './emitter.js';
