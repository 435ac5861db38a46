#!/usr/bin/env bash
# Runs the whole irctest conformance suite against labchat, one test file at a time (step 5 of
# the irctest kit's README), and prints the totals, a per-file table and the skip reasons.
#
#   IRCTEST=/tmp/irctest scripts/irctest-all.sh [OUTDIR]
#
# IRCTEST is an irctest checkout (the kit README says how to bring one; this script neither
# fetches nor vendors it). IRCTEST_KIT is the kit directory (default: ../shared/irctest next
# to the repository). The kit's run.sh does the per-file run with the kit's markers; this
# script builds labchat once, makes irctest create accounts with `labchat accounts add`
# (IRCTEST_SERVER_REGISTER_CMD, password in LABCHAT_PASSWORD), and adds up the JUnit files.
# OUTDIR (default: a temp dir) keeps one JUnit XML per test file, summary.md and the logs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
: "${IRCTEST:?set IRCTEST to an irctest checkout (e.g. /tmp/irctest)}"
kit=${IRCTEST_KIT:-}
if [ -z "$kit" ]; then
  for d in "$repo/../shared/irctest" "$repo/../../shared/irctest"; do
    [ -x "$d/run.sh" ] && kit=$(cd "$d" && pwd) && break
  done
fi
[ -n "$kit" ] && [ -x "$kit/run.sh" ] || { echo "irctest-all: set IRCTEST_KIT to the kit directory (with run.sh)" >&2; exit 2; }
out=${1:-$(mktemp -d)}
mkdir -p "$out"
per_file_timeout=${IRCTEST_FILE_TIMEOUT:-900}
# irctest keeps its port bookkeeping in $TMPDIR/irctest_ports.json: a private TMPDIR keeps
# another run on this machine (another checkout's) from clobbering it mid-run.
export TMPDIR="$out/tmp"
mkdir -p "$TMPDIR"

bindir=$(mktemp -d)
bin="$bindir/labchat"
(cd "$repo" && go build -o "$bin" .)
export IRCTEST_SERVER_CMD="$bin serve --config {config}"
export IRCTEST_SERVER_REGISTER_CMD="$bin accounts add {username} --config {config}"
export IRCTEST_SERVER_CONFIG=${IRCTEST_SERVER_CONFIG:-$repo/testdata/irctest.toml}
# Caps labchat offers that are in irctest's own list (a claimed cap that is refused fails).
export IRCTEST_SERVER_CAPS=${IRCTEST_SERVER_CAPS:-"server-time echo-message message-tags multi-prefix away-notify batch labeled-response account-notify account-tag extended-join extended-monitor setname"}

# Servers a file leaves running (bot_mode does) are this build's: only they run $bin.
stop_leftovers() {
  local pid
  for pid in $(pgrep -f -- "^$bin serve" || true); do
    kill "$pid" 2>/dev/null || true
  done
}
trap 'stop_leftovers; rm -rf "$bindir"' EXIT

cd "$repo"
mapfile -t files < <(cd "$IRCTEST" && find irctest/server_tests -name '*.py' ! -name '__init__.py' | sort)
for f in "${files[@]}"; do
  name=${f#irctest/server_tests/}
  name=${name%.py}
  xml="$out/${name//\//__}.xml"
  log="$out/${name//\//__}.log"
  echo "== $name" >&2
  rc=0
  timeout "$per_file_timeout" "$kit/run.sh" -q "$f" --junitxml="$xml" >"$log" 2>&1 || rc=$?
  # pytest exits 5 when the markers deselect every test of a file: nothing ran, nothing failed.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 5 ]; then
    echo "   run.sh exited $rc (see $log)" >&2
  fi
  stop_leftovers
done

/usr/bin/python3 - "$out" "${files[@]}" <<'PY' | tee "$out/summary.md"
import collections, os, re, sys, xml.etree.ElementTree as ET
out, files = sys.argv[1], sys.argv[2:]
rows, reasons = [], collections.Counter()
tot = collections.Counter()
for f in files:
    name = f[len("irctest/server_tests/"):-3]
    path = os.path.join(out, name.replace("/", "__") + ".xml")
    c = collections.Counter()
    if not os.path.exists(path):
        rows.append((name, "no result (run.sh failed before pytest wrote its report)", c))
        tot["broken"] += 1
        continue
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        if "failure" in kinds or "error" in kinds:
            c["failed"] += 1
        elif "skipped" in kinds:
            sk = next(ch for ch in case if ch.tag == "skipped")
            if sk.get("type") == "pytest.xfail":
                c["xfailed"] += 1
                continue
            c["skipped"] += 1
            msg = (sk.get("message") or sk.get("type") or "").strip().splitlines()
            msg = msg[0] if msg else "(no reason given)"
            reasons[(name, msg[:160])] += 1
        else:
            c["passed"] += 1
    # JUnit has no mark for an unexpected pass of an xfail test; pytest's summary line does.
    log = path[:-4] + ".log"
    if os.path.exists(log):
        m = re.search(r"(\d+) xpassed", open(log, errors="replace").read())
        if m:
            c["xpassed"] = int(m.group(1))
            c["passed"] -= c["xpassed"]
    tot.update(c)
    rows.append((name, "", c))
print(f"# irctest, whole suite file by file: {tot['passed']} passed (+{tot['xpassed']} xpassed), {tot['failed']} failed, {tot['skipped']} skipped (+{tot['xfailed']} xfailed)"
      + (f", {tot['broken']} file(s) without result" if tot["broken"] else ""))
print()
print("| file | passed | xpassed | failed | skipped | xfailed |")
print("|---|---:|---:|---:|---:|---:|")
for name, note, c in rows:
    if note:
        print(f"| {name} | {note} | | | | |")
    elif sum(c.values()):
        print(f"| {name} | {c['passed']} | {c['xpassed']} | {c['failed']} | {c['skipped']} | {c['xfailed']} |")
print(f"| **total** | **{tot['passed']}** | **{tot['xpassed']}** | **{tot['failed']}** | **{tot['skipped']}** | **{tot['xfailed']}** |")
print()
print("Files whose tests the kit's markers deselect entirely: "
      + (", ".join(n for n, note, c in rows if not note and not sum(c.values())) or "none"))
print()
print("## Skipped, with the reason pytest gives")
print()
print("| file | skipped | reason |")
print("|---|---:|---|")
for (name, msg), n in sorted(reasons.items()):
    print(f"| {name} | {n} | {msg.replace('|', '/')} |")
PY
echo "irctest-all: JUnit files and logs in $out" >&2
