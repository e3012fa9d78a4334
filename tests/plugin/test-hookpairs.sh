#!/bin/bash
# test-hookpairs.sh — the pre/post hook pairs of docs/hooks.md ("Velero and Veeam") run the way
# those tools run them: the pre hook as one process that must exit (Velero's exec hook under its
# 30 s time-out; Veeam's pre-freeze script), the snapshot in between, the post hook as another
# process, exit codes checked. jetsnap-demo-app hosts two instances under load on a private bus.
#   test-hookpairs.sh JETSNAPCTL DEMO_APP HOOKS_DIR
#
# What it holds the pair to: pre exits 0 with the set frozen and stays frozen after it exited;
# post exits 0 with the set thawed and the session completed; a post hook that never comes: the
# freeze ends by the hold time-out, the writers go on, and a late post exits 6 (discard); a post
# with no pre before it exits 0 and touches nothing; a pre that cannot reach the writer exits 3
# and freezes nothing.
set -uo pipefail

CTL=$(realpath -- "$1")
APP=$(realpath -- "$2")
HOOKS=$(realpath -- "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testbus.sh
source "$HERE/testbus.sh"

DIR=$(mktemp -d /tmp/test-hookpairs.XXXXXX)
APID=
cleanup() {
  # The holder a failed case may have left is killed by the writer's owner rule when its bus goes.
  if [ -n "$APID" ] && kill -0 "$APID" 2>/dev/null; then kill -KILL "$APID" 2>/dev/null; fi
  testbus_stop
  if [ "${PASSED:-0}" = 1 ]; then rm -rf "$DIR"; else echo "test-hookpairs: files kept in $DIR" >&2; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$DIR"/*.err "$DIR"/app.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# hook NAME EXPECTED_RC SCRIPT: run a hook script as its own process, bounded as Velero bounds an
# exec hook (30 s), with the pair's environment.
hook() {
  local name=$1 want=$2 rc
  shift 2
  JETSNAPCTL=$CTL JETSNAPCTL_OPTS="--address $TESTBUS_ADDRESS" JETSNAP_STATE="$DIR/hook.session" \
    timeout 30 "$@" >"$DIR/$name.out" 2>"$DIR/$name.err"
  rc=$?
  [ "$rc" = "$want" ] || fail "$name: $* exited $rc, expected $want: $(cat "$DIR/$name.err")"
}
state() { ctl 0 st status --json && pyjson "(d['state'], d['session']['state'] if d['session'] else None)" "$DIR/st.out"; }
acks() { wc -l <"$DIR/acks"; }

testbus_start "$DIR" || fail "no private dbus-daemon"
cat >"$DIR/writer.conf" <<CONF
[writer]
freeze_timeout_ms = 60000
allow_users = root
CONF
for i in mail dir; do
  printf '[instance %s]\nsystem_path = %s\nlog_path = %s\ndatabase = %s/db.edb\nlog_file_size_kb = 256\n' \
    "$i" "$DIR/data/$i" "$DIR/data/$i" "$DIR/data/$i" >>"$DIR/writer.conf"
done
testbus_app --config "$DIR/writer.conf" --address "$TESTBUS_ADDRESS" --create --load --acks "$DIR/acks" --writers 2

# ---- the pair, as Velero (exec hooks) and Veeam (pre-freeze / post-thaw scripts) run it ----
for tool in velero veeam; do
  hook "$tool-pre" 0 env JETSNAP_HOLD_MS=25000 "$HOOKS/jetsnap-pre-freeze"
  session=$(cat "$DIR/hook.session")
  [[ $session == /org/jetsnap/Writer1/session/* ]] || fail "$tool: the pre hook recorded '$session'"
  # The pre hook's process has exited; the holder keeps the set frozen while the "snapshot" runs.
  sleep 0.5
  [ "$(state)" = "('frozen', 'frozen')" ] || fail "$tool: after the pre hook exited: $(state)"
  a=$(acks)
  sleep 0.3
  [ "$(acks)" = "$a" ] || fail "$tool: commits were acknowledged while frozen"
  hook "$tool-post" 0 "$HOOKS/jetsnap-post-thaw"
  [ "$(state)" = "('stable', None)" ] || fail "$tool: after the post hook: $(state)"
  # thaw SESSION of a completed session says "nothing to thaw" (8); of an aborted one, discard (6).
  ctl 8 "$tool-again" thaw "$session"
  [ -e "$DIR/hook.session" ] && fail "$tool: the post hook left its state file"
done
ok "Velero- and Veeam-style pairs: pre exits 0 leaving the set frozen, post exits 0 with it thawed and completed"

# ---- the post hook never comes: the hold time-out ends the freeze ----
hook never-pre 0 env JETSNAP_HOLD_MS=1500 "$HOOKS/jetsnap-pre-freeze"
[ "$(state)" = "('frozen', 'frozen')" ] || fail "no post: not frozen after pre: $(state)"
for ((i = 0; i < 100; i++)); do
  [ "$(state)" = "('stable', None)" ] && break
  sleep 0.1
done
[ "$(state)" = "('stable', None)" ] || fail "no post: still $(state) 10 s after a 1.5 s hold"
a=$(acks)
sleep 0.5
[ "$(acks)" -gt "$a" ] || fail "no post: the writers do not commit after the hold time-out"
hook late-post 6 "$HOOKS/jetsnap-post-thaw"
ok "a post hook that never comes: the hold time-out thaws, the writers go on, a late post exits 6 (discard)"

# ---- a post hook with no pre before it; a pre that cannot reach the writer ----
hook lone-post 0 "$HOOKS/jetsnap-post-thaw"
grep -q "nothing to thaw" "$DIR/lone-post.err" || fail "lone post said: $(cat "$DIR/lone-post.err")"
JETSNAPCTL=$CTL JETSNAPCTL_OPTS="--address $TESTBUS_ADDRESS --bus-name org.example.NoWriter" \
  JETSNAP_STATE="$DIR/hook.session" timeout 30 "$HOOKS/jetsnap-pre-freeze" >/dev/null 2>"$DIR/nowriter.err"
rc=$?
[ "$rc" = 3 ] || fail "a pre hook without a writer exited $rc, expected 3: $(cat "$DIR/nowriter.err")"
[ -e "$DIR/hook.session" ] && fail "a failed pre hook recorded a session"
[ "$(state)" = "('stable', None)" ] || fail "after a failed pre hook: $(state)"
ok "a post without a pre exits 0 and does nothing; a pre that cannot reach the writer exits 3, nothing frozen"

kill -TERM "$APID"
timeout 30 tail --pid="$APID" -f /dev/null || fail "the demo app did not stop in 30 s"
wait "$APID" || fail "the demo app exited non-zero: $(tail -5 "$DIR/app.log")"
APID=
PASSED=1
echo "test-hookpairs: all passed"
