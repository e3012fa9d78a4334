#!/bin/bash
# test-jetsnapd.sh — jetsnapd as it runs: real processes, real files, real signals, a private bus.
#   test-jetsnapd.sh JETSNAPD WRITER_SO TESTDB LIBJET_SO
# JETSNAPD and WRITER_SO are the built daemon and plugin, TESTDB the helper that creates databases
# and reads their header state (tests/plugin/testdb.c), LIBJET_SO a shared library that is not a
# plugin. Every wait is bounded; the EXIT trap kills what is left and stops the bus.
#
# What it holds jetsnapd to: --help, --version and usage errors (exit 0, 0, 2); a bad config exits 1
# with FILE:LINE, with and without --check-config; --check-config starts nothing (the databases stay
# shut down, the plugin is not even loaded); the daemon starts the instances (databases attached),
# logs only "<N>jetsnapd: " lines, idles without spinning, and on SIGTERM or SIGINT exits 0 with
# every database shut down clean (so a second start on the same files works); SIGTERM while a
# D-Bus client holds a freeze thaws it first, and the client hears AutoThawed(session, "shutdown");
# a partial start serves what runs; a plugin that cannot be loaded or opened exits 3 and says why.
set -uo pipefail

# Absolute: meson passes paths relative to the build directory, and dlopen searches the library
# path for a name without a '/'.
JETSNAPD=$(realpath -- "$1")
WRITER_SO=$(realpath -- "$2")
TESTDB=$(realpath -- "$3")
LIBJET_SO=$(realpath -- "$4")
# shellcheck source-path=SCRIPTDIR source=testbus.sh
source "$(dirname "$0")/testbus.sh"

DIR=$(mktemp -d /tmp/test-jetsnapd.XXXXXX)
DPID=
CPID=
cleanup() {
  local p
  for p in "$DPID" "$CPID"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
  done
  testbus_stop
  if [ "${PASSED:-0}" = 1 ]; then rm -rf "$DIR"; else echo "test-jetsnapd: files kept in $DIR" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$DIR"/*.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# run EXPECTED_RC OUT ERR CMD...: run a command that must end by itself, with a bound.
run() {
  local want=$1 out=$2 err=$3 rc
  shift 3
  timeout 30 "$@" >"$out" 2>"$err"
  rc=$?
  [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want (stderr: $(head -c 2000 "$err"))"
}

# Databases: instance a with two, b with one; made by the application's side, as the writer never
# creates one.
for inst in a b; do mkdir -p "$DIR/$inst"; done
"$TESTDB" create "$DIR/a" a "$DIR/a/a1.edb" "$DIR/a/a2.edb" || fail "testdb create a"
"$TESTDB" create "$DIR/b" b "$DIR/b/b.edb" || fail "testdb create b"
DBS=("$DIR/a/a1.edb" "$DIR/a/a2.edb" "$DIR/b/b.edb")

CONF=$DIR/jetsnapd.conf
cat >"$CONF" <<EOF
[writer]
bus = session
freeze_timeout_ms = 10000
quiesce_timeout_ms = 5000

[instance a]
system_path = $DIR/a
log_path = $DIR/a
database = $DIR/a/a1.edb
database = $DIR/a/a2.edb
log_file_size_kb = 64

[instance b]
system_path = $DIR/b
log_path = $DIR/b
database = $DIR/b/b.edb
log_file_size_kb = 64
EOF

# expect_states STATE: every database's header says STATE (clean, dirty, just-created).
expect_states() {
  local want=$1 line
  "$TESTDB" state "${DBS[@]}" >"$DIR/state.out" 2>&1 || fail "testdb state: $(cat "$DIR/state.out")"
  while read -r line; do
    [ "${line##* }" = "$want" ] || fail "database state: '$line', expected $want"
  done <"$DIR/state.out"
  [ "$(wc -l <"$DIR/state.out")" = "${#DBS[@]}" ] || fail "testdb state printed $(cat "$DIR/state.out")"
}

# start_daemon LOG ARGS...: jetsnapd in the background, its stderr in LOG.
start_daemon() {
  local log=$1
  shift
  "$JETSNAPD" "$@" 2>"$log" &
  DPID=$!
}

# wait_line PID FILE REGEX: until FILE has a line matching REGEX (10 s at most, and not past the
# death of PID, the process that writes it).
wait_line() {
  local pid=$1 file=$2 re=$3 i
  for ((i = 0; i < 100; i++)); do
    grep -Eqs -- "$re" "$file" && return 0
    kill -0 "$pid" 2>/dev/null || { grep -Eqs -- "$re" "$file" && return 0; fail "process $pid ended before writing /$re/ to $file"; }
    sleep 0.1
  done
  fail "no line /$re/ in $file after 10 s"
}
wait_log() { wait_line "$DPID" "$@"; }

# stop_daemon SIGNAL LOG: send it, expect exit 0 within 10 s.
stop_daemon() {
  local sig=$1 log=$2 i rc
  kill "-$sig" "$DPID" || fail "kill -$sig $DPID"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$DPID" 2>/dev/null && fail "jetsnapd still running 10 s after SIG$sig"
  wait "$DPID"
  rc=$?
  DPID=
  [ "$rc" = 0 ] || fail "jetsnapd exited $rc after SIG$sig, expected 0"
}

# every_line_prefixed LOG: the journal reads the priority from "<N>" (sd-daemon(3)).
every_line_prefixed() {
  local bad
  bad=$(grep -Evn '^<[0-7]>jetsnapd: ' "$1")
  [ -z "$bad" ] || fail "lines without a <N>jetsnapd: prefix in $1: $bad"
  [ -s "$1" ] || fail "$1 is empty"
}

# cpu_ticks PID: user + system time of a process, in clock ticks (/proc/PID/stat fields 14, 15).
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || fail "no /proc/$1/stat"
  stat=${stat##*) } # past "PID (COMM) ": COMM may hold blanks
  # shellcheck disable=SC2086 # split into the fields on purpose
  set -- $stat
  echo $((${12} + ${13}))
}

# ---- the command line ----
run 0 "$DIR/help.out" "$DIR/help.err" "$JETSNAPD" --help
grep -q -- '--check-config' "$DIR/help.out" || fail "--help does not describe the options"
grep -q 'Exit status' "$DIR/help.out" || fail "--help does not describe the exit codes"
run 0 "$DIR/version.out" "$DIR/version.err" "$JETSNAPD" --version
grep -Eq '^jetsnapd [0-9]' "$DIR/version.out" || fail "--version printed: $(cat "$DIR/version.out")"
ok "--help and --version exit 0"

run 2 "$DIR/usage.out" "$DIR/usage.err" "$JETSNAPD"
grep -q -- '--config FILE is required' "$DIR/usage.err" || fail "no config: $(cat "$DIR/usage.err")"
run 2 "$DIR/usage.out" "$DIR/usage.err" "$JETSNAPD" --config "$CONF" --session --address unix:path=/x
grep -q 'exclude each other' "$DIR/usage.err" || fail "two buses: $(cat "$DIR/usage.err")"
run 2 "$DIR/usage.out" "$DIR/usage.err" "$JETSNAPD" --config "$CONF" --no-such-option
ok "usage errors exit 2 and say what is wrong"

# ---- configurations ----
BAD=$DIR/bad.conf
printf '[writer]\nbus = session\ncolour = blue\n[instance x]\nsystem_path = relative\n' >"$BAD"
run 1 "$DIR/bad.out" "$DIR/bad.err" "$JETSNAPD" --config "$BAD" --check-config
grep -qx "$BAD:3: unknown key 'colour' in \[writer\]" "$DIR/bad.err" || fail "bad config: $(cat "$DIR/bad.err")"
grep -q "^$BAD:5: " "$DIR/bad.err" || fail "only the first error printed: $(cat "$DIR/bad.err")"
[ -s "$DIR/bad.out" ] && fail "--check-config of a bad file printed on stdout: $(cat "$DIR/bad.out")"
ok "--check-config of a bad file exits 1 with every FILE:LINE: problem"

run 1 "$DIR/badrun.out" "$DIR/badrun.log" "$JETSNAPD" --config "$BAD" --plugin "$WRITER_SO" --address "unix:path=$DIR/none"
grep -q "^<3>jetsnapd: $BAD:3: unknown key 'colour'" "$DIR/badrun.log" || fail "bad config at start: $(cat "$DIR/badrun.log")"
grep -q "^<3>jetsnapd: $BAD:5: " "$DIR/badrun.log" || fail "bad config at start: $(cat "$DIR/badrun.log")"
every_line_prefixed "$DIR/badrun.log"
ok "starting on a bad file exits 1 with every FILE:LINE logged"

run 1 "$DIR/missing.out" "$DIR/missing.err" "$JETSNAPD" --config "$DIR/no-such.conf" --check-config
grep -q "^$DIR/no-such.conf: " "$DIR/missing.err" || fail "missing config: $(cat "$DIR/missing.err")"
ok "--check-config of a missing file exits 1"

expect_states clean
# With a plugin that does not exist: --check-config must not even load it.
run 0 "$DIR/check.out" "$DIR/check.err" "$JETSNAPD" --config "$CONF" --check-config --plugin "$DIR/no-such.so"
grep -qx "$CONF: OK: 2 instances, 3 databases, bus session, bus name org.jetsnap.Writer1" "$DIR/check.out" ||
  fail "--check-config of a good file printed: $(cat "$DIR/check.out" "$DIR/check.err")"
expect_states clean
touched=$(find "$DIR/a" "$DIR/b" -newer "$CONF")
[ -z "$touched" ] || fail "--check-config touched the instances' files: $touched"
ok "--check-config of a good file exits 0, loads no plugin and starts nothing"

# ---- plugins that cannot be used ----
run 3 "$DIR/noplugin.out" "$DIR/noplugin.log" "$JETSNAPD" --config "$CONF" --plugin "$DIR/no-such.so"
grep -q "^<3>jetsnapd: cannot load the writer plugin: $DIR/no-such.so: .*No such file" "$DIR/noplugin.log" ||
  fail "missing plugin: $(cat "$DIR/noplugin.log")"
JETSNAP_PLUGIN=$DIR/env.so run 3 "$DIR/envplugin.out" "$DIR/envplugin.log" "$JETSNAPD" --config "$CONF"
grep -q "cannot load the writer plugin: $DIR/env.so" "$DIR/envplugin.log" ||
  fail "JETSNAP_PLUGIN not used: $(cat "$DIR/envplugin.log")"
JETSNAP_PLUGIN=$DIR/env.so run 3 "$DIR/optplugin.out" "$DIR/optplugin.log" "$JETSNAPD" --config "$CONF" --plugin "$DIR/opt.so"
grep -q "cannot load the writer plugin: $DIR/opt.so" "$DIR/optplugin.log" ||
  fail "--plugin does not win over JETSNAP_PLUGIN: $(cat "$DIR/optplugin.log")"
run 3 "$DIR/notplugin.out" "$DIR/notplugin.log" "$JETSNAPD" --config "$CONF" --plugin "$LIBJET_SO"
grep -q "^<3>jetsnapd: cannot use the writer plugin $LIBJET_SO: it does not export jetsnap_plugin_v1" "$DIR/notplugin.log" ||
  fail "a library that is not a plugin: $(cat "$DIR/notplugin.log")"
expect_states clean
ok "a plugin that cannot be loaded exits 3 and says why (--plugin, then JETSNAP_PLUGIN)"

testbus_start "$DIR" || fail "no private bus"

# ---- serve, SIGTERM ----
start_daemon "$DIR/run1.log" --config "$CONF" --plugin "$WRITER_SO" --address "$TESTBUS_ADDRESS"
wait_log "$DIR/run1.log" '^<6>jetsnapd: ready: 2 of 2 instances running \(a, b\)$'
grep -q '^<6>jetsnapd: instance a: .*(event 1001)$' "$DIR/run1.log" || fail "no 'started' line for a"
grep -q '^<6>jetsnapd: instance b: .*(event 1001)$' "$DIR/run1.log" || fail "no 'started' line for b"
expect_states dirty # attached: the same check is what tells a clean shutdown below
t0=$(cpu_ticks "$DPID")
sleep 1
t1=$(cpu_ticks "$DPID")
[ $((t1 - t0)) -le 20 ] || fail "jetsnapd used $((t1 - t0)) ticks of CPU in 1 s of idling"
stop_daemon TERM "$DIR/run1.log"
grep -q '^<6>jetsnapd: SIGTERM received' "$DIR/run1.log" || fail "no SIGTERM line"
grep -q '^<6>jetsnapd: instance a: .*stopped (event 1003)$' "$DIR/run1.log" || fail "a not stopped cleanly"
grep -q '^<6>jetsnapd: instance b: .*stopped (event 1003)$' "$DIR/run1.log" || fail "b not stopped cleanly"
tail -n 1 "$DIR/run1.log" | grep -qx '<6>jetsnapd: stopped' || fail "last line: $(tail -n 1 "$DIR/run1.log")"
every_line_prefixed "$DIR/run1.log"
expect_states clean
ok "served until SIGTERM, exited 0, every database shut down clean, every line <N>-prefixed"

# ---- again on the same files (plugin from JETSNAP_PLUGIN), SIGINT ----
JETSNAP_PLUGIN=$WRITER_SO start_daemon "$DIR/run2.log" --config "$CONF" --address "$TESTBUS_ADDRESS"
wait_log "$DIR/run2.log" '^<6>jetsnapd: ready: 2 of 2 instances running \(a, b\)$'
expect_states dirty
stop_daemon INT "$DIR/run2.log"
grep -q '^<6>jetsnapd: SIGINT received' "$DIR/run2.log" || fail "no SIGINT line"
grep -c 'stopped (event 1003)$' "$DIR/run2.log" | grep -qx 2 || fail "not both instances stopped"
every_line_prefixed "$DIR/run2.log"
expect_states clean
ok "started again on the same files, exited 0 on SIGINT, databases clean"

# ---- SIGTERM while frozen: the owner hears AutoThawed(session, "shutdown"), the files are clean ----
# A real coordinator: the system python with dbus-python (not a python3 of PATH that may lack it).
start_daemon "$DIR/run4.log" --config "$CONF" --plugin "$WRITER_SO" --address "$TESTBUS_ADDRESS"
wait_log "$DIR/run4.log" '^<6>jetsnapd: ready: 2 of 2 instances running'
timeout 60 /usr/bin/python3 "$(dirname "$0")/freeze-client.py" "$TESTBUS_ADDRESS" org.jetsnap.Writer1 20 \
  >"$DIR/client.out" 2>"$DIR/client.log" &
CPID=$!
wait_line "$CPID" "$DIR/client.out" '^FROZEN '
session=$(sed -n 's/^FROZEN //p' "$DIR/client.out")
[[ $session == /org/jetsnap/Writer1/session/* ]] || fail "PrepareForBackup gave '$session'"
[ "$(grep -c '^RESULT [ab] frozen -$' "$DIR/client.out")" = 2 ] || fail "Freeze results: $(cat "$DIR/client.out")"
stop_daemon TERM "$DIR/run4.log"
for ((i = 0; i < 100; i++)); do
  kill -0 "$CPID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$CPID" 2>/dev/null && fail "the client got no AutoThawed 10 s after jetsnapd ended: $(cat "$DIR/client.out")"
wait "$CPID"
rc=$?
CPID=
[ "$rc" = 0 ] || fail "the client exited $rc: $(cat "$DIR/client.out" "$DIR/client.log")"
grep -qx "AUTOTHAWED $session shutdown" "$DIR/client.out" || fail "AutoThawed: $(cat "$DIR/client.out")"
[ "$(grep -c '^RESULT [ab] running -$' "$DIR/client.out")" = 2 ] ||
  fail "AutoThawed results: $(cat "$DIR/client.out")"
grep -q '(event 1105)$' "$DIR/run4.log" || fail "no auto-thawed line in the log"
every_line_prefixed "$DIR/run4.log"
expect_states clean
start_daemon "$DIR/run5.log" --config "$CONF" --plugin "$WRITER_SO" --address "$TESTBUS_ADDRESS"
wait_log "$DIR/run5.log" '^<6>jetsnapd: ready: 2 of 2 instances running'
stop_daemon TERM "$DIR/run5.log"
expect_states clean
ok "SIGTERM while frozen: AutoThawed(session, \"shutdown\") reached the owner, exit 0, files clean, restart works"

# ---- a partial start serves what runs; nothing to start exits 3 ----
PART=$DIR/partial.conf
sed "s|^database = $DIR/b/b.edb\$|database = $DIR/b/missing.edb|" "$CONF" >"$PART"
grep -q missing.edb "$PART" || fail "sed did not make $PART"
start_daemon "$DIR/run3.log" --config "$PART" --plugin "$WRITER_SO" --address "$TESTBUS_ADDRESS"
wait_log "$DIR/run3.log" '^<4>jetsnapd: ready: 1 of 2 instances running \(a\)$'
grep -q '^<3>jetsnapd: instance b: .*missing.edb.*(event 1002)$' "$DIR/run3.log" || fail "b's failure not logged"
stop_daemon TERM "$DIR/run3.log"
[ -e "$DIR/b/missing.edb" ] && fail "the writer created a missing database"
expect_states clean

NONE=$DIR/none.conf
printf '[writer]\nbus = session\n[instance c]\nsystem_path = %s/c\nlog_path = %s/c\ndatabase = %s/c/c.edb\n' \
  "$DIR" "$DIR" "$DIR" >"$NONE"
mkdir -p "$DIR/c"
run 3 "$DIR/none.out" "$DIR/none.log" "$JETSNAPD" --config "$NONE" --plugin "$WRITER_SO" --address "$TESTBUS_ADDRESS"
grep -q "^<3>jetsnapd: cannot open the writer with $NONE: .*no instance could be started" "$DIR/none.log" ||
  fail "nothing started: $(cat "$DIR/none.log")"
every_line_prefixed "$DIR/none.log"
ok "a partial start serves the instances that run (warning); none at all exits 3 with the reason"

PASSED=1
echo "test-jetsnapd: all passed"
