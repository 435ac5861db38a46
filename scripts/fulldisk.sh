#!/usr/bin/env bash
# fulldisk.sh: issue 9 item 4 on a real full file system. `labchat serve` keeps its data on a
# 1 MiB tmpfs mounted in a private mount namespace (nothing outside this script sees it);
# alice and bob chat in #lab over loopback; the disk is filled to the last byte while alice
# keeps talking, then space returns and she talks on. The script prints what bob received,
# what alice was told, and whether the room's log reads back line by line afterwards.
#
# Usage: sudo scripts/fulldisk.sh [BINARY]
#   BINARY: a labchat binary to try (default: build this tree), e.g. one built from an older
#   commit for a before/after comparison. Needs root (mount), unshare (util-linux), python3.
#   Exit 0 if the log held (every message saved whole, no line glued onto a torn one), 1 if not.
set -euo pipefail

if [[ ${1:-} != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo "fulldisk: needs root (it mounts a tmpfs in a private mount namespace)" >&2; exit 2; }
	command -v unshare >/dev/null || { echo "fulldisk: needs unshare (util-linux)" >&2; exit 2; }
	command -v python3 >/dev/null || { echo "fulldisk: needs python3" >&2; exit 2; }
	cd "$(dirname "$0")/.."
	bin=${1:-}
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	if [[ -z $bin ]]; then
		go build -o "$tmp/labchat" .
		bin=$tmp/labchat
	fi
	unshare --mount --propagation private "$0" --inside "$(realpath "$bin")" "$tmp"
	exit $?
fi

bin=$2
tmp=$3
disk=$tmp/disk
mkdir -p "$disk"
mount -t tmpfs -o size=1m,mode=0700 labchat-fulldisk "$disk"
cat >"$tmp/config.toml" <<EOF
[server]
listen = "127.0.0.1:0"
require_login = false
EOF
# A binary that serves the web client must not take the real :8080 (older ones reject the key).
if "$bin" serve --help 2>&1 | grep -q -- --web-listen; then
	sed -i 's/^require_login = false$/&\nweb_listen = ""/' "$tmp/config.toml"
fi
"$bin" serve --config "$tmp/config.toml" --data-dir "$disk/data" >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve=$!
trap 'kill $serve 2>/dev/null || true; wait $serve 2>/dev/null || true' EXIT

python3 - "$bin" "$disk" "$tmp" <<'EOF'
import glob, json, os, re, socket, subprocess, sys, time

bin, disk, tmp = sys.argv[1:4]
deadline = time.time() + 20
addr = None
while addr is None and time.time() < deadline:
    m = re.search(r"listening on (\S+):(\d+) ", open(f"{tmp}/serve.out").read())
    if m:
        addr = ("127.0.0.1", int(m.group(2)))
    time.sleep(0.05)
if addr is None:
    sys.exit("serve did not start: " + open(f"{tmp}/serve.err").read())

class Client:
    def __init__(self, nick):
        self.nick, self.buf = nick, b""
        self.s = socket.create_connection(addr, timeout=10)
        self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        self.until(" 001 ")
    def send(self, *lines):
        self.s.sendall("".join(l + "\r\n" for l in lines).encode())
    def lines(self):
        while b"\n" not in self.buf:
            self.buf += self.s.recv(65536) or sys.exit(f"{self.nick}: connection closed")
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")
    def until(self, want):
        seen = []
        while True:
            line = self.lines()
            if line.startswith("PING "):
                self.send("PONG " + line[5:])
            seen.append(line)
            if want in line:
                return seen
    def sync(self, token):
        self.send(f"PING {token}")
        return self.until(f"PONG")

alice, bob = Client("alice"), Client("bob")
for c in (alice, bob):
    c.send("JOIN #lab")
    c.until(" 366 ")
pad = "x" * 150
def say(text):
    alice.send(f"PRIVMSG #lab :{text} {pad}")
say("before the disk filled")
bob.until("before the disk filled")

# Fill the disk to the last byte, as another program on the PC would.
fd = os.open(f"{disk}/filler", os.O_WRONLY | os.O_CREAT, 0o600)
for size in (1 << 16, 4096, 1):
    try:
        while True:
            os.write(fd, b"\0" * size)
    except OSError:
        pass
os.close(fd)

full = 40
for i in range(full):
    say(f"while full {i}")
got = sum(1 for l in bob.until(f"while full {full-1}") if "while full" in l)
told = [l for l in alice.sync("full") if "NOT saved" in l]
os.remove(f"{disk}/filler")  # space returns
after = 5
for i in range(after):
    say(f"after {i}")
bob.until(f"after {after-1}")
alice.sync("after")
for c in (alice, bob):
    c.send("QUIT")

logs = glob.glob(f"{disk}/data/server/logs/room-lab/*.log")
raw = b"".join(open(p, "rb").read() for p in sorted(logs))
out = subprocess.run([bin, "history", "--dir", f"{disk}/data/server/logs", "--json", "--room", "#lab"],
                     capture_output=True, text=True)
texts = [json.loads(l)["text"] for l in out.stdout.splitlines()]
skipped = re.search(r"skipped (\d+) lines", out.stderr)
# A message written onto a torn line reads back as the torn one with a rewritten text.
glued = [t for t in texts if not re.fullmatch(r"(before the disk filled|while full \d+|after \d+) " + pad, t)]
saved_full = [t for t in texts if t.startswith("while full")]
saved_after = [t for t in texts if t.startswith("after")]
held = not glued and len(saved_after) == after and len(told) + len(saved_full) == full
print(f"labchat {os.path.basename(bin)}: 1 MiB tmpfs filled to the last byte, {full} room messages sent while full, then {after} after space returned")
print(f"  relayed while full: {got}/{full} reached bob")
print(f"  sender told 'NOT saved': {len(told)}; saved while full: {len(saved_full)} (the last bytes of the log's page)")
print(f"  {told[0][told[0].index(':', 1) + 1:] if told else '(no notice)'}")
print(f"  after space returned: {len(saved_after)}/{after} saved; lines skipped as torn: {skipped.group(1) if skipped else 0}; messages glued onto a torn line: {len(glued)}")
print("  held" if held else "  NOT held" + "".join(f"; read back as: {t[:60]!r}..." for t in glued[:2]))
sys.exit(0 if held else 1)
EOF
