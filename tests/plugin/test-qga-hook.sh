#!/bin/bash
# test-qga-hook.sh — the qemu-ga fsfreeze hook (docs/hooks.md) under an unmodified qemu-ga, with a
# real FIFREEZE of a loop ext4 this test creates:
#   test-qga-hook.sh HOOK JETSNAPCTL DEMO_APP
# jetsnap-demo-app hosts two instances on the loop filesystem (two committing threads each) on a
# private bus; qemu-ga (unix-listen, every command but ping/sync/info/fsfreeze-status/freeze-list/
# thaw blocked, an empty config) runs the hook, which reaches the writer through the
# DBUS_SYSTEM_BUS_ADDRESS it inherits.
#
# What it holds the hook to: freeze-list of the mount freezes the writer, then the filesystem;
# while frozen the writer answers on the bus and no thread of its host is blocked on it (nothing of it
# writes to the frozen filesystem); a copy of the loop device taken while frozen, mounted elsewhere,
# recovers with every commit acknowledged before; thaw brings both back. A writer that refuses (an
# instance frozen by another owner) or cannot be reached makes the hook fail: qemu-ga's
# GenericError and nothing frozen. A freeze-list matching no mount runs the freeze hook and no thaw:
# the writer's freeze time-out ends it, and the next freeze starts clean. A thaw that comes after
# the writer's time-out: qemu-ga thaws the filesystem, the hook says discard (6), the writer is
# healthy again.
#
# SAFETY: only the loop filesystem made here is ever frozen, and always through freeze-list with
# its mount point (a plain freeze would freeze "/"). On every exit the EXIT trap thaws first
# (qemu-ga, then fsfreeze -u), then stops what it started by pid, unmounts, detaches and removes;
# a watchdog thaws the mount after 120 s whatever happens. Needs root and loop devices: without
# them it FAILS, saying so.
set -uo pipefail

HOOK=$(realpath -- "$1")
CTL=$(realpath -- "$2")
APP=$(realpath -- "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testbus.sh
source "$HERE/testbus.sh"

fail() {
  echo "FAIL: $*" >&2
  for f in "$DIR"/*.err "$DIR"/app.log "$DIR"/hook.log "$DIR"/qga.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

DIR=$(mktemp -d /tmp/test-qga-hook.XXXXXX)
MNT=$DIR/mnt
MNT2=$DIR/copy
SOCK=$DIR/qga.sock
LOOP='' LOOP2='' APID='' QPID='' WD=''
MOUNTED='' MOUNTED2=''
cleanup() {
  # Thaw first: anything else may write into the frozen filesystem and hang for good.
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    qga '{"execute":"guest-fsfreeze-thaw"}' >/dev/null 2>&1
  fi
  [ -n "$MOUNTED" ] && fsfreeze -u "$MNT" 2>/dev/null
  local p
  for p in "$APID" "$QPID"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  # A holder left behind ends with its bus connection.
  testbus_stop
  [ -n "$WD" ] && kill -- -"$WD" 2>/dev/null
  [ -n "$MOUNTED2" ] && umount "$MNT2"
  [ -n "$LOOP2" ] && losetup -d "$LOOP2"
  [ -n "$MOUNTED" ] && umount "$MNT"
  [ -n "$LOOP" ] && losetup -d "$LOOP"
  if [ "${PASSED:-0}" = 1 ]; then rm -rf "$DIR"; else
    rm -f "$DIR"/*.img
    echo "test-qga-hook: files kept in $DIR" >&2
  fi
}
trap cleanup EXIT

qga() { printf '%s\n' "$1" | timeout 60 socat -t 60 STDIO "UNIX-CONNECT:$SOCK"; }
freeze_list() { qga "{\"execute\":\"guest-fsfreeze-freeze-list\",\"arguments\":{\"mountpoints\":[\"$1\"]}}"; }
json() { pyjson "$1" "$DIR/st.out"; }
status_is() { # EXPR VALUE: jetsnapctl status --json says so
  ctl 0 st status --json
  [ "$(json "$1")" = "$2" ] || fail "status --json: $1 is '$(json "$1")', expected '$2'"
}
wait_status() { # EXPR VALUE SECONDS
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    ctl 0 st status --json
    [ "$(json "$1")" = "$2" ] && return 0
    sleep 0.05
  done
  fail "status --json: $1 is '$(json "$1")' after $3 s, expected '$2'"
}
qga_status_is() {
  local s
  s=$(qga '{"execute":"guest-fsfreeze-status"}')
  [ "$s" = "{\"return\": \"$1\"}" ] || fail "guest-fsfreeze-status: $s, expected $1"
}
# fs_frozen: FIFREEZE of a frozen filesystem fails with EBUSY. When it succeeds the filesystem was
# not frozen, and we thaw it again at once.
fs_frozen() {
  if fsfreeze -f "$MNT" 2>/dev/null; then
    fsfreeze -u "$MNT"
    return 1
  fi
  return 0
}
# no_d_state: no thread of the writer's host is blocked on a frozen filesystem. A thread that
# writes to one waits in the kernel (state D) in percpu_rwsem_wait, under sb_start_write or
# mnt_want_write; a D state elsewhere is ordinary I/O (gamma's fsyncs on the root filesystem).
no_d_state() {
  local t st
  for t in /proc/"$APID"/task/*; do
    st=$(awk '{print $3}' "$t/stat" 2>/dev/null) || continue
    [ "$st" = D ] || continue
    if grep -Eq 'percpu_rwsem_wait|sb_start_write|mnt_want_write|__sb_start' "$t/stack" 2>/dev/null; then
      fail "thread ${t##*/} of the writer's host is blocked on the frozen filesystem: $(cat "$t/stack")"
    fi
  done
}
ACKS=$DIR/acks
acks() { wc -l <"$ACKS"; }
commits_go_on() { # the app acknowledges new commits within 10 s
  local n i
  n=$(acks)
  for ((i = 0; i < 200; i++)); do
    [ "$(acks)" -gt "$n" ] && return 0
    sleep 0.05
  done
  fail "no commit acknowledged in 10 s (still $n)"
}

# ---- what the test needs: no skip counted as a pass ----
[ "$(id -u)" = 0 ] || fail "needs root: it mounts a loop ext4 and freezes it (run the integration suite as root)"
for t in losetup mkfs.ext4 fsfreeze qemu-ga socat; do
  command -v "$t" >/dev/null || fail "needs $t (scripts/deps.sh installs it)"
done

# ---- a loop ext4 of our own ----
truncate -s 96M "$DIR/fs.img"
LOOP=$(losetup -f --show "$DIR/fs.img") || fail "no loop device (losetup -f failed): this test needs loop devices"
mkfs.ext4 -q "$LOOP" || fail "mkfs.ext4 $LOOP failed"
mkdir "$MNT" "$MNT2"
mount "$LOOP" "$MNT" || fail "cannot mount $LOOP (loop ext4) on $MNT"
MOUNTED=1
# The watchdog: whatever happens to this script, the mount is thawed after 120 s.
setsid sh -c "sleep 120; fsfreeze -u '$MNT' 2>/dev/null" >/dev/null 2>&1 &
WD=$!

testbus_start "$DIR" || fail "no private bus"

# start_app FREEZE_MS ACKS [--create]: two instances on the loop filesystem and one beside it,
# two writers each.
start_app() {
  cat >"$DIR/writer.conf" <<EOF
[writer]
freeze_timeout_ms = $1
quiesce_timeout_ms = 5000
allow_users = root
EOF
  local i
  for i in alpha beta; do
    printf '[instance %s]\nsystem_path = %s\nlog_path = %s\ndatabase = %s/db.edb\nlog_file_size_kb = 256\n' \
      "$i" "$MNT/$i" "$MNT/$i" "$MNT/$i" >>"$DIR/writer.conf"
  done
  # The copy's check needs the instances of the loop filesystem only.
  cp "$DIR/writer.conf" "$DIR/loop.conf"
  # gamma lives off the loop filesystem: the hook (mounts = MNT) must leave it running.
  printf '[instance gamma]\nsystem_path = %s\nlog_path = %s\ndatabase = %s/db.edb\nlog_file_size_kb = 256\n' \
    "$DIR/gamma" "$DIR/gamma" "$DIR/gamma" >>"$DIR/writer.conf"
  # shellcheck disable=SC2086 # $3: an optional flag
  testbus_app --config "$DIR/writer.conf" --address "$TESTBUS_ADDRESS" ${3:-} --load --writers 2 --acks "$2"
}
stop_app() {
  kill -TERM "$APID"
  timeout 30 tail --pid="$APID" -f /dev/null || fail "the demo app did not stop in 30 s"
  wait "$APID"
  APID=
}

# The acks file lives outside the frozen filesystem (a write to it would block).
start_app 20000 "$DIR/acks" --create
commits_go_on

# The hook's configuration: only the instances on our mount; its state and log beside us, off
# the frozen filesystem. bus = system reaches the private bus through DBUS_SYSTEM_BUS_ADDRESS.
hook_conf() { # [BUS_NAME]
  cat >"$DIR/hook.conf" <<EOF
# test-qga-hook.sh
mounts = $MNT
time_limit_sec = 20
jetsnapctl = $CTL
bus = system
bus_name = ${1:-org.jetsnap.Writer1}
state_dir = $DIR/run
log = $DIR/hook.log
EOF
}
hook_conf

# ---- qemu-ga, unmodified, with our hook ----
ALLOW='guest-sync-delimited|guest-sync|guest-ping|guest-info|guest-fsfreeze-status|guest-fsfreeze-freeze-list|guest-fsfreeze-thaw'
BLOCK=$(qemu-ga -b help 2>&1 | tr ' ' '\n' | grep . | grep -vxE "$ALLOW" | paste -sd,)
echo "$BLOCK" | tr , '\n' | grep -qx guest-fsfreeze-freeze || fail "plain guest-fsfreeze-freeze is not in the block list: $BLOCK"
mkdir "$DIR/state"
: >"$DIR/qga.conf" # an empty config: no /etc/qemu/qemu-ga.conf
DBUS_SYSTEM_BUS_ADDRESS=$TESTBUS_ADDRESS JETSNAP_QGA_HOOK_CONF=$DIR/hook.conf QGA_CONF=$DIR/qga.conf \
  qemu-ga -m unix-listen -p "$SOCK" -t "$DIR/state" -l "$DIR/qga.log" -F"$HOOK" -b "$BLOCK" &
QPID=$!
for ((i = 0; i < 200; i++)); do
  [ -S "$SOCK" ] && qga '{"execute":"guest-ping"}' >/dev/null 2>&1 && break
  sleep 0.05
done
[ "$(qga '{"execute":"guest-ping"}')" = '{"return": {}}' ] || fail "qemu-ga does not answer on $SOCK"
[ "$(qga '{"execute":"guest-fsfreeze-freeze"}' | grep -c CommandNotFound)" = 1 ] ||
  fail "qemu-ga's plain freeze (every filesystem) is not blocked"
qga_status_is thawed
ok "qemu-ga runs with the hook; everything but freeze-list, thaw, status, ping, sync, info blocked"

# ---- freeze-list of the mount: the writer first, then the filesystem ----
r=$(freeze_list "$MNT")
[ "$r" = '{"return": 1}' ] || fail "freeze-list $MNT: $r"
cp "$DIR/acks" "$DIR/acks.copy" # every commit acknowledged before the freeze (none after it)
status_is "(d['state'], d['session']['state'], d['session']['instances'], [i['state'] for i in d['instances']])" \
  "('frozen', 'frozen', ['alpha', 'beta'], ['frozen', 'frozen', 'running'])"
qga_status_is frozen
fs_frozen || fail "$MNT is not frozen after freeze-list"
grep -q "freeze: froze the instances on $MNT, session /org/jetsnap/Writer1/session/" "$DIR/hook.log" ||
  fail "hook.log: $(cat "$DIR/hook.log")"
# Frozen for a while: the writer answers, its host has no thread stuck in the kernel.
for ((k = 0; k < 10; k++)); do
  status_is "d['state']" frozen
  no_d_state
  sleep 0.1
done
timeout 60 dd if="$LOOP" of="$DIR/copy.img" bs=1M status=none || fail "cannot copy $LOOP while frozen"
no_d_state
n_acked=$(grep -vc '^gamma ' "$DIR/acks.copy")
now=$(grep -vc '^gamma ' "$DIR/acks")
[ "$now" = "$n_acked" ] || fail "alpha or beta acknowledged commits while frozen ($n_acked before, $now now)"
[ "$(grep -c '^gamma ' "$DIR/acks")" -gt "$(grep -c '^gamma ' "$DIR/acks.copy")" ] ||
  fail "gamma, off the frozen filesystem, did not commit while alpha and beta were frozen"
ok "freeze-list: the writer froze the instances on the mount (gamma, elsewhere, kept committing), then the filesystem froze; the writer answers, no thread blocked on the frozen filesystem"

r=$(qga '{"execute":"guest-fsfreeze-thaw"}')
[ "$r" = '{"return": 1}' ] || fail "thaw: $r"
qga_status_is thawed
fs_frozen && fail "$MNT still frozen after thaw"
status_is "(d['state'], d['freeze_owner'], [i['state'] for i in d['instances']])" "('stable', '', ['running', 'running', 'running'])"
grep -q "thaw: thawed and completed /org/jetsnap/Writer1/session/" "$DIR/hook.log" || fail "hook.log: $(cat "$DIR/hook.log")"
commits_go_on
ok "thaw: the filesystem, then the writer; commits go on"

# ---- the copy, mounted elsewhere, recovers with every acknowledged commit ----
LOOP2=$(losetup -f --show "$DIR/copy.img") || fail "no second loop device"
mount "$LOOP2" "$MNT2" || fail "cannot mount the copy $LOOP2"
MOUNTED2=1
grep -v '^gamma ' "$DIR/acks.copy" >"$DIR/acks.loop"
timeout 60 "$APP" --verify --config "$DIR/loop.conf" --acks "$DIR/acks.loop" --writers 2 --map "$MNT=$MNT2" \
  >"$DIR/verify.out" 2>"$DIR/verify.err" || fail "the copy does not verify: $(cat "$DIR/verify.out" "$DIR/verify.err")"
grep -Eq '^verified [1-9][0-9]* acknowledged commits in 2 instances$' "$DIR/verify.out" || fail "verify: $(cat "$DIR/verify.out")"
umount "$MNT2" && MOUNTED2=
losetup -d "$LOOP2" && LOOP2=
rm -f "$DIR/copy.img"
ok "the loop device copied while frozen recovers elsewhere with all $n_acked acknowledged commits ($(cat "$DIR/verify.out"))"

# ---- the writer refuses: an instance frozen by another owner ----
ctl 0 other freeze --instance beta
r=$(freeze_list "$MNT")
[ "$r" = '{"error": {"class": "GenericError", "desc": "fsfreeze hook has failed with status 4"}}' ] ||
  fail "freeze-list with beta frozen by another owner: $r"
qga_status_is thawed
fs_frozen && fail "$MNT frozen although the hook failed"
grep -q "freeze: jetsnapctl freeze failed (exit 4), the filesystems are not frozen: .*Busy" "$DIR/hook.log" ||
  fail "hook.log: $(tail -3 "$DIR/hook.log")"
status_is "[i['state'] for i in d['instances']]" "['running', 'frozen', 'running']"
ctl 0 otherthaw thaw "$(cat "$DIR/other.out")"
status_is "(d['state'], [i['state'] for i in d['instances']])" "('stable', ['running', 'running', 'running'])"
ok "another owner's freeze: the hook fails (4), qemu-ga says GenericError and freezes nothing"

# ---- the writer unreachable ----
hook_conf org.jetsnap.NoSuchWriter
r=$(freeze_list "$MNT")
[ "$r" = '{"error": {"class": "GenericError", "desc": "fsfreeze hook has failed with status 3"}}' ] ||
  fail "freeze-list with no writer: $r"
qga_status_is thawed
fs_frozen && fail "$MNT frozen although the writer was unreachable"
grep -q "freeze: jetsnapctl freeze failed (exit 3)" "$DIR/hook.log" || fail "hook.log: $(tail -3 "$DIR/hook.log")"
hook_conf
ok "writer unreachable: the hook fails (3), GenericError, nothing frozen"

# ---- thaws that never come, or come late: the writer's freeze time-out ----
stop_app
ACKS=$DIR/acks2
start_app 2000 "$ACKS"
commits_go_on
# A freeze-list matching no mount: the freeze hook runs, qemu-ga freezes nothing and runs no thaw.
r=$(freeze_list /nonexistent-jetsnap-qga-test)
[ "$r" = '{"return": 0}' ] || fail "freeze-list of no mount: $r"
qga_status_is thawed
status_is "[i['state'] for i in d['instances']]" "['frozen', 'frozen', 'running']"
wait_status "(d['state'], d['freeze_owner'], [i['state'] for i in d['instances']])" "('failed', '', ['running', 'running', 'running'])" 6
commits_go_on
# The next freeze ends that session first, and freezes afresh.
r=$(freeze_list "$MNT")
[ "$r" = '{"return": 1}' ] || fail "freeze-list after an orphaned freeze: $r"
grep -q "freeze: ended the earlier session .* whose thaw never came" "$DIR/hook.log" || fail "hook.log: $(tail -3 "$DIR/hook.log")"
status_is "[i['state'] for i in d['instances']]" "['frozen', 'frozen', 'running']"
fs_frozen || fail "$MNT is not frozen"
ok "a freeze with no thaw hook ends by the writer's time-out; the next freeze starts clean"
# This time the thaw comes too late: the writer's time-out ends its freeze, the filesystem stays
# frozen by qemu-ga (the writer's commits wait on it) until the thaw, which says discard.
wait_status "(d['state'], [i['state'] for i in d['instances']])" "('failed', ['running', 'running', 'running'])" 6
qga_status_is frozen
r=$(qga '{"execute":"guest-fsfreeze-thaw"}')
[ "$r" = '{"error": {"class": "GenericError", "desc": "fsfreeze hook has failed with status 6"}}' ] ||
  fail "thaw after the writer's time-out: $r"
qga_status_is thawed
fs_frozen && fail "$MNT still frozen after the late thaw"
grep -q "thaw: .* ended before the thaw .*NOT application-consistent" "$DIR/hook.log" || fail "hook.log: $(tail -3 "$DIR/hook.log")"
commits_go_on
status_is "[i['state'] for i in d['instances']]" "['running', 'running', 'running']"
ok "a thaw after the writer's time-out: qemu-ga thaws, the hook says discard (6), the writer commits again"

# ---- teardown: thaw state first, then qemu-ga (it ignores SIGTERM while frozen) ----
qga_status_is thawed
kill -TERM "$QPID"
timeout 10 tail --pid="$QPID" -f /dev/null || fail "qemu-ga did not stop"
wait "$QPID"
QPID=
stop_app
PASSED=1
echo "test-qga-hook: all passed"
