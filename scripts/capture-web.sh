#!/usr/bin/env bash
# capture-web.sh: LAB.md Part 5's capture, made again from the real browser client. A fresh
# data directory, `labchat serve --trace` on loopback, tshark on lo, and headless Chromium
# driven by scripts/capture-web.mjs (carol registers, logs out, logs in, joins #lab, says one
# line, logs out). Then it prints every tshark report Part 5 quotes, with the command that
# made it. The Go test TestLabWebFramesAreWhatThePageSends checks the frames LAB.md lists
# against what the page sends today; run this script to refresh them.
#
# Usage: scripts/capture-web.sh [OUTDIR]
#   OUTDIR (default: a new directory under /tmp) keeps ws.pcap, serve.trace and the reports.
#   PORT (default 6667) and WEBPORT (default 8088) are the server's ports; LABCHAT_PASSWORD
#   (default labpass1) is carol's password. Needs tshark (run as root, or in the wireshark
#   group), node with playwright-core (npm ci) and chromium. Linux loopback (lo) only.
set -euo pipefail

out=${1:-$(mktemp -d /tmp/labchat-web-capture.XXXXXX)}
PORT=${PORT:-6667}
WEBPORT=${WEBPORT:-8088}
export LABCHAT_PASSWORD=${LABCHAT_PASSWORD:-labpass1}
for tool in tshark node go; do
  command -v "$tool" >/dev/null || { echo "capture-web.sh: $tool is missing" >&2; exit 1; }
done
cd "$(dirname "$0")/.."
[[ -f node_modules/playwright-core/package.json ]] || { echo "capture-web.sh: run npm ci first (playwright-core)" >&2; exit 1; }
mkdir -p "$out"
rm -rf "$out/data" "$out/ws.pcap"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

go build -o "$out/labchat" .

# waitfor FILE REGEX: until a line matching REGEX is in FILE (10 s at most).
waitfor() {
  for _ in $(seq 100); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "capture-web.sh: no '$2' in $1 after 10 s:" >&2
  cat "$1" >&2
  exit 1
}

tshark -i lo -f "tcp port $WEBPORT" -w "$out/ws.pcap" 2>"$out/tshark.log" &
pids+=($!)
tshark_pid=$!
waitfor "$out/tshark.log" 'Capturing on'

# LABCHAT_CONFIG= : the built-in defaults, whatever config.toml the machine has.
LABCHAT_CONFIG= "$out/labchat" serve --trace --data-dir "$out/data" --listen "127.0.0.1:$PORT" \
  --web-listen "127.0.0.1:$WEBPORT" --tls-listen '' >"$out/serve.out" 2>"$out/serve.trace" &
pids+=($!)
serve_pid=$!
waitfor "$out/serve.out" 'web client on'

node scripts/capture-web.mjs "http://127.0.0.1:$WEBPORT/" carol '#lab' | tee "$out/steps.txt"

kill -INT "$serve_pid"
wait "$serve_pid" || true
sleep 1 # the last FINs reach tshark's buffer
kill -INT "$tshark_pid"
wait "$tshark_pid" || true

report() { # report NAME ARGS...: one tshark report, with its command line
  local name=$1
  shift
  { echo "\$ tshark -r ws.pcap $*"; tshark -r "$out/ws.pcap" "$@" 2>/dev/null; } >"$out/$name.txt"
  cat "$out/$name.txt"
  echo
}
d="tcp.port==$WEBPORT,http"
report http-requests -d "$d" -Y http.request -T fields -e frame.number -e tcp.stream -e http.request.uri
report http-responses -d "$d" -Y http.response -T fields -e frame.number -e tcp.stream -e http.response.code -e http.response_for.uri
ws_stream=$(tshark -r "$out/ws.pcap" -d "$d" -Y 'http.response.code==101' -T fields -e tcp.stream 2>/dev/null | head -1)
report upgrade -d "$d" -Y "tcp.stream==$ws_stream and http" -O http -V
report frames -d "$d" -Y websocket -T fields -E occurrence=a -E 'aggregator=|' -e frame.number -e tcp.srcport \
  -e tcp.dstport -e tcp.len -e websocket.opcode -e websocket.mask -e websocket.masking_key -e websocket.payload_length \
  -e websocket.payload.text -e websocket.payload.close.status_code -e websocket.payload.close.reason
auth=$(tshark -r "$out/ws.pcap" -d "$d" -Y 'websocket.payload.text matches "^AUTHENTICATE [A-Za-z0-9+/]{8}"' -T fields -e frame.number 2>/dev/null | head -1)
report authenticate -d "$d" -Y "frame.number==$auth" -x
echo "capture, trace and reports in $out"
