/**
 * The end-to-end test harness: real compositors (weston headless, x11 in
 * Xvfb, ivi-shell nested or in Xvfb), screenshots as RGBA images with
 * comparison helpers, and child processes with captured output.
 * See README.md in this folder.
 */
export * from './image.js';
export * from './process.js';
export * from './weston.js';
