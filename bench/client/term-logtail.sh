#!/bin/sh
# The `term` workload: weston-terminal --shell=term-logtail.sh prints a
# fixed log tail, TERM_LINES lines (default 250) at about 37 lines/s, so the
# terminal scrolls once per line; the terminal exits when this ends.
n=${TERM_LINES:-250}
i=0
while [ "$i" -lt "$n" ]; do
	printf '%5d  2026-12-04T09:%02d:%02d.%03d  INFO  ingest[%d]: stored segment %d (%d records) in %d ms\n' \
		"$i" $((i / 60 % 60)) $((i % 60)) $((i * 11 % 1000)) $((i % 6)) "$i" $((i * 41 % 700)) $((i * 17 % 89))
	i=$((i + 1))
	sleep 0.025
done
