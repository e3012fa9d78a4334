#!/bin/bash
# test-jetsnapctl.sh — jetsnapctl against the real writer: jetsnap-demo-app hosts three instances
# through jetsnap-writer.so on a private bus and commits a steady load, recording each
# acknowledged commit; jetsnapctl coordinates snapshots of it as a backup script would.
#   test-jetsnapctl.sh JETSNAPCTL DEMO_APP WRITER_POLICY HOLDER_POLICY
# (the policies: plugin/org.jetsnap.Writer1.conf and plugin/ctl/org.jetsnap.Writer1.Holder.conf).
# Every wait is bounded; the EXIT trap kills what is left (by pid) and stops the bus.
#
# What it holds jetsnapctl to (docs/jetsnapctl.md): --help and usage errors (0, 2); an unreachable
# writer exits 3; status and status --json (valid JSON, same facts); snapshot -- cp copies a set
# that was frozen while copying (the copy recovers with every commit acknowledged before it) and
# completes; a failing COMMAND aborts (5); an unknown instance is refused with its name (4) and
# nothing stays frozen; SIGTERM during COMMAND thaws, aborts and ends COMMAND (143); freeze leaves
# a detached holder (no descriptor of the caller's, cwd /, its own session) and prints the
# session; a copy taken between freeze and thaw is consistent too; thaw completes (0), a second
# thaw is harmless (8), also when told the session; a freeze that cannot print its result leaves
# nothing frozen (1); killing the holder thaws within a second and
# thaw then says to discard (6); another coordinator's freeze is not a holder's (9) and is left
# alone; with a short freeze time-out, snapshot and the two-phase thaw both say discard (6) and
# the holder leaves by itself. On a bus run with Debian's deny-by-default system.conf and the
# installed policies: thaw cannot reach the holder without the holder's policy (1, and says so),
# can with it (0), and a caller of another uid is refused by the holder itself (1).
set -uo pipefail

CTL=$(realpath -- "$1")
APP=$(realpath -- "$2")
WRITER_POLICY=$(realpath -- "$3")
HOLDER_POLICY=$(realpath -- "$4")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testbus.sh
source "$HERE/testbus.sh"

DIR=$(mktemp -d /tmp/test-jetsnapctl.XXXXXX)
APID=      # the demo app
CPID=      # a foreign coordinator
SPID=      # a snapshot run in the background
HOLDERS=() # holder pids seen, killed at exit if still there
cleanup() {
  local p
  for p in "$APID" "$CPID" "$SPID" "${HOLDERS[@]}"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
  done
  if [ -s "$DIR/cmd.pid" ]; then kill -KILL "$(cat "$DIR/cmd.pid")" 2>/dev/null; fi
  testbus_stop
  if [ "${PASSED:-0}" = 1 ]; then rm -rf "$DIR"; else echo "test-jetsnapctl: files kept in $DIR" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$DIR"/*.err "$DIR"/app.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# json EXPR: evaluate a python expression over the last status --json (d); print its value.
json() { pyjson "$1" "$DIR/st.out"; }
# expect_json EXPR VALUE
expect_json() {
  local got
  ctl 0 st status --json
  got=$(json "$1")
  [ "$got" = "$2" ] || fail "status --json: $1 is '$got', expected '$2'"
}
# wait_json EXPR VALUE SECONDS: until status --json says so.
wait_json() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    ctl 0 st status --json
    [ "$(json "$1")" = "$2" ] && return 0
    sleep 0.05
  done
  fail "status --json: $1 is '$(json "$1")' after $3 s, expected '$2'"
}
stable() { expect_json "(d['state'], d['freeze_owner'], d['session'], sorted(set(i['state'] for i in d['instances'])))" \
  "('stable', '', None, ['running'])"; }

# nobody_thaw: jetsnapctl thaw as the user nobody. A build tree may sit in a private directory
# (a clone in mktemp -d's 0700 one), out of nobody's reach: run a copy of jetsnapctl and of the
# libjet it loads from this test's own directory, which testbus_start made reachable.
nobody_thaw() {
  if [ ! -x "$DIR/nobody/jetsnapctl" ]; then
    mkdir -p "$DIR/nobody" && cp "$CTL" "$DIR/nobody/" &&
      cp "$(ldd "$CTL" | awk '/libjet\.so/ {print $3}')" "$DIR/nobody/" && chmod -R a+rX "$DIR/nobody" ||
      fail "cannot copy jetsnapctl and libjet for the user nobody"
  fi
  LD_LIBRARY_PATH="$DIR/nobody" timeout 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$DIR/nobody/jetsnapctl" --address "$TESTBUS_ADDRESS" thaw >/dev/null 2>"$DIR/nobody.err"
}
# holder_pid: the pid of the freeze owner (the writer's FreezeOwner), as the bus knows it.
holder_pid() {
  local owner
  ctl 0 st status --json
  owner=$(json "d['freeze_owner']")
  [ -n "$owner" ] || fail "no freeze owner"
  timeout 10 dbus-send --bus="$TESTBUS_ADDRESS" --print-reply=literal --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetConnectionUnixProcessID "string:$owner" | awk '{print $2}'
}
# gone PID SECONDS: the process ended (a zombie waiting for init counts) within the time.
gone() {
  local i st
  for ((i = 0; i < $2 * 20; i++)); do
    st=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -z "$st" ] || [[ $st == Z* ]] && return 0
    sleep 0.05
  done
  return 1
}

# start_app FREEZE_MS: the writer's host, with three instances under load.
start_app() {
  cat >"$DIR/writer.conf" <<EOF
[writer]
freeze_timeout_ms = $1
quiesce_timeout_ms = 5000
allow_users = root
EOF
  local i
  for i in mail dir log; do
    printf '[instance %s]\nsystem_path = %s\nlog_path = %s\ndatabase = %s/db.edb\nlog_file_size_kb = 256\n' \
      "$i" "$DIR/data/$i" "$DIR/data/$i" "$DIR/data/$i" >>"$DIR/writer.conf"
  done
  testbus_app --config "$DIR/writer.conf" --address "$TESTBUS_ADDRESS" --create --load --acks "$DIR/acks"
}
stop_app() {
  kill -TERM "$APID"
  timeout 30 tail --pid="$APID" -f /dev/null || fail "the demo app did not stop in 30 s"
  wait "$APID"
  APID=
}

# verify_copy SNAP: the copy, put in the live data's place and recovered, holds every commit
# acknowledged before it was taken (the logs name the databases by absolute path).
verify_copy() {
  mv "$DIR/data" "$DIR/data.live" && mv "$1/data" "$DIR/data" || fail "cannot put $1 in place"
  timeout 60 "$APP" --verify --config "$DIR/writer.conf" --acks "$1/acks" >"$DIR/verify.out" 2>"$DIR/verify.err" ||
    fail "the copy $1 does not verify: $(cat "$DIR/verify.out" "$DIR/verify.err")"
  grep -Eq '^verified [1-9][0-9]* acknowledged commits in 3 instances$' "$DIR/verify.out" ||
    fail "verify: $(cat "$DIR/verify.out")"
  mv "$DIR/data" "$1/data" && mv "$DIR/data.live" "$DIR/data" || fail "cannot put the live data back"
}

# ---- the command line, without a writer ----
for c in status snapshot freeze thaw; do
  timeout 10 "$CTL" "$c" --help >"$DIR/help.out" 2>&1 || fail "$c --help exited $?"
  grep -q "^Usage: jetsnapctl $c" "$DIR/help.out" || fail "$c --help: $(cat "$DIR/help.out")"
  grep -q "Exit codes" "$DIR/help.out" || fail "$c --help does not give the exit codes"
done
timeout 10 "$CTL" --help >"$DIR/help.out" 2>&1 || fail "--help exited $?"
for a in "" "bogus" "snapshot" "snapshot --bogus -- true" "status extra" "--timeout 0 status" "thaw not-a-path"; do
  # shellcheck disable=SC2086 # split into words on purpose
  timeout 10 "$CTL" $a >/dev/null 2>"$DIR/usage.err"
  rc=$?
  [ "$rc" = 2 ] || fail "jetsnapctl $a exited $rc, expected 2"
  grep -q "Try 'jetsnapctl" "$DIR/usage.err" || fail "jetsnapctl $a: $(cat "$DIR/usage.err")"
done
timeout 10 "$CTL" --address "unix:path=$DIR/none" snapshot --instance $'\xff' -- true 2>"$DIR/usage.err"
[ $? = 2 ] || fail "an instance name that is not UTF-8 is not a usage error"
ok "--help of every command exits 0 with the exit codes; usage errors exit 2"

timeout 10 "$CTL" --address "unix:path=$DIR/none" status >/dev/null 2>"$DIR/nobus.err"
[ $? = 3 ] || fail "status without a bus did not exit 3: $(cat "$DIR/nobus.err")"
testbus_start "$DIR" || fail "no private bus"
ctl 3 nowriter status
grep -q 'no writer runs as org.jetsnap.Writer1' "$DIR/nowriter.err" || fail "no writer: $(cat "$DIR/nowriter.err")"
ctl 3 nowriter freeze
grep -q 'no writer runs as org.jetsnap.Writer1' "$DIR/nowriter.err" || fail "freeze, no writer: $(cat "$DIR/nowriter.err")"
ok "no bus, or no writer on the bus: exit 3 and say so"

start_app 20000

# ---- status ----
ctl 0 text status
grep -qx 'writer org.jetsnap.Writer1: stable' "$DIR/text.out" || fail "status: $(cat "$DIR/text.out")"
grep -qx '  session: none' "$DIR/text.out" || fail "status: $(cat "$DIR/text.out")"
for i in mail dir log; do
  grep -Eq "^  $i +running +- *\$" "$DIR/text.out" || fail "status, instance $i: $(cat "$DIR/text.out")"
done
stable
expect_json "[i['id'] for i in d['instances']]" "['mail', 'dir', 'log']"
expect_json "(d['freeze_timeout_msec'], d['quiesce_timeout_msec'], d['interface_version'])" "(20000, 5000, 1)"
expect_json "sorted(d['supported_backup_types'])" "['copy', 'differential', 'full', 'incremental']"
ok "status and status --json: the writer stable, three instances running"

# ---- snapshot: a consistent copy ----
mkdir -p "$DIR/snap1"
ctl 0 snap snapshot -- sh -c "\"$CTL\" --address \"$TESTBUS_ADDRESS\" status --json >\"$DIR/during.json\" &&
  cp \"$DIR/acks\" \"$DIR/snap1/acks\" && cp -a \"$DIR/data\" \"$DIR/snap1/data\" && echo copied"
grep -qx copied "$DIR/snap.out" || fail "COMMAND's stdout was not passed through: $(cat "$DIR/snap.out")"
grep -Eq '^jetsnapctl: snapshot completed: 3 instances \(mail, dir, log\) frozen for [0-9]+\.[0-9] ms, type copy, session /org/jetsnap/Writer1/session/[0-9]+$' \
  "$DIR/snap.err" || fail "snapshot summary: $(cat "$DIR/snap.err")"
cp "$DIR/during.json" "$DIR/st.out"
[ "$(json "(d['state'], d['session']['state'], d['session']['backup_type'], [i['state'] for i in d['instances']])")" = \
  "('frozen', 'frozen', 'copy', ['frozen', 'frozen', 'frozen'])" ] || fail "not frozen during COMMAND: $(cat "$DIR/during.json")"
stable
ok "snapshot -- cp: frozen while copying, completed, summary line"

# ---- snapshot: COMMAND fails, unknown instance ----
ctl 5 fails snapshot --type full --instance dir -- sh -c 'echo failing >&2; exit 3'
grep -qx failing "$DIR/fails.err" || fail "COMMAND's stderr was not passed through"
grep -q '^jetsnapctl: snapshot aborted, COMMAND exited with status 3: 1 instance (dir)' "$DIR/fails.err" ||
  fail "failed COMMAND: $(cat "$DIR/fails.err")"
stable
ctl 5 notfound snapshot -- "$DIR/no-such-command"
grep -q 'cannot run .*no-such-command' "$DIR/notfound.err" || fail "missing COMMAND: $(cat "$DIR/notfound.err")"
stable
ctl 4 unknown snapshot --instance mail --instance nope -- true
grep -q "PrepareForBackup: UnknownInstance: .*nope" "$DIR/unknown.err" || fail "unknown instance: $(cat "$DIR/unknown.err")"
ctl 4 unknown freeze --instance nope
grep -q "PrepareForBackup: UnknownInstance: .*nope" "$DIR/unknown.err" || fail "freeze, unknown instance: $(cat "$DIR/unknown.err")"
[ -s "$DIR/unknown.out" ] && fail "freeze of an unknown instance printed $(cat "$DIR/unknown.out")"
ctl 4 badtype snapshot --type log -- true
grep -q "NotSupported" "$DIR/badtype.err" || fail "type log: $(cat "$DIR/badtype.err")"
stable
ok "a failing or missing COMMAND aborts (5); an unknown instance or type is refused by name (4), nothing frozen"

# ---- snapshot: SIGTERM during COMMAND ----
rm -f "$DIR/cmd.pid"
timeout 60 "$CTL" --address "$TESTBUS_ADDRESS" snapshot -- sh -c "echo \$\$ >\"$DIR/cmd.pid\"; exec sleep 30" \
  >"$DIR/term.out" 2>"$DIR/term.err" &
SPID=$!
wait_json "d['state']" frozen 10
for ((i = 0; i < 100; i++)); do [ -s "$DIR/cmd.pid" ] && break; sleep 0.05; done
kill -TERM "$SPID"
wait "$SPID"
rc=$?
SPID=
[ "$rc" = 143 ] || fail "snapshot exited $rc after SIGTERM, expected 143: $(cat "$DIR/term.err")"
grep -q 'interrupted by Terminated: thawed and aborted' "$DIR/term.err" || fail "SIGTERM: $(cat "$DIR/term.err")"
gone "$(cat "$DIR/cmd.pid")" 5 || fail "COMMAND still runs after snapshot was interrupted"
stable
ok "SIGTERM during COMMAND: thawed, aborted, COMMAND ended, exit 143"

# ---- freeze / thaw ----
ctl 0 freeze freeze
session=$(cat "$DIR/freeze.out")
[[ $session =~ ^/org/jetsnap/Writer1/session/[0-9]+$ ]] || fail "freeze printed '$session'"
[ -s "$DIR/freeze.err" ] && fail "freeze said: $(cat "$DIR/freeze.err")"
expect_json "(d['state'], d['session']['path'], d['session']['state'], [i['state'] for i in d['instances']])" \
  "('frozen', '$session', 'frozen', ['frozen', 'frozen', 'frozen'])"
hp=$(holder_pid)
HOLDERS+=("$hp")
[ "$(readlink "/proc/$hp/cwd")" = / ] || fail "the holder's cwd is $(readlink "/proc/$hp/cwd")"
for fd in 0 1 2; do
  [ "$(readlink "/proc/$hp/fd/$fd")" = /dev/null ] || fail "the holder's fd $fd is $(readlink "/proc/$hp/fd/$fd")"
done
nfd=$(find "/proc/$hp/fd" -mindepth 1 | wc -l)
[ "$nfd" = 4 ] || fail "the holder has $nfd descriptors (stdio and its bus socket expected): $(ls -l "/proc/$hp/fd")"
[ "$(ps -o sid= -p "$hp" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ] || fail "the holder is in the caller's session"
mkdir -p "$DIR/snap2"
cp "$DIR/acks" "$DIR/snap2/acks" && cp -a "$DIR/data" "$DIR/snap2/data" || fail "copy while frozen"
ctl 0 thaw thaw
grep -Eq '^jetsnapctl: thawed 3 instances \(mail, dir, log\) after [0-9]+\.[0-9] ms; backup completed$' "$DIR/thaw.err" ||
  fail "thaw: $(cat "$DIR/thaw.err")"
gone "$hp" 5 || fail "the holder is still there after thaw"
stable
ctl 8 thaw2 thaw
grep -q 'nothing is frozen' "$DIR/thaw2.err" || fail "second thaw: $(cat "$DIR/thaw2.err")"
ctl 8 thaw3 thaw "$session"
grep -q "nothing is frozen: session $session is already completed" "$DIR/thaw3.err" || fail "thaw SESSION: $(cat "$DIR/thaw3.err")"
ok "freeze: a detached holder keeps the freeze; thaw completes (0); thawing again is harmless (8)"

ctl 0 freeze freeze
ctl 0 thaw thaw --abort
grep -q 'backup aborted$' "$DIR/thaw.err" || fail "thaw --abort: $(cat "$DIR/thaw.err")"
stable
ok "thaw --abort thaws and aborts"

# freeze whose caller cannot hear of the freeze (stdout unwritable): the holder must not keep it.
timeout 60 "$CTL" --address "$TESTBUS_ADDRESS" freeze >/dev/full 2>"$DIR/full.err"
rc=$?
[ "$rc" = 1 ] || fail "freeze >/dev/full exited $rc, expected 1: $(cat "$DIR/full.err")"
grep -q 'cannot print the session path' "$DIR/full.err" || fail "freeze >/dev/full: $(cat "$DIR/full.err")"
wait_json "(d['state'], d['freeze_owner'], sorted(set(i['state'] for i in d['instances'])))" "('stable', '', ['running'])" 2
ok "freeze that cannot print the session path exits 1 and leaves nothing frozen"

# ---- freeze, then the holder is killed ----
ctl 0 freeze freeze --type full --instance mail --instance log
session=$(cat "$DIR/freeze.out")
expect_json "[i['state'] for i in d['instances']]" "['frozen', 'running', 'frozen']"
hp=$(holder_pid)
HOLDERS+=("$hp")
kill -KILL "$hp"
# "failed": the writer's last session ended without its owner (docs/writer.md, "States reported").
wait_json "(d['state'], d['freeze_owner'], sorted(set(i['state'] for i in d['instances'])))" "('failed', '', ['running'])" 1
ctl 6 thawk thaw "$session"
grep -q "ended before this thaw (aborted): the freeze did not hold, discard the snapshot" "$DIR/thawk.err" ||
  fail "thaw after the holder was killed: $(cat "$DIR/thawk.err")"
ctl 8 thawk thaw
ok "kill -9 of the holder thaws within a second; thaw SESSION then says discard (6)"

# ---- another coordinator's freeze ----
# Bounded by its own time-out (30 s); not under timeout(1), so that CPID is the coordinator itself.
/usr/bin/python3 "$HERE/freeze-client.py" "$TESTBUS_ADDRESS" org.jetsnap.Writer1 30 >"$DIR/client.out" 2>"$DIR/client.err" &
CPID=$!
wait_json "d['state']" frozen 10
ctl 9 foreign thaw
grep -q 'is not a jetsnapctl holder' "$DIR/foreign.err" || fail "foreign freeze: $(cat "$DIR/foreign.err")"
expect_json "d['state']" frozen
ctl 4 busy snapshot -- true
grep -q 'PrepareForBackup: Busy' "$DIR/busy.err" || fail "busy: $(cat "$DIR/busy.err")"
kill -KILL "$CPID"
wait "$CPID" 2>/dev/null
CPID=
wait_json "(d['state'], sorted(set(i['state'] for i in d['instances'])))" "('failed', ['running'])" 2
ok "another coordinator's freeze: thaw says it is not a holder's (9) and leaves it; snapshot is Busy (4)"

# ---- the copies ----
stop_app
verify_copy "$DIR/snap1"
verify_copy "$DIR/snap2"
ok "both copies (snapshot --, and freeze/cp/thaw) recover with every acknowledged commit"

# ---- a freeze that outlives the writer's freeze time-out ----
start_app 2000
ctl 6 late snapshot -- sleep 3
grep -q 'Thaw: Timeout: ' "$DIR/late.err" || fail "late thaw: $(cat "$DIR/late.err")"
grep -q 'discard it' "$DIR/late.err" || fail "late thaw: $(cat "$DIR/late.err")"
wait_json "sorted(set(i['state'] for i in d['instances']))" "['running']" 1
ctl 0 freeze freeze
session=$(cat "$DIR/freeze.out")
hp=$(holder_pid)
HOLDERS+=("$hp")
gone "$hp" 5 || fail "the holder did not leave after the writer's freeze time-out"
ctl 6 latethaw thaw "$session"
grep -q "ended before this thaw (failed-at-freeze)" "$DIR/latethaw.err" || fail "late two-phase thaw: $(cat "$DIR/latethaw.err")"
ctl 8 latethaw thaw
grep -q "last session failed" "$DIR/latethaw.err" || fail "thaw after a failed session: $(cat "$DIR/latethaw.err")"
stop_app
ok "past the freeze time-out: snapshot and thaw SESSION say discard (6); the holder leaves by itself"

# ---- the installed policies on Debian's own system.conf ----
# system_bus_conf POLICY...: Debian's system.conf (deny by default) on a private socket, with the
# given policy files included; what only a real system bus needs (user, pidfile, service
# directories, includes) is left out.
system_bus_conf() {
  /usr/bin/python3 - "$DIR/sys/bus.conf" "unix:dir=$DIR/sys/bus" "$@" <<'PY' || fail "cannot write the system bus config"
import re, sys
out, listen, *policies = sys.argv[1:]
t = open("/usr/share/dbus-1/system.conf").read()
t = re.sub(r"<!--.*?-->", "", t, flags=re.S)
t = re.sub(r"\s*<(user|pidfile|servicehelper)>[^<]*</\1>", "", t)
t = re.sub(r"\s*<(fork|syslog|standard_system_servicedirs)/>", "", t)
t = re.sub(r"\s*<include(dir)?\b[^>]*>[^<]*</include(dir)?>", "", t)
t = re.sub(r"<listen>[^<]*</listen>", "<listen>%s</listen>" % listen, t)
assert '<deny send_type="method_call"/>' in t
t = t.replace("</busconfig>", "".join("<include>%s</include>\n" % p for p in policies) + "</busconfig>")
open(out, "w").write(t)
PY
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -r /usr/share/dbus-1/system.conf ]; then
  testbus_stop
  mkdir -p "$DIR/sys/bus" && chmod 755 "$DIR/sys" "$DIR/sys/bus"
  system_bus_conf "$WRITER_POLICY"
  out=$(dbus-daemon --config-file="$DIR/sys/bus.conf" --fork --nopidfile --print-address=1 --print-pid=1) ||
    fail "no system-like bus"
  TESTBUS_ADDRESS=$(printf '%s\n' "$out" | sed -n 1p)
  TESTBUS_PID=$(printf '%s\n' "$out" | sed -n 2p)
  start_app 20000
  ctl 0 sysfreeze freeze
  ctl 1 sysdenied thaw
  grep -q 'install org.jetsnap.Writer1.Holder.conf' "$DIR/sysdenied.err" || fail "thaw refused by the bus: $(cat "$DIR/sysdenied.err")"
  expect_json "d['state']" frozen
  # dbus-daemon rereads its configuration on SIGHUP; until it has, thaw is refused and harmless.
  system_bus_conf "$WRITER_POLICY" "$HOLDER_POLICY"
  kill -HUP "$TESTBUS_PID"
  nobody_thaw
  rc=$?
  for ((i = 0; i < 50 && rc == 1; i++)); do
    grep -q 'only uid 0 or root may thaw' "$DIR/nobody.err" && break
    sleep 0.1
    nobody_thaw
    rc=$?
  done
  [ "$rc" = 1 ] || fail "thaw by nobody exited $rc: $(cat "$DIR/nobody.err")"
  grep -q 'calling the holder: org.freedesktop.DBus.Error.AccessDenied: only uid 0 or root may thaw' "$DIR/nobody.err" ||
    fail "thaw by nobody: $(cat "$DIR/nobody.err")"
  expect_json "d['state']" frozen
  ctl 0 systhaw thaw
  stable
  stop_app
  ok "system.conf: thaw needs the holder's policy (1, says so); with it root thaws (0), nobody is refused by the holder (1)"
else
  # No skip counted as a pass: the policy is part of what is tested.
  fail "the system-bus policy check needs root, setpriv and /usr/share/dbus-1/system.conf (run as root)"
fi

PASSED=1
echo "test-jetsnapctl: all passed"
