# testbus.sh — sourced by the plugin's shell tests: a private dbus-daemon of the test's own, which
# any uid may connect to (the AccessDenied tests run a client as "nobody" with setpriv).
#   testbus_start DIR   start it; sets TESTBUS_ADDRESS and TESTBUS_PID; the socket lives in DIR
#   testbus_stop        kill it (safe to call twice; call it from the test's EXIT trap)
#   ctl RC NAME ARGS... jetsnapctl ($CTL) on that bus, bounded by $CTL_TIMEOUT seconds (default
#                       60); stdout in $DIR/NAME.out, stderr in $DIR/NAME.err; the test's fail()
#                       unless it exits RC
#   pyjson EXPR FILE    a python expression over the JSON in FILE (d), printed
#   testbus_app ARGS... jetsnap-demo-app ($APP) with ARGS in the background, stdout in
#                       $DIR/app.out, stderr in $DIR/app.log; sets APID; fail()s unless it says
#                       "ready" within 60 s (a start is quick, but under ThreadSanitizer a host
#                       with thousands of log files once took longer than 10 s)
#   wait_acks N         until $DIR/acks has N more lines (the load is really committing), 20 s

testbus_start() {
  local dir=$1
  mkdir -p "$dir/bus"
  chmod 755 "$dir" "$dir/bus"
  sed "s|@LISTEN@|unix:dir=$dir/bus|" "$(dirname "${BASH_SOURCE[0]}")/testbus.conf.in" >"$dir/bus.conf"
  local out
  out=$(dbus-daemon --config-file="$dir/bus.conf" --fork --nopidfile --print-address=1 --print-pid=1) || {
    echo "testbus: dbus-daemon did not start" >&2
    return 1
  }
  TESTBUS_ADDRESS=$(printf '%s\n' "$out" | sed -n 1p)
  TESTBUS_PID=$(printf '%s\n' "$out" | sed -n 2p)
  export TESTBUS_ADDRESS TESTBUS_PID
}

testbus_stop() {
  if [ -n "${TESTBUS_PID:-}" ]; then
    kill "$TESTBUS_PID" 2>/dev/null || true
    TESTBUS_PID=
  fi
}

ctl() {
  local want=$1 name=$2 rc
  shift 2
  timeout "${CTL_TIMEOUT:-60}" "$CTL" --address "$TESTBUS_ADDRESS" "$@" >"$DIR/$name.out" 2>"$DIR/$name.err"
  rc=$?
  [ "$rc" = "$want" ] || fail "jetsnapctl $* exited $rc, expected $want (stderr: $(head -c 3000 "$DIR/$name.err"))"
}

pyjson() {
  /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$2" "$1" ||
    fail "$2 is not JSON or has no $1: $(head -c 2000 "$2")"
}

testbus_app() {
  "$APP" "$@" >"$DIR/app.out" 2>"$DIR/app.log" &
  APID=$!
  local i
  for ((i = 0; i < 1200; i++)); do
    grep -qx ready "$DIR/app.out" && return 0
    kill -0 "$APID" 2>/dev/null || fail "the demo app died: $(tail -5 "$DIR/app.log")"
    sleep 0.05
  done
  fail "the demo app is not ready after 60 s: $(tail -5 "$DIR/app.log")"
}

wait_acks() {
  local base i
  base=$(wc -l <"$DIR/acks")
  for ((i = 0; i < 400; i++)); do
    [ "$(wc -l <"$DIR/acks")" -ge $((base + $1)) ] && return 0
    sleep 0.05
  done
  fail "the load acknowledged fewer than $1 commits in 20 s"
}
