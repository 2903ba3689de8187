// Preloaded by bench/startup.ts (`node --require`): at exit, the process's own
// CPU time (user + system since it started, microseconds) as the last line on
// stderr, a figure a busy machine disturbs much less than wall time.
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`\ncpu-us: ${user + system}\n`);
});
