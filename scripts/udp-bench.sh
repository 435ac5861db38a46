#!/usr/bin/env bash
# udp-bench.sh: labchat's UDP probe against iperf3 on loopback (127.0.0.1 only), 64- and
# 1400-byte payloads: the fastest rate each reaches, and the loss each reports at the same
# offered rate, beside the kernel's own count of datagrams it dropped (Udp RcvbufErrors in
# /proc/net/snmp: on loopback the receiving socket's buffer is the only place a datagram can be
# lost, so that counter is the truth both tools are checked against).
#
# Usage: scripts/udp-bench.sh [SECONDS [RUNS]]
#   12 rows of SECONDS each (default 3: about 60 s a run), RUNS times (default 1). Needs iperf3
#   and python3. Prints a Markdown table of every row; with RUNS > 1, also the medians of the
#   top rates and of labchat's rate over iperf3's. Linux only (/proc/net/snmp).
set -euo pipefail

secs=${1:-3}
runs=${2:-1}
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 30 ]] || { echo "SECONDS must be 1..30" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 && $runs -le 20 ]] || { echo "RUNS must be 1..20" >&2; exit 2; }
command -v iperf3 >/dev/null || { echo "iperf3 missing: apt-get install -y iperf3" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 missing" >&2; exit 1; }

tmp=$(mktemp -d)
pids=() # iperf3 server
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$(dirname "$0")/.."
go build -o "$tmp/labchat" .
lc="$tmp/labchat"
port_lc=19931
port_ip=19932

rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# labchat_run SIZE RATE: prints "sent_pps received_pps loss_pct kernel_drops".
labchat_run() {
	local size=$1 rate=$2 count
	if [[ $rate == 0 ]]; then count=$((400000 * secs)); else count=$((rate * secs)); fi
	# --timeout: a listener left behind by an interrupted run ends by itself.
	"$lc" udp-listen --listen 127.0.0.1:$port_lc --interval 0 --json --timeout 10s </dev/null >"$tmp/l.json" 2>"$tmp/l.err" &
	local lpid=$! tries=0
	until grep -q "listening on" "$tmp/l.err" 2>/dev/null; do
		((++tries < 200)) || { echo "udp-listen did not start: $(cat "$tmp/l.err")" >&2; exit 1; }
		sleep 0.05
	done
	local before
	before=$(rcvbuf_errors)
	"$lc" udp-send --probe --json --count "$count" --rate "$rate" --size "$size" --wait 2s 127.0.0.1:$port_lc >"$tmp/s.json" || true
	local drops=$(($(rcvbuf_errors) - before))
	kill -INT "$lpid"
	wait "$lpid" || true
	grep '"probe-final"' "$tmp/l.json" | head -1 >"$tmp/f.json"
	local sent_pps recv_pps loss
	sent_pps=$(json "$tmp/s.json" "round(d['rate_pps'])")
	recv_pps=$(json "$tmp/f.json" "round(d['received']/max(d['end_s'],1e-9))")
	loss=$(json "$tmp/f.json" "'%.2f%% (%d)' % (d['loss_pct'], d['lost'])")
	echo "$sent_pps | $recv_pps | $loss | $drops"
}

# iperf3_run SIZE BITRATE: the same figures from iperf3 -u (BITRATE 0: unlimited).
iperf3_run() {
	local size=$1 bitrate=$2 before drops
	before=$(rcvbuf_errors)
	iperf3 -c 127.0.0.1 -p $port_ip -u -b "$bitrate" -l "$size" -w 8M -t "$secs" -J >"$tmp/i.json" || true
	drops=$(($(rcvbuf_errors) - before))
	local sum="d['end']['sum']"
	echo "$(json "$tmp/i.json" "round($sum['packets']/$sum['seconds'])") | $(json "$tmp/i.json" "round(($sum['packets']-$sum['lost_packets'])/$sum['seconds'])") | $(json "$tmp/i.json" "'%.2f%% (%d)' % ($sum['lost_percent'], $sum['lost_packets'])") | $drops"
}

iperf3 -s -B 127.0.0.1 -p $port_ip >/dev/null 2>&1 &
pids+=($!)
tries=0
until iperf3 -c 127.0.0.1 -p $port_ip -n 1 >/dev/null 2>&1; do # ready when a 1-byte test passes
	((++tries < 100)) || { echo "iperf3 server did not start" >&2; exit 1; }
	sleep 0.1
done

echo "labchat $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(iperf3 --version | head -1), $(nproc) cores, $secs s per row, $runs run(s)"
echo
echo "| run | payload | tool | offered | sent/s | received/s | loss the tool reports | kernel drops (RcvbufErrors) |"
echo "|---|---|---|---|---|---|---|---|"
for run in $(seq "$runs"); do
	for size in 64 1400; do
		echo "| $run | $size B | labchat probe | --rate 0 | $(labchat_run $size 0) |"
		echo "| $run | $size B | iperf3 | -b 0 | $(iperf3_run $size 0) |"
		for rate in $(( size == 64 ? 100000 : 50000 )) 250000; do
			echo "| $run | $size B | labchat probe | $rate/s | $(labchat_run $size $rate) |"
			echo "| $run | $size B | iperf3 | $rate/s | $(iperf3_run $size $((rate * size * 8))) |"
		done
	done
done | tee "$tmp/rows.md"
[[ $runs -gt 1 ]] || exit 0

# The medians: per payload, each tool's top rate, and labchat's over iperf3's run by run.
python3 - "$tmp/rows.md" <<'PY'
import statistics, sys
top = {}  # (payload, tool) -> {run: sent/s}
for line in open(sys.argv[1]):
    run, payload, tool, offered, sent = [c.strip() for c in line.strip().strip("|").split("|")][:5]
    if offered in ("--rate 0", "-b 0"):
        top.setdefault((payload, tool), {})[run] = int(sent)
print("\n| payload | labchat top rate (median sent/s) | iperf3 | labchat / iperf3, median of the runs' ratios (range) |")
print("|---|---|---|---|")
for payload in ("64 B", "1400 B"):
    lc, ip = top[(payload, "labchat probe")], top[(payload, "iperf3")]
    ratios = [lc[r] / ip[r] for r in lc if ip.get(r)]
    print(f"| {payload} | {statistics.median(lc.values()):.0f} | {statistics.median(ip.values()):.0f} | "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f} to {max(ratios):.2f}) |")
PY
