// Preloaded with `node --require` by tests: at exit, prints the CommonJS
// modules the process loaded (pino, sharp and the native shim load through
// CommonJS) as one last line on stderr: `cjs-modules: [...]`.
process.on('exit', () => {
  process.stderr.write(`\ncjs-modules: ${JSON.stringify(Object.keys(require.cache))}\n`);
});
