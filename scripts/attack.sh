#!/usr/bin/env bash
# attack.sh: replays the attacks of issue 9 (items 1-9, and 10a/10b) and of issue 17 (items
# 17.1-17.6) against fresh labchat servers on loopback and prints one line per attack, "held"
# or "NOT HELD", then the figures the issues ask for: guesses that reach bcrypt under 40
# parallel tries, accounts one address creates per minute, login time during a REGISTER storm
# (median), udp-listen RSS after 60,000 forged sender ids, the server's RSS and descriptors
# under a web-port flood of idle keep-alive connections.
#
# Usage: scripts/attack.sh [SOURCE_TREE]
#   SOURCE_TREE: the labchat tree to build and attack (default: this one), e.g. a worktree of
#   an older commit for a before/after comparison. Every server is started from that build
#   with a temp data dir on 127.0.0.1 port 0 and the tree's own default config.toml (so its
#   default limits are what is attacked); nothing leaves 127.0.0.0/8. Takes about 2 minutes
#   (ATTACK_REGISTER_SECS, default 60, is the REGISTER flood's length). Needs go and python3.
#   Linux only (/proc, and 127.0.0.2... as extra source addresses). ATTACK_ONLY="4 7 17.1" runs
#   only those items. ATTACK_QUICK=1 is the quick form CI runs (.ci/run): a 10 s REGISTER
#   flood against a server whose register_per_ip_burst is 3, 2,000 instead of 19,950 idle
#   web connections, 200 instead of 10,000 JOINs.
#   Item 17.1 holds up to 19,950 sockets: the script raises its open-file limit to the hard
#   limit, which must allow about 20,000.
# Exit status: 0 when every attack held, 1 otherwise.
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[[ -f $src/go.mod && -f $src/config.toml ]] || { echo "$src is not a labchat source tree" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 missing" >&2; exit 1; }
command -v go >/dev/null || { echo "go missing" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # 19,950 idle sockets of item 17.1
quick=${ATTACK_QUICK:-}
reg_secs=${ATTACK_REGISTER_SECS:-$([[ -n $quick ]] && echo 10 || echo 60)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$src" && go build -o "$tmp/labchat" .)

# Only what the attacks need differs from the tree's defaults: loopback, port 0, no web port.
{
	echo '[server]'
	echo 'listen = "127.0.0.1:0"'
	grep -q '^web_listen' "$src/config.toml" && echo 'web_listen = ""'
	grep -q '^tls_listen' "$src/config.toml" && echo 'tls_listen = ""'
	true
} >"$tmp/base.toml"

python3 - "$tmp/labchat" "$tmp" "$reg_secs" "$quick" <<'PY'
import base64, os, re, resource, select, signal, socket, ssl, statistics, struct, subprocess, sys, threading, time

lc, tmp, reg_secs, quick = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
base = open(os.path.join(tmp, "base.toml")).read()
servers = []
results = []
figures = []


def report(item, name, held, detail):
    results.append(held)
    print(f"{'held' if held else 'NOT HELD':8} {item:>3} {name}: {detail}", flush=True)


class Server:
    """labchat serve on 127.0.0.1:0 with its own data dir (kept across restart())."""

    def __init__(self, name, extra="", args=(), config=None):
        self.dir = os.path.join(tmp, name)
        self.cfg = os.path.join(tmp, name + ".toml")
        self.args = list(args)
        self.err_path = os.path.join(tmp, name + ".err")
        self.ports = config is not None  # the config turns on the web and TLS ports
        with open(self.cfg, "w") as f:
            f.write(config if config is not None else base + extra)
        self.p = None
        self.start()
        servers.append(self)

    def start(self):
        self.err = open(self.err_path, "ab")
        self.p = subprocess.Popen([lc, "serve", "--config", self.cfg, "--data-dir", self.dir] + self.args,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.err)
        line = self.p.stdout.readline().decode()
        m = re.search(r"listening on (\S+):(\d+) \(IRC\)", line)
        if not m:
            self.p.wait(10)
            self.addr = None
            return False
        self.addr = ("127.0.0.1", int(m.group(2)))
        if self.ports:
            for _ in range(2):
                line = self.p.stdout.readline().decode()
                m = re.search(r"IRC over TLS on (\S+):(\d+),", line)
                if m:
                    self.tls = ("127.0.0.1", int(m.group(2)))
                m = re.search(r"web client on (\S+):(\d+) ", line)
                if m:
                    self.web = ("127.0.0.1", int(m.group(2)))
        return True

    def rss_mb(self):
        return int(re.search(r"VmRSS:\s+(\d+) kB", open(f"/proc/{self.p.pid}/status").read()).group(1)) / 1024

    def fds(self):
        return len(os.listdir(f"/proc/{self.p.pid}/fd"))

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()

    def log(self):
        return open(self.err_path, "rb").read()


class Conn:
    def __init__(self, addr, src="127.0.0.1", timeout=10):
        self.s = socket.socket()
        self.s.bind((src, 0))
        self.s.settimeout(timeout)
        self.s.connect(addr)
        self.buf = b""

    def send(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.s.sendall(line + b"\r\n")

    def readline(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            poll = select.poll()  # not select(): item 7 holds descriptors past 1024
            poll.register(self.s, select.POLLIN)
            if not poll.poll(left * 1000):
                return None
            try:
                chunk = self.s.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode(errors="replace")

    def expect(self, pattern, timeout=10):
        """The first line matching pattern, or None (timeout or close)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(deadline)
            if line is None or re.search(pattern, line):
                return line

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def b64(s):
    return base64.b64encode(s.encode()).decode()


def sasl(addr, account, password, nick=None, src="127.0.0.1", caps=""):
    """SASL PLAIN login; returns (welcomed, conn, last line)."""
    c = Conn(addr, src)
    c.send("CAP LS 302")
    c.send(f"NICK {nick or account}")
    c.send(f"USER {account} 0 * :{account}")
    c.send(("CAP REQ :sasl " + caps).strip())
    if not c.expect(r" CAP \S+ ACK "):
        return False, c, "no CAP ACK"
    c.send("AUTHENTICATE PLAIN")
    if not c.expect(r"^AUTHENTICATE \+"):
        return False, c, "no AUTHENTICATE +"
    c.send("AUTHENTICATE " + b64(f"\0{account}\0{password}"))
    r = c.expect(r" 90[34] ", 30)
    if r is None or " 904 " in r:
        return False, c, r or "no reply"
    c.send("CAP END")
    w = c.expect(r" (001|433|ERROR) ", 30)
    return w is not None and " 001 " in w, c, w or "no welcome"


def register(addr, nick, password="attack-pw", src="127.0.0.1", email="*"):
    c = Conn(addr, src)
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.send(b"REGISTER * " + (email.encode() if isinstance(email, str) else email) + b" " + password.encode())
    r = c.expect(r"REGISTER SUCCESS|FAIL REGISTER|ERROR", 60)
    c.close()
    return r or "no reply"


def guest(addr, nick, caps="batch draft/chathistory server-time message-tags"):
    c = Conn(addr)
    c.send("CAP LS 302")
    c.send(f"CAP REQ :{caps}")
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :{nick}")
    c.send("CAP END")
    return c, c.expect(r" 001 ") is not None


def history_texts(c, command):
    c.send(command)
    out = []
    deadline = time.monotonic() + 10
    while True:
        line = c.readline(deadline)
        if line is None or re.search(r" BATCH -", line) or " FAIL " in line:
            return out
        if " PRIVMSG " in line:
            out.append(line.split(" :", 1)[-1] if " :" in line else line)


def quiet(fn, *a):
    try:
        return fn(*a)
    except Exception as e:  # an attack that crashes the harness is reported, not fatal
        return e


# ---- item 1: a line that bricks the next start; 10a/10b on the same server ----
def item1():
    srv = Server("utf8")
    c = Conn(srv.addr)
    c.send("NICK mallory")
    c.send("USER m 0 * :m")
    c.send(b"REGISTER * \xff@x attack-pw")
    r = c.expect(r"REGISTER SUCCESS|FAIL REGISTER") or "no reply"
    c.close()
    refused = "FAIL" in r
    register(srv.addr, "alice", "alice-pw")
    con = register(srv.addr, "con", "attack-pw")
    srv.stop()
    users = os.path.join(srv.dir, "server", "users")
    with open(os.path.join(users, "x.toml"), "wb") as f:
        f.write(b'name = "x"\nhash = "h"\nemail = "\xff@x"\n')
    stale = os.path.join(users, ".alice.toml.tmp4242")
    with open(stale, "wb") as f:
        f.write(b"half a file")
    started = srv.start()
    ok = started and sasl(srv.addr, "alice", "alice-pw")[0]
    report("1", "utf8", refused and ok,
           f"REGISTER * \\xff@x: {r.split(' :')[0]}; restart with a corrupt users/x.toml: "
           + ("started, alice logs in" if ok else "started, alice cannot log in" if started else "serve refused to start"))
    report("10a", "device-name", "FAIL REGISTER BAD_ACCOUNT_NAME" in con,
           f"REGISTER con: {con.split(' :')[0]}; users/con.toml " + ("exists" if os.path.exists(os.path.join(users, "con.toml")) else "not created"))
    report("10b", "stale-tmp", started and not os.path.exists(stale),
           "users/.alice.toml.tmp4242 from a crash " + ("removed at start" if not os.path.exists(stale) else "still there after restart"))
    srv.stop()


# ---- item 2: an unregistered squatter keeps the owner out ----
def item2(A):
    squat = Conn(A.addr, "127.0.0.3")
    squat.send("NICK alice")
    squat.send("USER sq 0 * :squatter")
    squat.expect(r"ACCOUNT_REQUIRED|433|001", 5)
    ok, c, last = sasl(A.addr, "alice", "alice-pw")
    report("2", "nick-squat", ok, "owner's SASL login while a squatter holds NICK alice: "
           + ("welcomed as alice" if ok else f"refused ({last})"))
    c.close()
    squat.close()


# ---- item 3: guest DMs read by the next holder of the nick ----
def item3():
    B = Server("guests", "require_login = false\n")
    bob, _ = guest(B.addr, "bob")
    carol, _ = guest(B.addr, "carol")
    bob.send("PRIVMSG carol :exam answer is 42")
    carol.expect("exam answer")
    carol.send("QUIT")
    carol.expect("^ERROR")
    carol.close()
    time.sleep(0.2)
    mallory, _ = guest(B.addr, "carol")
    got = history_texts(mallory, "CHATHISTORY LATEST bob * 10")
    mallory.close()
    time.sleep(0.2)
    dave, _ = guest(B.addr, "dave")
    dave.send("NICK carol")
    dave.expect(r" NICK :?carol")
    got2 = history_texts(dave, "CHATHISTORY LATEST bob * 10")
    leaked = [t for t in got + got2 if "exam answer" in t]
    report("3", "guest-dm", not leaked, "next guest called carol (and a guest renamed to carol) reading CHATHISTORY bob: "
           + (f"read {len(leaked)} of carol's DMs" if leaked else "nothing"))
    for c in (bob, dave):
        c.close()
    B.stop()


# ---- item 4: a full disk and history ----
def item4(A):
    ok1, u1, _ = sasl(A.addr, "u1", "u1-pw")
    ok2, u2, _ = sasl(A.addr, "u2", "u2-pw")
    for c in (u1, u2):
        c.send("JOIN #room4")
        c.expect(r" 366 ")
    u1.send("PING sync")  # u2's JOIN reaches u1 before this
    u1.expect("PONG")
    day = time.strftime("%Y-%m-%d", time.gmtime())
    convdir = os.path.join(A.dir, "server", "logs", "room-room4")
    os.makedirs(convdir, exist_ok=True)
    path = os.path.join(convdir, day + ".log")
    os.symlink("/dev/full", path)  # every append fails with ENOSPC
    u1.send("PRIVMSG #room4 :written while the disk is full")
    told = u1.expect(r"(?i)^(@\S+ )?:\S+ (NOTICE|FAIL) .*(not saved|no space|disk)", 5)
    relayed = u2.expect("written while the disk is full", 5)
    os.remove(path)  # space is back
    u1.send("PRIVMSG #room4 :after the disk has room again")
    u2.expect("after the disk has room again", 5)
    u1.send("PING sync")
    u1.expect("PONG")
    lines = open(path, "rb").read().split(b"\n")[:-1] if os.path.exists(path) else []
    parseable = lines and all(l.count(b"\t") >= 5 for l in lines) and b"after the disk" in lines[-1]
    report("4", "disk-full", bool(told) and bool(parseable),
           "message to a room whose log gets ENOSPC: " + ("sender told" if told else "sender NOT told")
           + (", relayed" if relayed else ", not relayed") + "; log after space returns: "
           + ("parseable line by line" if parseable else "missing or damaged"))
    u1.close()
    u2.close()


# ---- item 5: parallel guesses and NAT lockout ----
def item5(A):
    conns = []
    for i in range(40):
        c = Conn(A.addr, "127.0.0.1", 60)
        c.send("CAP REQ :sasl")
        c.send(f"NICK g{i}")
        c.send("USER g 0 * :g")
        c.send("AUTHENTICATE PLAIN")
        c.expect(r"^AUTHENTICATE \+")
        conns.append(c)
    for i, c in enumerate(conns):  # as close together as one process sends them
        c.send("AUTHENTICATE " + b64(f"\0alice\0guess{i}"))
    replies = [c.expect(r" 90[34] ", 60) or "" for c in conns]
    for c in conns:
        c.close()
    reached = sum("wrong password" in r for r in replies)
    figures.append(f"guesses that reached bcrypt: {reached} of 40 parallel SASL guesses at one account (login_failures_per_minute = 10)")
    bob = sasl(A.addr, "bob", "bob-pw", src="127.0.0.1")
    owner = sasl(A.addr, "alice", "alice-pw", src="127.0.0.2")
    bob[1].close()
    owner[1].close()
    report("5", "login-throttle", reached <= 10 and bob[0] and owner[0],
           f"{reached}/40 parallel guesses reached bcrypt; then bob from the same address: "
           + ("logs in" if bob[0] else f"refused ({bob[2]})") + "; alice from another address: "
           + ("logs in" if owner[0] else f"refused ({owner[2]})"))


# ---- item 6: REGISTER flood, taken names, logins during the storm ----
def timed_login(A, src):
    t0 = time.monotonic()
    ok, c, _ = sasl(A.addr, "alice", "alice-pw", src=src)
    dt = time.monotonic() - t0
    c.close()
    return dt if ok else None


def item6(A):
    base_times = [t for t in (timed_login(A, "127.0.0.7") for _ in range(5)) if t]
    stop = time.monotonic() + reg_secs
    created, refusals, lock = [0], [], threading.Lock()

    def flood(w):
        n = 0
        while time.monotonic() < stop:
            n += 1
            r = register(A.addr, f"f{w}n{n}", src="127.0.0.6")
            with lock:
                if "REGISTER SUCCESS" in r:
                    created[0] += 1
                elif len(refusals) < 1:
                    refusals.append(r)
            if "REGISTER SUCCESS" not in r:
                time.sleep(0.05)  # refused: no need to burn the shared CPU faster
    workers = [threading.Thread(target=flood, args=(w,)) for w in range(4)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    time.sleep(1)
    storm_times = [t for t in (timed_login(A, "127.0.0.7") for _ in range(7)) if t]
    for w in workers:
        w.join()
    secs = time.monotonic() - t0
    rate = created[0] / secs * 60
    taken = []
    for _ in range(5):
        t1 = time.monotonic()
        r = register(A.addr, "alice", src="127.0.0.8")
        taken.append((time.monotonic() - t1, r))
    taken_ms = statistics.median(t for t, _ in taken) * 1000
    bm = statistics.median(base_times) * 1000 if base_times else float("nan")
    sm = statistics.median(storm_times) * 1000 if storm_times else float("nan")
    refusal = refusals[0] if refusals else "none"
    figures.append(f"REGISTER from one address: {created[0]} accounts in {secs:.0f} s ({rate:.0f}/min, 4 parallel connections); first refusal: {refusal.split(':', 2)[-1] if refusals else 'none'}")
    figures.append(f"login time (SASL, bcrypt_cost default): median {bm:.0f} ms alone, {sm:.0f} ms during the REGISTER storm ({sm / bm:.1f}x)")
    figures.append(f"REGISTER of a taken name: median reply {taken_ms:.1f} ms")
    throttled = "TEMPORARILY_UNAVAILABLE" in refusal and "try again in" in refusal
    report("6", "register-flood", throttled and sm <= 3 * bm and taken_ms < bm / 2,
           f"{created[0]} accounts from one address in {secs:.0f} s, " + ("then FAIL REGISTER TEMPORARILY_UNAVAILABLE with a retry time" if throttled else "never refused")
           + f"; login {sm / bm:.1f}x slower during the storm; taken name refused in {taken_ms:.1f} ms")


# ---- item 7: idle sockets keep users out ----
def item7(A):
    idle = []
    for i in range(2000):  # 50 per address, the default max_clients_per_ip, from 40 addresses
        try:
            s = socket.socket()
            s.bind((f"127.0.4.{1 + i // 50}", 0))
            s.connect(A.addr)
            idle.append(s)
        except OSError:
            break
    try:
        time.sleep(1.5)  # idle, as a real attacker's sockets are
        user = sasl(A.addr, "alice", "alice-pw", src="127.0.0.1")
        mate = sasl(A.addr, "bob", "bob-pw", src="127.0.4.1")  # behind the attacker's NAT address
        user[1].close()
        mate[1].close()
    finally:
        for s in idle:
            s.close()
    report("7", "idle-sockets", user[0] and mate[0], f"{len(idle)} idle sockets open; alice logging in: "
           + ("welcomed" if user[0] else f"refused ({user[2]})") + "; bob from the attackers' address: "
           + ("welcomed" if mate[0] else f"refused ({mate[2]})"))


# ---- item 8: --trace and a leading space ----
def item8():
    D = Server("trace", args=["--trace"])
    c = Conn(D.addr)
    c.send(" PASS alice:trace-secret-one")
    c.send(" CAP REQ :sasl")
    c.send(" NICK tracer")
    c.send(" USER t 0 * :t")
    c.send(" AUTHENTICATE PLAIN")
    c.expect(r"AUTHENTICATE \+", 5)
    blob = b64("\0tracer\0trace-secret-two")
    c.send(" AUTHENTICATE " + blob)
    c.expect(r" 90[34] ", 10)
    c.send(" REGISTER * * trace-secret-three")
    c.expect(r"REGISTER|FAIL", 10)
    c.send("PING sync")
    c.expect("PONG")
    c.close()
    D.stop()
    log = D.log()
    leaks = [s for s in ("trace-secret-one", blob, "trace-secret-three") if s.encode() in log]
    report("8", "trace-leak", not leaks and b"tcp read" in log,
           "leading-space PASS, AUTHENTICATE and REGISTER under --trace: "
           + (f"{len(leaks)} secret(s) printed" if leaks else "no secret in the trace"))


# ---- item 9: forged probe headers against udp-listen ----
def item9():
    p = subprocess.Popen([lc, "udp-listen", "--listen", "127.0.0.1:0", "--interval", "0", "--timeout", "120s"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    addr = None
    while addr is None:
        line = p.stderr.readline().decode()
        if not line:
            report("9", "udp-forged", False, "udp-listen did not start")
            return
        m = re.search(r"listening on UDP (\S+):(\d+) ", line)
        if m:
            addr = ("127.0.0.1", int(m.group(2)))
    out = []

    def wait_for(token):
        deadline = time.time() + 30
        buf = b""
        poll = select.poll()
        poll.register(p.stdout, select.POLLIN)
        while time.time() < deadline:
            if poll.poll(1000):
                buf += os.read(p.stdout.fileno(), 1 << 16)
                if token in buf:
                    out.append(buf)
                    return True
        out.append(buf)
        return False

    def rss():
        return int(re.search(r"VmRSS:\s+(\d+) kB", open(f"/proc/{p.pid}/status").read()).group(1)) / 1024

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(addr)
    s.send(b"start")
    wait_for(b"start")
    before = rss()
    for batch in range(0, 60000, 1000):  # paced by the listener, so the kernel drops none
        for sender in range(batch, batch + 1000):
            s.send(b"LCPB" + struct.pack(">BBHIQQQ", 1, 0, 0, sender, 0, time.time_ns(), 0))
        s.send(b"sync %d" % batch)
        wait_for(b"sync %d" % batch)
    for seq in (2**64 - 2, 2**64 - 1, 5):
        s.send(b"LCPB" + struct.pack(">BBHIQQQ", 1, 0, 0, 0xFFFFFFFF, seq, time.time_ns(), 0))
    s.send(b"hello\n[probe 10.9.8.7:1] total 100 received, 0 lost (0.00%)\x1b[2J")
    s.send(b"done")
    wait_for(b"done")
    after = rss()
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=60)
    text = (b"".join(out) + rest).decode(errors="replace")
    negative = re.search(r"lost -\d|18446744073709551615", text) is not None
    faked = any(l.startswith("[probe 10.9.8.7:1]") for l in text.splitlines()) or "\x1b[2J" in text
    figures.append(f"udp-listen RSS: {before:.1f} MB before, {after:.1f} MB after 60,000 forged sender ids")
    report("9", "udp-forged", after < 100 and not negative and not faked,
           f"RSS {before:.0f} -> {after:.0f} MB after 60,000 forged ids; negative loss "
           + ("printed" if negative else "never") + "; a datagram faking a report line " + ("got through" if faked else "was escaped"))


# ---- issue 17: the web and TLS ports under floods, rooms per user, Host, service names ----
def ports_server(name):
    return Server(name, config='[server]\nlisten = "127.0.0.1:0"\nweb_listen = "127.0.0.1:0"\ntls_listen = "127.0.0.1:0"\n')


def http_get(addr, path="/", host=None, src="127.0.0.1", extra="", timeout=5):
    """One HTTP/1.1 request; returns the status line and headers, or why there is none."""
    try:
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(timeout)
        s.connect(addr)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host or '%s:%d' % addr}\r\n{extra}\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        return buf.split(b"\r\n\r\n")[0].decode(errors="replace") or "closed without an answer", buf
    except OSError as e:
        return f"error: {e}", b""


class WS:
    """IRC over WebSocket (text, no subprotocol), enough for a login."""

    def __init__(self, addr, src="127.0.0.1", timeout=10):
        self.s = socket.socket()
        self.s.bind((src, 0))
        self.s.settimeout(timeout)
        self.s.connect(addr)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET / HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("closed during the upgrade: " + self.buf[:200].decode(errors="replace"))
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise OSError("upgrade refused: " + head.split(b"\r\n")[0].decode(errors="replace"))

    def send(self, line):
        data, mask = line.encode(), os.urandom(4)
        n = len(data)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("closed")
            self.buf += chunk

    def expect(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._need(2)
                n = self.buf[1] & 0x7F
                off = 2
                if n == 126:
                    self._need(4)
                    n, off = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127:
                    self._need(10)
                    n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
                self._need(off + n)
                op, msg, self.buf = self.buf[0] & 0x0F, self.buf[off:off + n], self.buf[off + n:]
            except OSError:
                return None
            if op == 8:
                return None
            line = msg.decode(errors="replace")
            if re.search(pattern, line):
                return line
        return None

    def close(self):
        self.s.close()


def ws_login(addr, account, password, src="127.0.0.1"):
    try:
        w = WS(addr, src)
    except OSError as e:
        return False, str(e)
    w.send(f"PASS {account}:{password}")
    w.send(f"NICK {account}")
    w.send(f"USER {account} 0 * :{account}")
    r = w.expect(r" (001|464|904) |^ERROR")
    w.close()
    return r is not None and " 001 " in r, r or "no reply"


def item17_1(P):
    n = 2000 if quick else 19950
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rss0, fds0 = P.rss_mb(), P.fds()
    cs, failed = [], 0
    t0 = time.monotonic()
    for i in range(n):  # the issue's repro: idle keep-alive requests from one address
        try:
            s = socket.socket()
            s.bind(("127.0.5.1", 0))
            s.connect(P.web)
            s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            cs.append(s)
        except OSError:
            failed += 1
            s.close()
    secs = time.monotonic() - t0
    time.sleep(1)
    rss1, fds1 = P.rss_mb(), P.fds()
    get, _ = http_get(P.web, "/", src="127.0.0.2")
    ws_ok, ws_last = ws_login(P.web, "alice", "alice-pw", src="127.0.0.3")
    irc_ok, c, irc_last = sasl(P.addr, "alice", "alice-pw", src="127.0.0.4")
    c.close()
    for s in cs:
        s.close()
    emfile = b"too many open files" in P.log()
    figures.append(f"web-port flood: {n} idle keep-alive connections from one address in {secs:.0f} s: server RSS {rss0:.0f} -> {rss1:.0f} MB, descriptors {fds0} -> {fds1}")
    held = get.startswith("HTTP/1.1 200") and ws_ok and irc_ok and fds1 < fds0 + 1000 and rss1 < rss0 + 100 and not emfile
    report("17.1", "web-flood", held,
           f"{n} idle keep-alive HTTP connections from 127.0.5.1 ({failed} failed to connect): server holds {fds1 - fds0} more descriptors, RSS +{rss1 - rss0:.0f} MB; "
           + f"GET / from another address: {get.splitlines()[0] if get else 'nothing'}; WebSocket login: "
           + ("welcomed" if ws_ok else f"failed ({ws_last})") + "; IRC login: " + ("welcomed" if irc_ok else f"failed ({irc_last})")
           + ("; the server logged EMFILE (too many open files)" if emfile else ""))


def tls_login(P, account, password, src, nick):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.socket()
        raw.bind((src, 0))
        raw.settimeout(10)
        raw.connect(P.tls)
        s = ctx.wrap_socket(raw)
    except OSError as e:
        return False, f"TLS failed: {e}"
    c = Conn.__new__(Conn)
    c.s, c.buf = s, b""
    c.send(f"PASS {account}:{password}")
    c.send(f"NICK {nick}")
    c.send(f"USER {account} 0 * :{account}")
    r = c.expect(r" (001|464) |^ERROR", 15)
    c.close()
    return r is not None and " 001 " in r, r or "no reply"


def item17_2(P):
    silent = []
    for i in range(500):  # 50 from each of 127.0.6.1-10: the default max_unregistered
        s = socket.socket()
        s.bind((f"127.0.6.{1 + i // 50}", 0))
        s.connect(P.tls)
        silent.append(s)
    time.sleep(1.5)  # silent, as the attack's sockets are
    other = tls_login(P, "alice", "alice-pw", "127.0.6.11", "alice")
    nat = tls_login(P, "bob", "bob-pw", "127.0.6.1", "bob")
    for s in silent:
        s.close()
    report("17.2", "tls-silent", other[0] and nat[0],
           "500 silent sockets on the TLS port (50 from each of 127.0.6.1-10); TLS login from another address: "
           + ("welcomed" if other[0] else f"refused ({other[1]})") + "; from 127.0.6.1 (the flooders' NAT): "
           + ("welcomed" if nat[0] else f"refused ({nat[1]})"))


def item17_3(P):
    n = 200 if quick else 10000
    ok, c, last = sasl(P.addr, "carol", "carol-pw")
    if not ok:
        report("17.3", "chanlimit", False, f"carol cannot log in ({last})")
        return
    c.send("VERSION")
    isupport = c.expect(r"CHANLIMIT=|^:\S+ 351 ", 10) or ""
    m = re.search(r"CHANLIMIT=#:(\d+)", isupport)
    t0 = time.monotonic()
    names = [f"#flood{i}" for i in range(n)]
    joined = refused = 0
    deadline = time.monotonic() + 300
    batch = 20  # JOIN lines between PINGs: within the default flood limits, as the issue's client was
    for start in range(0, n, 40 * batch):
        for i in range(start, min(n, start + 40 * batch), 40):
            c.send("JOIN " + ",".join(names[i:i + 40]))
        c.send(f"PING :joins-{start}")
        while True:
            line = c.readline(deadline)
            if line is None:
                raise OSError("no PONG: the connection was closed or stalled")
            if f"joins-{start}" in line:
                break
            if " 366 " in line:
                joined += 1
            elif " 405 " in line:
                refused += 1
    secs = time.monotonic() - t0
    c.send("LIST")
    lines = 0
    while True:
        line = c.readline(time.monotonic() + 20)
        if line is None or " 323 " in line:
            break
        lines += 1
    c.close()
    limit = int(m.group(1)) if m else None
    report("17.3", "chanlimit", limit is not None and joined <= limit and refused >= n - limit,
           f"ISUPPORT CHANLIMIT: {'#:%d' % limit if limit else 'not advertised'}; JOIN of {n} rooms in {secs:.0f} s: "
           + f"{joined} joined (the lobby included), {refused} refused with 405; LIST: {lines} lines")


def item17_4(P):
    host = f"evil.example:{P.web[1]}"
    ws, _ = http_get(P.web, "/", host=host, extra=f"Origin: http://{host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
    page, body = http_get(P.web, "/", host=host)
    own, _ = http_get(P.web, "/", host=f"localhost:{P.web[1]}")
    status = lambda r: r.splitlines()[0] if r else "nothing"
    held = not ws.startswith("HTTP/1.1 101") and re.match(r"HTTP/1.1 4\d\d", page) is not None and b"web_hosts" in body \
        and own.startswith("HTTP/1.1 200")
    report("17.4", "dns-rebinding", held, f"WebSocket with Host and Origin {host}: {status(ws)}; GET / with that Host: {status(page)}"
           + (" (names server.web_hosts)" if b"web_hosts" in body else "") + f"; Host localhost: {status(own)}")


def item17_5(P):
    got = []
    for name in ("ChanServ", "operserv", "NickServ_", "nickserv1", "Global"):
        c = Conn(P.addr, "127.0.0.12")
        c.send(f"NICK {name}")
        c.send(f"USER {name} 0 * :{name}")
        c.send("REGISTER * * attack-pw")
        r = c.expect(r"REGISTER SUCCESS| 432 |FAIL REGISTER", 10) or "no reply"
        c.close()
        got.append((name, r))
    made = [n for n, r in got if "REGISTER SUCCESS" in r]
    report("17.5", "service-names", not made, "REGISTER of " + ", ".join(n for n, _ in got) + ": "
           + (f"{', '.join(made)} created" if made else "all refused (" + got[0][1].split(" :", 1)[-1] + ")"))


def item17_6(P):
    c = Conn(P.addr)
    c.send("NICK \u0430lice")  # Cyrillic а
    r = c.expect(r" 432 ", 10) or "no reply"
    c.close()
    text = r.split(" :", 1)[-1]
    report("17.6", "432-text", "'\u0430' (U+0430)" in text, f"NICK \u0430lice (Cyrillic \u0430): 432 {text!r}")


def issue17():
    P = ports_server("budget")
    if P.addr is None:
        report("17", "ports", False, "serve with the web and TLS ports did not start")
        return
    for name in ("alice", "bob", "carol"):
        register(P.addr, name, name + "-pw", src="127.0.0.13")
    for fn in (item17_1, item17_2, item17_3, item17_4, item17_5, item17_6):
        item = "17." + fn.__name__[-1]
        if only and item not in only and "17" not in only:
            continue
        err = quiet(fn, P)
        if isinstance(err, Exception):
            report(item, fn.__name__, False, f"the attack script failed: {err!r}")
    P.stop()


only = os.environ.get("ATTACK_ONLY", "").split()  # e.g. "4 7": just those items
if not only or "1" in only:
    item1()
A = Server("main")
for name in ("alice", "bob", "u1", "u2"):
    register(A.addr, name, name + "-pw", src="127.0.0.9")
order = ((item2, (A,)), (item3, ()), (item4, (A,)), (item5, (A,)), (item6, (A,)), (item7, (A,)), (item8, ()), (item9, ()))
if quick:
    # A 10 s REGISTER flood would not use up the default burst of 120, and without the 60 s
    # flood item 5's failed guesses at alice would still lock item 7's login out: the quick
    # form floods a server whose burst is 3, and tries the idle sockets before the guesses.
    R = None
    if not only or "6" in only:
        R = Server("regquick", "register_per_ip_burst = 3\n")
        register(R.addr, "alice", "alice-pw", src="127.0.0.9")
    order = ((item2, (A,)), (item3, ()), (item4, (A,)), (item7, (A,)), (item5, (A,)), (item6, (R,)), (item8, ()), (item9, ()))
for fn, args in order:
    if only and fn.__name__[4:] not in only:
        continue
    err = quiet(fn, *args)
    if isinstance(err, Exception):
        report(fn.__name__[4:], fn.__name__, False, f"the attack script failed: {err!r}")
if not only or any(o.startswith("17") for o in only):
    issue17()
for srv in servers:
    srv.stop()
    if srv.p.returncode not in (0, None):
        print(f"note: server {os.path.basename(srv.dir)} exited {srv.p.returncode}", flush=True)
print("figures:")
for f in figures:
    print("  " + f)
sys.exit(0 if all(results) else 1)
PY
