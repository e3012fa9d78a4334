#!/usr/bin/env bash
# demo.sh — jetsnap's main job in one command: application-consistent snapshots and streaming
# backups of databases that are being written to, each checked against the commits the
# application was told were durable.
#
# It installs what is missing (scripts/deps.sh), builds, starts a private dbus-daemon and an
# example application (jetsnap-demo-app) that hosts 3 instances through the writer plugin, with
# 2 threads per instance committing a steady load and recording every commit the engine
# acknowledged. Under that load:
#
#  1. a coordinated snapshot: `jetsnapctl snapshot` freezes the 3 instances together and, while
#     they are frozen, copies the list of acknowledged commits and takes a read-only btrfs
#     snapshot of the subvolume holding their files — on a loop btrfs of its own, when it runs as
#     root with loop devices and btrfs-progs — or else copies the files with `cp -a`; it says
#     which and why. The snapshot is recovered elsewhere and must hold every commit acknowledged
#     before the freeze and none after it;
#  2. a streaming backup of one instance through the writer while it keeps committing: a full
#     one, then an incremental, both zstd-compressed; `jetsnapctl verify` checks both, and the
#     chain is restored into a scratch directory and must hold every commit acknowledged before
#     the incremental began and none acknowledged after it ended;
#  3. a summary: what was done, how long the freeze lasted, commits checked, bytes streamed and
#     stored, the snapshot method.
#
# Everything it made — processes, the mount, the loop device, files — is removed at the end, also
# when a step fails or on Ctrl-C.
#
#   ./demo.sh                  the demo (about 10 s of load; under a minute in all)
#   ./demo.sh --short          a quick run (CI runs it: `meson test demo`)
#   ./demo.sh --copy           snapshot with cp -a even where a loop btrfs could be made
#   ./demo.sh --build-dir=DIR  use an existing build instead of installing and building
#   ./demo.sh --keep           leave the work directory for a look (the loop btrfs is removed all
#                              the same)
set -euo pipefail
cd "$(dirname "$0")"

load_s=10 # seconds of load before the snapshot
gap_s=3   # seconds of load between the full and the incremental backup
writers=2 # committing threads per instance
build=""
keep=0
method=auto
for a in "$@"; do
  case "$a" in
    --short) load_s=1 gap_s=1 ;;
    --copy) method=copy ;;
    --keep) keep=1 ;;
    --build-dir=*) build=${a#--build-dir=} ;;
    *) echo "usage: $0 [--short] [--copy] [--keep] [--build-dir=DIR]" >&2; exit 2 ;;
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

started=$EPOCHREALTIME
work=$(mktemp -d /tmp/jetsnap-demo.XXXXXX)
mnt=$work/btrfs # the loop btrfs's mount point, when there is one
img=""          # its image file, loop device, and whether it is mounted
loop=""
mounted=0
watchdog=""     # the process group of the thaw watchdog
app_pid=""
# shellcheck source=tests/plugin/testbus.sh disable=SC1091 # followed by shellcheck -x
. tests/plugin/testbus.sh

cleanup() {
  local rc=$?
  # A second Ctrl-C must not cut the cleanup short and leave a mount or a loop device behind.
  trap '' INT TERM HUP
  # Thaw first: nothing here freezes the filesystem itself, but a thaw costs nothing, and whatever
  # blocked on a frozen filesystem would hold up every step below.
  if [ "$mounted" = 1 ]; then fsfreeze -u "$mnt" 2>/dev/null || true; fi
  if [ -n "$watchdog" ]; then kill -TERM -- "-$watchdog" 2>/dev/null || true; fi
  if [ -n "$app_pid" ]; then
    kill -TERM "$app_pid" 2>/dev/null || true
    # a freeze always ends (thaw or the writer's time-out), so the host's stop is bounded
    timeout 30 tail --pid="$app_pid" -f /dev/null 2>/dev/null || kill -KILL "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  testbus_stop
  local leave_work=0
  drop_btrfs || leave_work=1
  if [ "$keep" = 1 ] || [ "$leave_work" = 1 ]; then echo "demo.sh: kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
# drop_btrfs: unmount the loop btrfs, detach its loop device, remove its image (what there is of
# them); 1 when it stays mounted, and then nothing under it may be removed.
drop_btrfs() {
  if [ "$mounted" = 1 ]; then
    # The snapshots are subvolumes of the same filesystem: one unmount takes them all.
    umount "$mnt" || { echo "demo.sh: cannot unmount $mnt; $work is left as it is" >&2; return 1; }
    mounted=0
  fi
  if [ -n "$loop" ]; then
    losetup -d "$loop" || echo "demo.sh: cannot detach $loop" >&2
    loop=""
  fi
  if [ -n "$img" ]; then rm -f "$img"; img=""; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

fail() { echo "demo.sh: $*" >&2; exit 1; }
# elapsed SINCE: seconds since $EPOCHREALTIME was SINCE, one decimal
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }
size() { awk -v b="$1" 'BEGIN { u = "B"; split("KiB MiB GiB", us, " ")
  for (k = 1; k <= 3 && b >= 1024; k++) { b /= 1024; u = us[k] }; printf "%.1f %s", b, u }'; }
# count N WORD: "1 log", "3 logs"
count() { if [ "$1" = 1 ]; then echo "1 $2"; else echo "$1 $2s"; fi; }

# try_btrfs: a small loop btrfs of the demo's own, mounted at $mnt with a subvolume "data" for the
# instances; on any obstacle, says why in $why and returns 1 (cleanup removes what was made).
try_btrfs() {
  if [ "$method" = copy ]; then why="asked for with --copy"; return 1; fi
  if [ "$(id -u)" != 0 ]; then why="not root: a loop device and a mount need root"; return 1; fi
  local t
  for t in losetup mkfs.btrfs btrfs mount fsfreeze; do
    command -v "$t" >/dev/null || { why="$t is missing (scripts/deps.sh installs btrfs-progs)"; return 1; }
  done
  img=$work/btrfs.img
  truncate -s 1G "$img" # sparse: only what the instances write takes room
  loop=$(losetup -f --show "$img" 2>"$work/losetup.err") ||
    { loop=""; why="no loop device ($(head -n1 "$work/losetup.err"))"; return 1; }
  mkfs.btrfs -q "$loop" >"$work/mkfs.log" 2>&1 || { why="mkfs.btrfs failed ($(head -n1 "$work/mkfs.log"))"; return 1; }
  mkdir "$mnt"
  mount -t btrfs "$loop" "$mnt" 2>"$work/mount.err" ||
    { why="cannot mount a btrfs ($(head -n1 "$work/mount.err"))"; return 1; }
  mounted=1
  btrfs subvolume create "$mnt/data" >/dev/null || { why="cannot create a btrfs subvolume"; return 1; }
  why="root, a free loop device and btrfs-progs: a loop btrfs of its own ($loop, 1 GiB sparse)"
}

why=""
if try_btrfs; then
  snap_method="btrfs subvolume snapshot -r"
  data=$mnt/data
else
  snap_method="cp -a"
  data=$work/data
  drop_btrfs # whatever part of it was made: the loop device is free again at once
fi
echo "demo: snapshot method: $snap_method — $why"

testbus_start "$work"
me=$(id -un)
# instance NAME DISPLAY: one instance's section, its files under $data/NAME
instance() {
  printf '\n[instance %s]\ndisplay_name = %s\nsystem_path = %s\nlog_path = %s\ndatabase = %s\nlog_file_size_kb = 1024\n' \
    "$1" "$2" "$data/$1" "$data/$1/logs" "$data/$1/$1.edb"
}
{
  printf '; the demo writer: 3 instances, each with one database, on a private bus\n'
  printf '[writer]\nfreeze_timeout_ms = 10000\nquiesce_timeout_ms = 5000\nallow_users = %s\n' "$me"
  instance mail "Mail store"
  instance calendar "Calendar store"
  instance directory "Directory"
} >"$work/demo.conf"
# The backed-up instance alone: what the restore is checked against.
{
  printf '[writer]\nallow_users = %s\n' "$me"
  instance mail "Mail store"
} >"$work/mail.conf"

echo "demo: 1. an application hosting 3 instances under a write load ($writers writers each, ${load_s} s)"
t_load=$EPOCHREALTIME
"$app" --config "$work/demo.conf" --address "$TESTBUS_ADDRESS" --create --load --writers "$writers" \
  --acks "$work/acks" >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
for _ in $(seq 1200); do # up to 60 s: a slow disk can hold the first fsync
  grep -q '^ready$' "$work/app.out" 2>/dev/null && break
  kill -0 "$app_pid" 2>/dev/null || fail "the application died: $(cat "$work/app.err")"
  sleep 0.05
done
grep -q '^ready$' "$work/app.out" || fail "the application did not start in 60 s"
sleep "$load_s"

echo "demo: 2. jetsnapctl snapshot -- $snap_method (the 3 instances frozen together while it runs)"
t_snap=$EPOCHREALTIME
before=$(wc -l <"$work/acks")
if [ "$snap_method" = "cp -a" ]; then
  mkdir "$work/snap"
  # shellcheck disable=SC2016 # expanded by that sh, from its arguments
  "$ctl" --address "$TESTBUS_ADDRESS" snapshot --type copy -- \
    sh -c 'cp "$1" "$2" && cp -a "$3" "$4"' sh "$work/acks" "$work/snap.acks" "$data" "$work/snap/data" \
    2>&1 | tee "$work/ctl.out"
  recovered=$work/snap/data
else
  # Should anything ever freeze this filesystem and die, it is thawed after 120 s whatever happens.
  # shellcheck disable=SC2016 # expanded by that sh
  setsid sh -c 'sleep 120; fsfreeze -u "$1"' sh "$mnt" 2>/dev/null &
  watchdog=$!
  # shellcheck disable=SC2016 # expanded by that sh, from its arguments
  "$ctl" --address "$TESTBUS_ADDRESS" snapshot --type copy -- \
    sh -c 'cp "$1" "$2" && btrfs subvolume snapshot -r "$3" "$4" >/dev/null' \
    sh "$work/acks" "$work/snap.acks" "$data" "$mnt/snap" 2>&1 | tee "$work/ctl.out"
  kill -TERM -- "-$watchdog" 2>/dev/null || true
  watchdog=""
  # Recovery replays logs into the files; a writable snapshot of the read-only one takes that, so
  # the snapshot itself stays as it was taken.
  btrfs subvolume snapshot "$mnt/snap" "$mnt/recovered" >/dev/null
  recovered=$mnt/recovered
fi
frozen=$(sed -n 's/.*frozen for \([0-9.]*\) ms.*/\1/p' "$work/ctl.out" | head -n1)
[ -n "$frozen" ] || fail "jetsnapctl snapshot did not say how long the freeze lasted"
sleep 1
[ "$(wc -l <"$work/acks")" -gt "$before" ] || fail "the writes did not go on after the snapshot"

echo "demo:    recovering the snapshot elsewhere ($recovered) and checking it"
"$app" --verify --config "$work/demo.conf" --acks "$work/snap.acks" --at-most "$work/snap.acks" \
  --writers "$writers" --map "$data=$recovered" >"$work/verify-snap.out" || fail "the snapshot does not verify"
cat "$work/verify-snap.out"
snap_checked=$(sed -n 's/^verified \([0-9]*\) .*/\1/p' "$work/verify-snap.out")
d_snap=$(elapsed "$t_snap")

echo "demo: 3. streaming backups of mail while it commits: full, then incremental (zstd)"
t_backup=$EPOCHREALTIME
mkdir "$work/backup"
"$ctl" --address "$TESTBUS_ADDRESS" backup --instance mail --type full --compress zstd \
  --output "$work/backup/mail.full" --label demo-full --progress=never --json >"$work/full.json"
sleep "$gap_s" # commits for the incremental to carry
cp "$work/acks" "$work/inc-before.acks"
"$ctl" --address "$TESTBUS_ADDRESS" backup --instance mail --type incremental --base "$work/backup/mail.full" \
  --compress zstd --output "$work/backup/mail.inc" --label demo-inc --progress=never --json >"$work/inc.json"
cp "$work/acks" "$work/inc-after.acks"
for b in mail.full mail.inc; do
  "$ctl" verify "$work/backup/$b" || fail "the backup $b does not verify"
done
echo "demo:    restoring the chain into $work/restore and checking it"
"$ctl" restore --from "$work/backup/mail.full" --from "$work/backup/mail.inc" --to "$work/restore/mail" \
  --json >"$work/restore.json"
mkdir -p "$work/restore/mail/logs" # the restored database alone: the instance starts fresh logs
"$app" --verify --config "$work/mail.conf" --acks "$work/inc-before.acks" --at-most "$work/inc-after.acks" \
  --writers "$writers" --map "$data=$work/restore" >"$work/verify-restore.out" || fail "the restore does not verify"
cat "$work/verify-restore.out"
restore_checked=$(sed -n 's/^verified \([0-9]*\) .*/\1/p' "$work/verify-restore.out")
d_backup=$(elapsed "$t_backup")

echo "demo: stopping the application"
kill -TERM "$app_pid"
wait "$app_pid" || fail "the application failed: $(cat "$work/app.err")"
app_pid=""
d_load=$(elapsed "$t_load")
total=$(wc -l <"$work/acks")

# One python for the three JSON summaries: each start costs half a second on a slow machine.
read -r bytes stored full_dbs full_logs inc_logs replayed < <(python3 -c '
import json, sys
f, i, r = (json.load(open(p)) for p in sys.argv[1:])
print(f["bytes"] + i["bytes"], f["stored_bytes"] + i["stored_bytes"], f["databases"], f["logs"], i["logs"],
      r["commits_replayed"])' "$work/full.json" "$work/inc.json" "$work/restore.json")
ratio=$(awk -v b="$bytes" -v s="$stored" 'BEGIN { printf "%.1f:1", s ? b / s : 0 }')

row() { printf '  %-40s %7s  %s\n' "$@"; }
echo
echo "demo: summary"
row "STEP" "TOOK" "RESULT"
row "1. write load, throughout: 3 x $writers writers" "$d_load" "$total commits acknowledged"
row "2. snapshot: $snap_method" "$d_snap" "3 instances frozen together for $frozen ms"
row "   recovered elsewhere and checked" "" \
  "$snap_checked commits: every one acknowledged before the freeze, none after"
row "3. backups of mail: full, incremental" "$d_backup" \
  "$(count "$full_dbs" database), $(count "$full_logs" log); then $(count "$inc_logs" log); both verified"
row "   streamed with zstd" "" \
  "$(size "$bytes") streamed, $(size "$stored") stored: ratio $ratio (the demo's values are one repeated byte)"
row "   the chain restored and checked" "" "$replayed commits replayed from the logs; $restore_checked checked: every one"
row "" "" "acknowledged before the incremental began, none after it ended"
echo "  snapshot method: $snap_method — $why"
echo "  the demo took $(elapsed "$started") in all"
