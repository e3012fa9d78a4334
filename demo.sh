#!/usr/bin/env bash
# demo.sh — jetsnap's main job in one command: an application-consistent snapshot of databases
# that are being written to.
#
# It installs what is missing (scripts/deps.sh), builds, starts a private dbus-daemon and an
# example application (jetsnap-demo-app) that hosts 3 instances through the writer plugin and
# commits a steady write load, recording every commit the engine acknowledged. Under that load,
# `jetsnapctl snapshot` prepares, freezes the 3 instances together, runs `cp -a` of their files
# (and of the list of acknowledged commits) while they are frozen, thaws and completes. The copy
# is then recovered in a scratch directory and checked against the commits acknowledged before
# the freeze; a summary is printed; everything is removed.
#
#   ./demo.sh                  the demo (about 10 s of load)
#   ./demo.sh --short          a quick run (CI runs it: `meson test demo`)
#   ./demo.sh --build-dir DIR  use an existing build instead of installing and building
#   ./demo.sh --keep           leave the work directory for a look
set -euo pipefail
cd "$(dirname "$0")"

load_s=10
build=""
keep=0
for a in "$@"; do
  case "$a" in
    --short) load_s=1 ;;
    --keep) keep=1 ;;
    --build-dir=*) build=${a#--build-dir=} ;;
    *) echo "usage: $0 [--short] [--keep] [--build-dir=DIR]" >&2; exit 2 ;;
  esac
done

if [ -z "$build" ]; then
  ./scripts/deps.sh
  build=build
  [ -f "$build/build.ninja" ] || meson setup "$build" -Dwerror=true >/dev/null
  meson compile -C "$build" >/dev/null
fi
app=$build/examples/jetsnap-demo-app
ctl=$build/plugin/jetsnapctl
for f in "$app" "$ctl"; do
  [ -x "$f" ] || { echo "demo.sh: $f is missing: build first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/jetsnap-demo.XXXXXX)
app_pid=""
# shellcheck source=tests/plugin/testbus.sh
. tests/plugin/testbus.sh
cleanup() {
  if [ -n "$app_pid" ]; then
    kill -TERM "$app_pid" 2>/dev/null || true
    # a freeze always ends (thaw or the writer's time-out), so the host's stop is bounded
    timeout 30 tail --pid="$app_pid" -f /dev/null 2>/dev/null || kill -KILL "$app_pid" 2>/dev/null || true
  fi
  testbus_stop
  if [ "$keep" = 1 ]; then echo "demo.sh: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

testbus_start "$work"
me=$(id -un)
cat >"$work/demo.conf" <<EOF
; the demo's writer: 3 instances, each with one database, on a private bus
[writer]
freeze_timeout_ms = 10000
quiesce_timeout_ms = 5000
allow_users = $me

[instance mail]
display_name = Mail store
system_path = $work/data/mail
log_path = $work/data/mail/logs
database = $work/data/mail/mail.edb
log_file_size_kb = 1024

[instance calendar]
display_name = Calendar store
system_path = $work/data/calendar
log_path = $work/data/calendar/logs
database = $work/data/calendar/calendar.edb
log_file_size_kb = 1024

[instance directory]
display_name = Directory
system_path = $work/data/directory
log_path = $work/data/directory/logs
database = $work/data/directory/directory.edb
log_file_size_kb = 1024
EOF

echo "demo: starting a dbus-daemon and an application hosting 3 instances under a write load"
"$app" --config "$work/demo.conf" --address "$TESTBUS_ADDRESS" --create --load --acks "$work/acks" \
  >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
for _ in $(seq 1200); do  # up to 60 s: a slow disk can hold the first fsync
  grep -q '^ready$' "$work/app.out" 2>/dev/null && break
  kill -0 "$app_pid" 2>/dev/null || { cat "$work/app.err" >&2; exit 1; }
  sleep 0.05
done
grep -q '^ready$' "$work/app.out" || { echo "demo.sh: the application did not start" >&2; exit 1; }
sleep "$load_s"

echo "demo: jetsnapctl snapshot -- cp -a (the 3 instances frozen together while cp runs)"
mkdir "$work/snap"
before=$(wc -l <"$work/acks")
"$ctl" --address "$TESTBUS_ADDRESS" snapshot --type copy -- \
  sh -c "cp '$work/acks' '$work/snap/acks' && cp -a '$work/data' '$work/snap/data'" 2>&1 | tee "$work/ctl.out"
sleep "$(( load_s > 2 ? 2 : 1 ))"
after=$(wc -l <"$work/acks")
[ "$after" -gt "$before" ] || { echo "demo.sh: the writes did not go on after the snapshot" >&2; exit 1; }

echo "demo: stopping the application"
kill -TERM "$app_pid"
wait "$app_pid" || { echo "demo.sh: the application failed" >&2; cat "$work/app.err" >&2; exit 1; }
app_pid=""
total=$(wc -l <"$work/acks")

echo "demo: recovering the copy in a scratch directory and checking it"
verify=$("$app" --verify --config "$work/demo.conf" --acks "$work/snap/acks" --map "$work/data=$work/snap/data")
echo "$verify"

frozen=$(sed -n 's/.*frozen for \([0-9.]* ms\).*/\1/p' "$work/ctl.out" | head -n1)
checked=$(echo "$verify" | sed -n 's/^verified \([0-9]*\) .*/\1/p')
echo
echo "demo: summary"
echo "  instances frozen together     3 (mail, calendar, directory)"
echo "  freeze lasted                 ${frozen:-?}"
echo "  commits acknowledged in all   $total"
echo "  commits checked in the copy   $checked (every one acknowledged before the freeze)"
