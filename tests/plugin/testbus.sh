# testbus.sh — sourced by the plugin's shell tests: a private dbus-daemon of the test's own, which
# any uid may connect to (the AccessDenied tests run a client as "nobody" with setpriv).
#   testbus_start DIR   start it; sets TESTBUS_ADDRESS and TESTBUS_PID; the socket lives in DIR
#   testbus_stop        kill it (safe to call twice; call it from the test's EXIT trap)
#   ctl RC NAME ARGS... jetsnapctl ($CTL) on that bus, bounded by $CTL_TIMEOUT seconds (default
#                       60); stdout in $DIR/NAME.out, stderr in $DIR/NAME.err; the test's fail()
#                       unless it exits RC
#   pyjson EXPR FILE    a python expression over the JSON in FILE (d), printed

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
