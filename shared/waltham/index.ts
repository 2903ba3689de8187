/**
 * The Waltham library: codec, connection, display/registry logic and TCP
 * transport, driven by the descriptor tables the scanner generates.
 */
export * from './wire.js';
export * from './connection.js';
export * from './display.js';
export * from './tcp.js';
