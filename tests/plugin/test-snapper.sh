#!/bin/bash
# test-snapper.sh — application-consistent snapshots of a loop btrfs by snapper and by btrfs itself,
# coordinated by jetsnapctl: jetsnap-demo-app hosts two instances (two committing threads each)
# through jetsnap-writer.so on a private bus of the test's own; the instances live in a btrfs
# subvolume of a loop device the test creates; snapperd serves a second private bus that plays the
# system bus (DBUS_SYSTEM_BUS_ADDRESS), as snapper 0.10.4 and libdbus both honour it.
#   test-snapper.sh JETSNAPCTL DEMO_APP
# Needs root, loop devices, btrfs and snapper: without them it FAILS, saying which is missing.
#
# What it holds jetsnapctl to (docs/jetsnapctl.md, "snapshot"):
# - snapshot --snapper CONFIG --json creates snapper snapshot N while the instances are frozen,
#   prints N's record (config, subvolume, session, instances, type, frozen_usec), and N's userdata
#   in snapper says the same (jetsnap-session, jetsnap-instances, jetsnap-type,
#   jetsnap-frozen-usec); the writer is stable again and its session completed.
#   The snapshot, copied to a fresh directory and recovered there (as after a rollback), holds
#   every commit acknowledged before the writer answered Freeze and none acknowledged after the
#   Thaw was asked (but the two in flight per instance): snapperd's call cannot run a command of
#   ours while frozen, so the acks' own times are held against jetsnapctl's frozen_at_usec and
#   thaw_at_usec (--json).
# - snapshot -- sh -c 'cp ACKS OUT && btrfs subvolume snapshot -r VOL SNAP': the acks copied
#   inside the freeze name exactly the commits the read-only snapshot holds: every one of them is
#   there, and none past them but the two in flight per instance.
# - an unknown config exits 16 naming error.unknown_config, before anything is frozen; snapper
#   failing the snapshot itself (its .snapshots made read-only) exits 16 naming error.io_error
#   and snapper's message, the freeze aborted (the writer stable, the session aborted) and
#   no snapshot recorded; no snapperd on the system bus exits 16 and freezes nothing.
# - a snapshot snapper returns only after the writer's freeze time-out exits 6, and one during
#   which jetsnapctl got SIGTERM exits 143: both are deleted again, the writer thawed.
#
# Safety: the only filesystem frozen (fsfreeze) is a second loop btrfs the test made, to hold
# snapperd in the middle of a snapshot; a watchdog thaws it after 120 s whatever happens. Only loop
# filesystems the test made are snapshotted. The EXIT trap thaws them first, then stops what the
# test started (by pid), deletes its snapper configs (DeleteConfig, the config files, their words
# in SNAPPER_CONFIGS), unmounts, detaches the loop devices and removes the images.
set -uo pipefail

CTL=$(realpath -- "$1")
APP=$(realpath -- "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testbus.sh
source "$HERE/testbus.sh"

DIR=$(mktemp -d /tmp/test-snapper.XXXXXX)
MNT=$DIR/mnt
VOL=$MNT/vol
# Unique, and never "root" (Debian's apt hook snapshots that one).
CFG=jetsnaptest$(basename "$DIR" | tr -dc 'a-zA-Z0-9')
CFG2=${CFG}b
APID=      # the demo app
SPID=      # a jetsnapctl run in the background
SYSBUS_PID=
SNAPPERD_PID=
LOOPS=()   # loop devices attached, MOUNTS their mount points, IMAGES their files
MOUNTS=()
IMAGES=()
WATCHDOG=  # the watchdog that thaws a mount the test froze, in any case
CONFIGS=() # snapper configs created, and those whose word the test must take out of SNAPPER_CONFIGS
ADDED_WORDS=()

cleanup() {
  local m c l p
  # Thaw first: snapperd (or anything else) may be blocked in a frozen filesystem.
  for m in "${MOUNTS[@]}"; do fsfreeze -u "$m" 2>/dev/null; done
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
  for p in "$SPID" "$APID"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
  done
  for c in "${CONFIGS[@]}"; do
    snapper_call DeleteConfig s "$c" >/dev/null 2>&1 || echo "test-snapper: DeleteConfig $c failed" >&2
  done
  [ -n "$SYSBUS_PID" ] && [ -z "$SNAPPERD_PID" ] && SNAPPERD_PID=$(snapperd_pid)
  if [ -n "$SNAPPERD_PID" ]; then
    kill "$SNAPPERD_PID" 2>/dev/null
    timeout 10 tail --pid="$SNAPPERD_PID" -f /dev/null 2>/dev/null
  fi
  if [ -n "$SYSBUS_PID" ]; then
    kill "$SYSBUS_PID" 2>/dev/null
    timeout 10 tail --pid="$SYSBUS_PID" -f /dev/null 2>/dev/null
  fi
  testbus_stop
  # snapperd 0.10.4 may write a config file again after DeleteConfig: remove what is left.
  for c in "${CONFIGS[@]}"; do rm -f "/etc/snapper/configs/$c"; done
  for c in "${ADDED_WORDS[@]}"; do
    [ -f /etc/default/snapper ] &&
      sed -i -E "/^SNAPPER_CONFIGS=/{s/([\" ])$c([\" ])/\1\2/;s/\"  */\"/;s/  *\"/\"/;s/   */ /g}" /etc/default/snapper
  done
  for m in "${MOUNTS[@]}"; do umount "$m" || echo "test-snapper: cannot unmount $m" >&2; done
  for l in "${LOOPS[@]}"; do losetup -d "$l" || echo "test-snapper: cannot detach $l" >&2; done
  rm -f "${IMAGES[@]}"
  if [ "${PASSED:-0}" = 1 ]; then rm -rf "$DIR"; else echo "test-snapper: files kept in $DIR" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -s "$DIR/app.log" ] && { echo "--- app.log" >&2; tail -n 20 "$DIR/app.log" >&2; }
  exit 1
}
ok() { echo "ok: $*"; }

snapper_call() { # METHOD SIGNATURE ARGS...: a call to snapperd on the test's system bus
  local method=$1
  shift
  timeout 30 busctl --system call org.opensuse.Snapper /org/opensuse/Snapper org.opensuse.Snapper "$method" "$@"
}
snapperd_pid() {
  timeout 10 busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixProcessID s org.opensuse.Snapper 2>/dev/null | awk '{print $2}'
}
# recovered_verifies COPY ACKS AT_MOST: the instances in COPY (a copy of $VOL), recovered in place
# through the engine's restore map, hold every commit in ACKS and none past AT_MOST's (plus the
# commits in flight: one per writer).
recovered_verifies() {
  timeout 60 "$APP" --verify --config "$DIR/writer.conf" --acks "$2" --at-most "$3" --writers 2 --map "$VOL=$1" \
    >"$DIR/dv.out" 2>"$DIR/dv.err" || fail "$1 does not hold the commits of $2: $(cat "$DIR/dv.out" "$DIR/dv.err")"
  grep -Eq '^verified [1-9][0-9]* acknowledged commits in 2 instances, and none past the later acks file$' \
    "$DIR/dv.out" || fail "demo-app --verify: $(cat "$DIR/dv.out")"
}

# ---- what the test needs, or a failure that says what is missing ----
[ "$(id -u)" = 0 ] || fail "needs root (loop devices, mount, snapperd); run the integration suite as root"
for t in losetup mkfs.btrfs btrfs snapper /usr/sbin/snapperd busctl dbus-daemon; do
  command -v "$t" >/dev/null || fail "$t is missing (scripts/deps.sh installs btrfs-progs, snapper, systemd)"
done
[ -f /usr/share/dbus-1/system.d/org.opensuse.Snapper.conf ] || fail "snapper's bus policy is missing"

# new_btrfs NAME MNT: a loop btrfs of the test's own, mounted at MNT.
new_btrfs() {
  local img=$DIR/$1.img loop
  truncate -s 256M "$img" || fail "cannot make the image $img"
  IMAGES+=("$img")
  loop=$(losetup -f --show "$img") || fail "no loop device (losetup -f failed)"
  LOOPS+=("$loop")
  mkfs.btrfs -q "$loop" >"$DIR/mkfs.log" 2>&1 || fail "mkfs.btrfs: $(cat "$DIR/mkfs.log")"
  mkdir "$2"
  mount -t btrfs "$loop" "$2" || fail "cannot mount the loop btrfs $loop"
  MOUNTS+=("$2")
}
# new_config NAME SUBVOLUME: a snapper config, timeline off.
new_config() {
  grep -Eq "^SNAPPER_CONFIGS=\".*\\b$1\\b" /etc/default/snapper 2>/dev/null || ADDED_WORDS+=("$1")
  CONFIGS+=("$1")
  snapper_call CreateConfig ssss "$1" "$2" btrfs default >"$DIR/cc.out" 2>&1 ||
    fail "CreateConfig $1: $(cat "$DIR/cc.out" "$DIR/sysbus/daemon.log")"
  snapper_call SetConfig 'sa{ss}' "$1" 1 TIMELINE_CREATE no >"$DIR/sc.out" 2>&1 || fail "SetConfig: $(cat "$DIR/sc.out")"
}

# ---- a loop btrfs with a subvolume for the instances ----
new_btrfs main "$MNT"
btrfs subvolume create "$VOL" >/dev/null || fail "cannot create the subvolume $VOL"

# ---- the "system" bus, with snapper's own policy and activation of snapperd ----
mkdir -p "$DIR/sysbus/services"
chmod 755 "$DIR" "$DIR/sysbus"
# The bus restarts snapperd when it was idle long enough to exit (about 60 s).
printf '[D-BUS Service]\nName=org.opensuse.Snapper\nExec=/usr/sbin/snapperd --stdout\nUser=root\n' \
  >"$DIR/sysbus/services/org.opensuse.Snapper.service"
cat >"$DIR/sysbus/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- A system bus of the test's own: default deny as Debian's system.conf, snapper's policy -->
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$DIR/sysbus/sock</listen>
  <servicedir>$DIR/sysbus/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>/usr/share/dbus-1/system.d/org.opensuse.Snapper.conf</include>
</busconfig>
EOF
# snapperd --stdout logs into the bus's output: a file here, not /var/log.
dbus-daemon --config-file="$DIR/sysbus/bus.conf" --nofork --nopidfile >"$DIR/sysbus/daemon.log" 2>&1 &
SYSBUS_PID=$!
for ((i = 0; i < 100; i++)); do
  [ -S "$DIR/sysbus/sock" ] && break
  sleep 0.05
done
[ -S "$DIR/sysbus/sock" ] || fail "the private system bus did not start: $(cat "$DIR/sysbus/daemon.log")"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$DIR/sysbus/sock"

# ---- the snapper config (bus-activates snapperd) ----
new_config "$CFG" "$VOL"
SNAPPERD_PID=$(snapperd_pid)
[ -n "$SNAPPERD_PID" ] || fail "snapperd was not started by the bus"
ok "loop btrfs at $MNT, snapperd $SNAPPERD_PID on a private system bus, config $CFG of $VOL"

# ---- the writer on its own bus, two instances under load in the subvolume ----
testbus_start "$DIR" || fail "no private bus for the writer"
cat >"$DIR/writer.conf" <<EOF
[writer]
allow_users = root
quiesce_timeout_ms = 5000
# Long enough for a snapshot; short, so that the test of a snapshot outlasting it is quick.
freeze_timeout_ms = 3000
EOF
for i in mail dir; do
  printf '[instance %s]\nsystem_path = %s\nlog_path = %s\ndatabase = %s/db.edb\nlog_file_size_kb = 256\n' \
    "$i" "$VOL/$i" "$VOL/$i" "$VOL/$i" >>"$DIR/writer.conf"
done
# The acks file stays outside the btrfs: a snapshot must not decide what it says.
testbus_app --config "$DIR/writer.conf" --address "$TESTBUS_ADDRESS" --create --load --acks "$DIR/acks" --writers 2
wait_acks 200

# ---- snapshot --snapper: a consistent snapper snapshot ----
cp "$DIR/acks" "$DIR/acks.before"
ctl 0 snapper snapshot --snapper "$CFG" --description "jetsnap test" --json
cp "$DIR/acks" "$DIR/acks.after"
j=$DIR/snapper.out
num=$(pyjson "d['snapshot']" "$j")
[ "$(pyjson "(d['snapper_config'], d['subvolume'], d['description'], d['backup_type'], sorted(d['instances']), d['frozen_usec'] > 0)" "$j")" = \
  "('$CFG', '$VOL', 'jetsnap test', 'copy', ['dir', 'mail'], True)" ] || fail "snapshot --snapper --json: $(cat "$j")"
grep -Eq "^jetsnapctl: snapper snapshot $num of config '$CFG' \\($VOL\\) completed: 2 instances \\((mail, dir|dir, mail)\\) frozen for [0-9]+\\.[0-9] ms, type copy, session /org/jetsnap/Writer1/session/[0-9]+$" \
  "$DIR/snapper.err" || fail "summary: $(cat "$DIR/snapper.err")"
session=$(pyjson "d['session']" "$j")
usec=$(pyjson "d['frozen_usec']" "$j")
snapper_call GetSnapshot su "$CFG" "$num" >"$DIR/gs.out" 2>&1 || fail "GetSnapshot $num: $(cat "$DIR/gs.out")"
for kv in "\"jetsnap-session\" \"$session\"" "\"jetsnap-type\" \"copy\"" "\"jetsnap-frozen-usec\" \"$usec\"" \
  "\"jetsnap-writer\" \"org.jetsnap.Writer1\""; do
  grep -qF "$kv" "$DIR/gs.out" || fail "snapshot $num's userdata lacks $kv: $(cat "$DIR/gs.out")"
done
grep -Eq '"jetsnap-instances" "(mail dir|dir mail)"' "$DIR/gs.out" || fail "jetsnap-instances: $(cat "$DIR/gs.out")"
grep -qF '"jetsnap test"' "$DIR/gs.out" || fail "description: $(cat "$DIR/gs.out")"
ctl 0 st status --json
[ "$(pyjson "(d['state'], d['freeze_owner'])" "$DIR/st.out")" = "('stable', '')" ] || fail "after: $(cat "$DIR/st.out")"
snap=$VOL/.snapshots/$num/snapshot
[ "$(btrfs property get -ts "$snap" ro)" = "ro=true" ] || fail "$snap is not a read-only snapshot"
ok "snapshot --snapper: snapshot $num of $VOL taken frozen ($usec us), its userdata and --json agree"

# Recovered as after a rollback: the snapshot's files in a fresh directory, outside the snapshot.
# Which commits it must hold, exactly: those acknowledged before the writer answered Freeze (none
# can be acknowledged while frozen), and none acknowledged after the Thaw was asked but the one
# each writer had in flight — the acks' times against jetsnapctl's frozen_at_usec / thaw_at_usec.
frozen_at=$(pyjson "d['frozen_at_usec']" "$j")
thaw_at=$(pyjson "d['thaw_at_usec']" "$j")
if [ "$frozen_at" -le 0 ] || [ "$thaw_at" -lt "$frozen_at" ]; then fail "frozen_at/thaw_at: $(cat "$j")"; fi
awk -v t="$frozen_at" '$3 < t' "$DIR/acks.after" >"$DIR/acks.frozen"
awk -v t="$thaw_at" '$3 < t' "$DIR/acks.after" >"$DIR/acks.thaw"
[ "$(wc -l <"$DIR/acks.frozen")" -ge "$(wc -l <"$DIR/acks.before")" ] || fail "fewer acks before the freeze than before jetsnapctl ran"
cp -a "$snap" "$DIR/rec-snapper" || fail "cannot copy $snap"
recovered_verifies "$DIR/rec-snapper" "$DIR/acks.frozen" "$DIR/acks.thaw"
ok "snapper snapshot $num recovers with exactly the commits acknowledged before the freeze (every one acknowledged before Freeze answered, none after Thaw was asked but those in flight)"

# ---- snapshot -- btrfs subvolume snapshot -r: acks copied inside the freeze ----
wait_acks 200
ctl 0 btrfs snapshot -- sh -c "cp \"$DIR/acks\" \"$DIR/acks.frozen\" && btrfs subvolume snapshot -r \"$VOL\" \"$MNT/snap\""
cp "$DIR/acks" "$DIR/acks.later"
grep -Eq '^jetsnapctl: snapshot completed: 2 instances .* type copy, session ' "$DIR/btrfs.err" ||
  fail "btrfs summary: $(cat "$DIR/btrfs.err")"
[ "$(btrfs property get -ts "$MNT/snap" ro)" = "ro=true" ] || fail "$MNT/snap is not read-only"
cp -a "$MNT/snap" "$DIR/rec-btrfs" || fail "cannot copy $MNT/snap"
# The copy taken while frozen is both bounds: every commit it lists, none past it but those in flight.
recovered_verifies "$DIR/rec-btrfs" "$DIR/acks.frozen" "$DIR/acks.frozen"
[ "$(wc -l <"$DIR/acks.later")" -gt "$(wc -l <"$DIR/acks.frozen")" ] || fail "the load did not go on after the thaw"
ok "snapshot -- btrfs subvolume snapshot -r: the snapshot holds exactly the commits acknowledged before the freeze"

# ---- failures: nothing frozen, nothing recorded ----
count_snapshots() { snapper_call ListSnapshots s "$CFG" | awk '{print $2}'; }
before=$(count_snapshots)
ctl 16 unknown snapshot --snapper "no-such-$CFG"
grep -q "GetConfig of config 'no-such-$CFG': snapper has no such config .*error.unknown_config" "$DIR/unknown.err" ||
  fail "unknown config: $(cat "$DIR/unknown.err")"
grep -q "nothing was frozen" "$DIR/unknown.err" || fail "unknown config: $(cat "$DIR/unknown.err")"
[ -s "$DIR/unknown.out" ] && fail "unknown config printed a record: $(cat "$DIR/unknown.out")"
ok "an unknown snapper config exits 16 naming error.unknown_config, before any freeze"

btrfs property set -ts "$VOL/.snapshots" ro true || fail "cannot make $VOL/.snapshots read-only"
ctl 16 refused snapshot --snapper "$CFG"
btrfs property set -ts "$VOL/.snapshots" ro false || fail "cannot make $VOL/.snapshots writable again"
grep -q "CreateSingleSnapshot of config '$CFG': snapper met an I/O error (error.io_error: mkdir failed errno:30 (Read-only file system))" \
  "$DIR/refused.err" || fail "failed snapshot: $(cat "$DIR/refused.err")"
grep -q "no snapshot was taken; the freeze was aborted (session /org/jetsnap/Writer1/session/" "$DIR/refused.err" ||
  fail "failed snapshot: $(cat "$DIR/refused.err")"
[ -s "$DIR/refused.out" ] && fail "a failed snapshot printed a record: $(cat "$DIR/refused.out")"
ctl 0 st2 status --json
[ "$(pyjson "(d['state'], d['freeze_owner'])" "$DIR/st2.out")" = "('stable', '')" ] || fail "after: $(cat "$DIR/st2.out")"
[ "$(count_snapshots)" = "$before" ] || fail "a snapshot was recorded: $(snapper_call ListSnapshots s "$CFG")"
ok "snapper failing the snapshot exits 16 naming error.io_error; aborted, the writer stable, nothing recorded"

DBUS_SYSTEM_BUS_ADDRESS="unix:path=$DIR/no-bus" ctl 16 nobus snapshot --snapper "$CFG"
grep -q "snapperd (org.opensuse.Snapper) cannot be reached on the system bus at unix:path=$DIR/no-bus" "$DIR/nobus.err" ||
  fail "no system bus: $(cat "$DIR/nobus.err")"
ok "no snapperd: exit 16, nothing frozen"

# ---- a snapshot taken too late, or interrupted: deleted again ----
# snapperd is held in a filesystem the test froze (a second loop btrfs, the second config's; the
# instances are not on it), so that CreateSingleSnapshot returns only when the test thaws it:
# after the writer's freeze_timeout_ms (3 s) ended the freeze, or after a SIGTERM to jetsnapctl.
MNT2=$DIR/mnt2
new_btrfs second "$MNT2"
new_config "$CFG2" "$MNT2"
# held_snapshot NAME [SIGNAL]: jetsnapctl snapshot --snapper CFG2 with MNT2 frozen until the writer
# timed out (or, given SIGNAL, until jetsnapctl got it while frozen); its exit status in $rc.
held_snapshot() {
  local i state=
  fsfreeze -f "$MNT2" || fail "cannot freeze $MNT2"
  setsid sh -c "sleep 120; fsfreeze -u '$MNT2'" >/dev/null 2>&1 &
  WATCHDOG=$!
  timeout 60 "$CTL" --address "$TESTBUS_ADDRESS" snapshot --snapper "$CFG2" >"$DIR/$1.out" 2>"$DIR/$1.err" &
  SPID=$!
  # jetsnapctl is in CreateSingleSnapshot once a thread of snapperd waits in the frozen filesystem
  # (state D), and the writer says it is frozen.
  SNAPPERD_PID=$(snapperd_pid)
  for ((i = 0; i < 200; i++)); do
    if grep -q '^State:.*D (disk sleep)' /proc/"$SNAPPERD_PID"/task/*/status 2>/dev/null; then
      "$CTL" --address "$TESTBUS_ADDRESS" status --json >"$DIR/hs.json" 2>/dev/null &&
        state=$(pyjson "d['state']" "$DIR/hs.json")
      [ "$state" = frozen ] && break
    fi
    sleep 0.05
  done
  [ "$state" = frozen ] || fail "snapperd was not held in $MNT2 with the writer frozen within 10 s"
  if [ -n "${2:-}" ]; then
    kill "-$2" "$SPID"
    sleep 0.2
  else
    sleep 3.5 # the freeze began before it was seen: its 3 s are over
  fi
  fsfreeze -u "$MNT2" || fail "cannot thaw $MNT2"
  kill -- "-$WATCHDOG" 2>/dev/null
  WATCHDOG=
  wait "$SPID"
  rc=$?
  SPID=
}
no_snapshots_of() { # CONFIG: snapper lists only its "current" (0)
  snapper_call ListSnapshots s "$1" >"$DIR/ls.out" || fail "ListSnapshots $1"
  grep -q '^a(uquxussa{ss}) 1 0 ' "$DIR/ls.out" || fail "snapshots left in $1: $(cat "$DIR/ls.out")"
}

held_snapshot late
[ "$rc" = 6 ] || fail "a snapshot past the freeze time-out exited $rc, expected 6: $(cat "$DIR/late.err")"
grep -q "Thaw: Timeout: " "$DIR/late.err" || fail "late: $(cat "$DIR/late.err")"
grep -Eq "^jetsnapctl: snapper snapshot [0-9]+ of config '$CFG2' deleted: it is not known to be consistent$" "$DIR/late.err" ||
  fail "late: $(cat "$DIR/late.err")"
[ -s "$DIR/late.out" ] && fail "a discarded snapshot printed a record: $(cat "$DIR/late.out")"
no_snapshots_of "$CFG2"
ok "a snapper snapshot that returns after the writer's freeze time-out: exit 6, deleted again"

held_snapshot term TERM
[ "$rc" = 143 ] || fail "SIGTERM during CreateSingleSnapshot: exit $rc, expected 143: $(cat "$DIR/term.err")"
grep -q "interrupted by Terminated" "$DIR/term.err" || fail "term: $(cat "$DIR/term.err")"
grep -Eq "^jetsnapctl: snapper snapshot [0-9]+ of config '$CFG2' deleted" "$DIR/term.err" || fail "term: $(cat "$DIR/term.err")"
no_snapshots_of "$CFG2"
ctl 0 st3 status --json
[ "$(pyjson "(d['state'], d['freeze_owner'])" "$DIR/st3.out")" = "('stable', '')" ] || fail "after: $(cat "$DIR/st3.out")"
ok "SIGTERM while snapper takes the snapshot: thawed, aborted, the snapshot deleted, exit 143"

kill -0 "$APID" 2>/dev/null || fail "the demo app died"
PASSED=1
echo "test-snapper: all passed"
