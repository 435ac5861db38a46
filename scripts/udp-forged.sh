#!/usr/bin/env bash
# udp-forged.sh: what forged probe headers cost `labchat udp-listen` (issue 9 item 9). A
# listener on 127.0.0.1 gets N probe datagrams (default 60000), each naming a new sender id,
# then one with an impossible sequence number; the script prints the listener's resident
# memory (VmRSS, and the peak VmHWM) before and after, and what the listener reported.
#
# Usage: scripts/udp-forged.sh [N [BINARY]]
#   BINARY: a labchat binary to measure (default: build this tree), e.g. one built from an
#   older commit for a before/after comparison. Needs python3. Linux only (/proc).
set -euo pipefail

n=${1:-60000}
[[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 1000000 ]] || { echo "N must be 1..1000000" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$(dirname "$0")/.."
lc=${2:-}
if [[ -z $lc ]]; then
	go build -o "$tmp/labchat" .
	lc="$tmp/labchat"
fi

python3 - "$lc" "$n" <<'EOF'
import os, re, select, signal, socket, struct, subprocess, sys, time

lc, n = sys.argv[1], int(sys.argv[2])
# --timeout: a listener left behind by an interrupted run ends by itself.
p = subprocess.Popen([lc, "udp-listen", "--listen", "127.0.0.1:0", "--interval", "0", "--timeout", "60s"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
addr = None
while addr is None:
    line = p.stderr.readline().decode()
    if not line:
        sys.exit("udp-listen did not start")
    m = re.search(r"listening on UDP (\S+):(\d+) ", line)
    if m:
        addr = ("127.0.0.1", int(m.group(2)))

def mem():
    status = open(f"/proc/{p.pid}/status").read()
    kb = lambda k: int(re.search(k + r":\s+(\d+) kB", status).group(1))
    return kb("VmRSS") / 1024, kb("VmHWM") / 1024

out = []
def wait_for(token):
    # The listener prints text datagrams as they come: seeing the token means it has handled
    # everything sent before it (one socket, loopback: in order).
    deadline = time.time() + 30
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            chunk = os.read(p.stdout.fileno(), 1 << 16)
            buf += chunk
            if token.encode() in buf:
                out.append(buf)
                return
    sys.exit("listener did not catch up")

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(addr)
s.send(b"start")
wait_for("start")
before = mem()
t0 = time.time()
for batch in range(0, n, 1000):  # paced by the listener, so the kernel drops none
    for sender in range(batch, min(n, batch + 1000)):
        s.send(b"LCPB" + struct.pack(">BBHIQQQ", 1, 0, 0, sender, 0, time.time_ns(), 0))
    s.send(b"sync %d" % batch)
    wait_for("sync %d" % batch)
s.send(b"LCPB" + struct.pack(">BBHIQQQ", 1, 0, 0, 0xffffffff, 2**64 - 2, time.time_ns(), 0))
s.send(b"LCPB" + struct.pack(">BBHIQQQ", 1, 0, 0, 0xffffffff, 2**64 - 1, time.time_ns(), 0))
s.send(b"LCPB" + struct.pack(">BBHIQQQ", 1, 0, 0, 0xffffffff, 5, time.time_ns(), 0))
s.send(b"done")
wait_for("done")
secs = time.time() - t0
after = mem()
time.sleep(1)
later = mem()
p.send_signal(signal.SIGINT)
rest, _ = p.communicate(timeout=60)
lines = (b"".join(out) + rest).decode(errors="replace").splitlines()
finals = [l for l in lines if "] total" in l]
forged = [l for l in finals if "#ffffffff" in l]
table = [l for l in lines if l.startswith("[probe senders]")]
ver = os.path.basename(lc) if len(sys.argv) > 3 else lc
print(f"{ver}: {n} forged sender ids in {secs:.1f} s")
print(f"  RSS before {before[0]:.1f} MB; after {after[0]:.1f} MB (peak {after[1]:.1f} MB); 1 s later {later[0]:.1f} MB")
print(f"  final reports printed: {len(finals)}")
print(f"  forged-sequence sender: {forged[0] if forged else '(no report)'}")
print(f"  {table[-1] if table else '(no probe-senders line)'}")
EOF
