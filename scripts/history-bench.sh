#!/bin/sh
# history-bench.sh: time `labchat history --grep` against GNU `grep -E -c` on the same generated
# 1,000,000-line log (about 90 MB in a temp dir, removed afterwards; nothing leaves the
# machine). Prints the medians (labchat-ms, grep-ms) and their ratio; the target is ratio <= 2.
# Usage: scripts/history-bench.sh [REGEX] [RUNS]   (default: needle, 7 runs)
set -eu
cd "$(dirname "$0")/.."
HISTORY_BENCH_REGEX="${1:-needle}" exec go test -run '^$' -bench '^BenchmarkHistoryGrepVsGNUGrep$' \
	-benchtime "${2:-7}x" -count 1 -timeout 10m .
