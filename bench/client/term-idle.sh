#!/bin/sh
# The `idle` workload: weston-terminal --shell=term-idle.sh shows a few lines
# and then nothing changes until the terminal is stopped.
printf 'idle terminal: %s\n' "$(uname -sr)"
printf 'nothing changes from here on\n'
exec sleep 86400
