/**
 * The Wayland library: wire codec, connection, client and server. Generated
 * protocol classes live in `shared/generated/wayland`.
 */
export * from './wire.js';
export * from './connection.js';
export * from './client.js';
export * from './server.js';
export { formatArgs, formatTrace, libwaylandStamp, type TraceArg } from '../wire/trace.js';
export { Emitter } from './emitter.js';
