#!/bin/bash
# test-backup.sh — jetsnapctl backup, verify and restore against the real writer: jetsnap-demo-app
# hosts an instance through jetsnap-writer.so on a private bus and four writers commit a steady
# load on it, recording each acknowledged commit; jetsnapctl streams backups of it as an
# administrator would.
#   test-backup.sh JETSNAPCTL DEMO_APP
# Runs as root (CI does): the full-disk case mounts a small tmpfs of its own. Every wait is
# bounded; the EXIT trap kills what is left (by pid), unmounts and stops the bus.
#
# What it holds jetsnapctl to (docs/jetsnapctl.md, "backup", "verify", "restore"): a full backup and
# two incrementals taken while the load commits, with and without zstd, each with a manifest that
# verifies; the chain restored into a new directory holds every commit acknowledged before its
# last backup began (jetsnap-demo-app --verify); a chain bounded by --until-generation holds those
# acknowledged before its full backup; --output - piped into tar -x gives the same files as
# --output DIR, and they verify; .zst files are plain zstd frames; verify catches a flipped byte in
# a database file, in a log, in a compressed file and in the manifest, a damaged database page
# whose manifest entry agrees with it (the engine's page verifier), a missing file and a stray
# one, naming the file, and restore refuses each (13) with nothing restored; a chain with a gap
# is refused (13); a full disk at the destination gives exit 11 naming ENOSPC and the file, the
# backup ends invalid (nothing truncated, the writer free for the next backup) and the instance
# keeps committing; --max-rate holds a copy to its rate (it takes at least its bytes over the rate).
set -uo pipefail

CTL=$(realpath -- "$1")
APP=$(realpath -- "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testbus.sh
source "$HERE/testbus.sh"

DIR=$(mktemp -d /tmp/test-backup.XXXXXX)
APID=
MOUNTED=
cleanup() {
  if [ -n "$APID" ] && kill -0 "$APID" 2>/dev/null; then kill -KILL "$APID" 2>/dev/null; fi
  [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
  testbus_stop
  if [ "${PASSED:-0}" = 1 ]; then rm -rf "$DIR"; else echo "test-backup: files kept in $DIR" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -s "$DIR/app.log" ] && { echo "--- app.log" >&2; tail -n 20 "$DIR/app.log" >&2; }
  exit 1
}
ok() { echo "ok: $*"; }

CTL_TIMEOUT=120

# backup NAME ARGS...: a backup of mail into $DIR/b/NAME; its manifest must verify.
backup() {
  local name=$1
  shift
  ctl 0 "bk-$name" backup --instance mail --output "$DIR/b/$name" --progress=never --json --label "$name" "$@"
  ctl 0 "vf-$name" verify "$DIR/b/$name"
}
# restored_verifies ROOT ACKS AFTER: the databases restored under ROOT/mail hold every commit in
# ACKS (copied before the backup began) and none past those in AFTER (copied once it had ended): the
# bounds the external backup sequence gives.
restored_verifies() {
  timeout 60 "$APP" --verify --config "$DIR/writer.conf" --acks "$2" --at-most "$3" --writers 4 --map "$DIR/data=$1" \
    >"$DIR/dv.out" 2>"$DIR/dv.err" || fail "$1 does not hold the commits of $2: $(cat "$DIR/dv.out" "$DIR/dv.err")"
  grep -Eq '^verified [1-9][0-9]* acknowledged commits in 1 instances, and none past the later acks file$' \
    "$DIR/dv.out" || fail "demo-app --verify: $(cat "$DIR/dv.out")"
}

# ---- the command line, without a writer ----
for c in backup verify restore; do
  timeout 10 "$CTL" "$c" --help >"$DIR/help.out" 2>&1 || fail "$c --help exited $?"
  grep -q "^Usage: jetsnapctl $c" "$DIR/help.out" || fail "$c --help: $(cat "$DIR/help.out")"
  grep -q "Exit codes" "$DIR/help.out" || fail "$c --help does not give the exit codes"
done
for a in "backup --instance m --type full" "backup --instance m --type bogus --output x" \
  "backup --instance m --type incremental --output x" "backup --instance m --type full --output x --base y" \
  "backup --instance m --type full --output x --compress lz4" "backup --instance m --type full --output x --max-rate 1k" \
  "backup --instance m --type full --output x --max-rate fast" "verify" "restore --to x" \
  "restore --from x" "restore --from x --to y --until yesterday" "restore --from x --to y --map nonsense"; do
  # shellcheck disable=SC2086 # split into words on purpose
  timeout 10 "$CTL" $a >/dev/null 2>"$DIR/usage.err"
  rc=$?
  [ "$rc" = 2 ] || fail "jetsnapctl $a exited $rc, expected 2"
  grep -q "Try 'jetsnapctl" "$DIR/usage.err" || fail "jetsnapctl $a: $(cat "$DIR/usage.err")"
done
ok "--help of backup, verify, restore gives the exit codes; usage errors exit 2"

testbus_start "$DIR" || fail "no private bus"
cat >"$DIR/writer.conf" <<EOF
[writer]
allow_users = root

[instance mail]
system_path = $DIR/data/mail
log_path = $DIR/data/mail
database = $DIR/data/mail/db.edb
log_file_size_kb = 256
EOF
# Four writers commit on the instance throughout, as in a busy application.
testbus_app --config "$DIR/writer.conf" --address "$TESTBUS_ADDRESS" --create --load --acks "$DIR/acks" --writers 4
mkdir -p "$DIR/b"
wait_acks 200

# ---- a chain: full, incremental, incremental (zstd), while the load commits ----
cp "$DIR/acks" "$DIR/acks.0"
before_full=$(date +@%s.%6N)
backup full --type full
cp "$DIR/acks" "$DIR/acks.0after"
# A point in time with no commit near it: the writers are stopped (SIGSTOP), the time taken in
# the middle of the pause, and the acks copied while nothing can be acknowledged.
wait_acks 100
kill -STOP "$APID"
sleep 0.2
cp "$DIR/acks" "$DIR/acks.T"
until_t=$(date +%s%6N)
sleep 0.2
kill -CONT "$APID"
m="$DIR/b/full/backup_manifest"
[ "$(pyjson "(d['format_version'], d['instance'], d['backup_type'], d['label'], d['base'], d['writer']['bus_name'])" "$m")" = \
  "(1, 'mail', 'full', 'full', None, 'org.jetsnap.Writer1')" ] || fail "full manifest: $(head -c 2000 "$m")"
[ "$(pyjson "sorted(set((f['kind'], f['compression']) for f in d['files']))" "$m")" = "[('data', 'none'), ('log', 'none')]" ] ||
  fail "full backup files: $(head -c 3000 "$m")"
[ "$(pyjson "all(f['checksum'].startswith('crc32c:') and f['size'] == f['stored_size'] for f in d['files'])" "$m")" = True ] ||
  fail "full manifest file entries: $(head -c 3000 "$m")"
[ "$(pyjson "d['log_range']['first_generation'] <= d['log_range']['last_generation']" "$m")" = True ] || fail "log range"
[ "$(pyjson "(d['backup_type'], d['databases'], d['truncated_to_generation'] is not None)" "$DIR/bk-full.out")" = \
  "('full', 1, True)" ] || fail "backup --json: $(cat "$DIR/bk-full.out")"
grep -q 'verified' "$DIR/vf-full.err" || fail "verify said: $(cat "$DIR/vf-full.err")"
full_last=$(pyjson "d['log_range']['last_generation']" "$m")
wait_acks 300
backup inc1 --type incremental --base "$DIR/b/full"
m1="$DIR/b/inc1/backup_manifest"
[ "$(pyjson "(d['backup_type'], d['base']['manifest_checksum'] == json.load(open('$m'))['manifest_checksum'], sorted(set(f['kind'] for f in d['files'])))" "$m1")" = \
  "('incremental', True, ['log'])" ] || fail "incremental manifest: $(head -c 2000 "$m1")"
wait_acks 300
cp "$DIR/acks" "$DIR/acks.2"
backup inc2 --type incremental --base "$DIR/b/inc1" --compress zstd:5
cp "$DIR/acks" "$DIR/acks.2after"
[ "$(pyjson "sorted(set(f['compression'] for f in d['files']))" "$DIR/b/inc2/backup_manifest")" = "['zstd']" ] ||
  fail "inc2 is not compressed"
for f in "$DIR"/b/inc2/*.zst; do
  zstd -q -t "$f" || fail "$f is not a zstd frame zstd -t accepts"
done
ok "full, incremental, incremental (zstd) while committing; manifests chained; all verify"

# zstd from the full backup on.
wait_acks 200
backup fullz --type full --compress zstd
wait_acks 300
cp "$DIR/acks" "$DIR/acks.z"
backup incz --type incremental --base "$DIR/b/fullz" --compress zstd
cp "$DIR/acks" "$DIR/acks.zafter"
[ "$(pyjson "sorted(set((f['kind'], f['compression']) for f in d['files']))" "$DIR/b/fullz/backup_manifest")" = \
  "[('data', 'zstd'), ('log', 'zstd')]" ] || fail "fullz files: $(head -c 2000 "$DIR/b/fullz/backup_manifest")"
ok "a zstd full and incremental"

# ---- --max-rate: the whole backup is held to the rate ----
# 2 MiB/s: well above the rate the writers add log at, so the log range the copy ends with stays
# short, and slow enough that even a sanitizer build's small database (a few MiB) cannot copy
# at its unpaced speed without being seen.
rate_k=2048
t0=$(date +%s%N)
backup paced --type copy --max-rate "${rate_k}k"
t1=$(date +%s%N)
stored=$(pyjson "d['stored_bytes']" "$DIR/bk-paced.out")
[ "$stored" -ge $((1 << 20)) ] || fail "the paced copy stored only $stored bytes: too few to see a pace"
# Every byte but the last piece read (256 KiB) waits for its turn at the rate.
least=$(((stored - (256 << 10)) * 1000 / (rate_k << 10)))
took=$(((t1 - t0) / 1000000))
[ "$took" -ge "$least" ] || fail "--max-rate ${rate_k}k stored $stored bytes in $took ms; at that rate it takes at least $least ms"
ok "--max-rate ${rate_k}k: $stored bytes in $took ms (at least $least ms at that rate), verified"

# ---- tar on stdout: the same files as a directory ----
timeout 120 "$CTL" --address "$TESTBUS_ADDRESS" backup --instance mail --type copy --output - --progress=never \
  --compress zstd 2>"$DIR/tar.err" | tar -x -C "$(mkdir -p "$DIR/b/tarz" && echo "$DIR/b/tarz")"
st=("${PIPESTATUS[@]}")
[ "${st[0]}" = 0 ] && [ "${st[1]}" = 0 ] || fail "backup --output - | tar -x: $(cat "$DIR/tar.err")"
grep -q 'backup completed' "$DIR/tar.err" || fail "tar backup summary: $(cat "$DIR/tar.err")"
ctl 0 vf-tarz verify "$DIR/b/tarz"
timeout 120 "$CTL" --address "$TESTBUS_ADDRESS" backup --instance mail --type copy --output - --progress=always \
  2>"$DIR/tar2.err" >"$DIR/plain.tar" || fail "backup --output - >file: $(cat "$DIR/tar2.err")"
mkdir -p "$DIR/b/tar"
tar -x -C "$DIR/b/tar" -f "$DIR/plain.tar" || fail "tar -x of the stream"
ctl 0 vf-tar verify "$DIR/b/tar"
grep -q 'MB/s' "$DIR/tar2.err" || fail "--progress=always printed no progress line"
backup copydir --type copy
names() { (cd "$1" && ls | sed -E 's/edb[0-9A-F]+\.log/edbN.log/' | sort -u); }
[ "$(names "$DIR/b/tar")" = "$(names "$DIR/b/copydir")" ] ||
  fail "the tar stream holds $(names "$DIR/b/tar" | tr '\n' ' '), the directory $(names "$DIR/b/copydir" | tr '\n' ' ')"
[ "$(names "$DIR/b/tarz")" = "$(names "$DIR/b/fullz")" ] || fail "zstd tar and directory differ"
ok "--output - | tar -x: the same files and manifest as --output DIR, verified (with and without zstd)"

# ---- restore: the chains, checked against the acknowledged commits ----
ctl 0 rs-a restore --from "$DIR/b/full" --from "$DIR/b/inc1" --from "$DIR/b/inc2" --to "$DIR/rA/mail"
grep -q 'restore completed: instance mail, 3 backup sets, 1 database' "$DIR/rs-a.err" || fail "restore: $(cat "$DIR/rs-a.err")"
[ -z "$(ls -A "$DIR/rA/mail" | grep -v '^db.edb$')" ] || fail "restore left files behind: $(ls -A "$DIR/rA/mail")"
restored_verifies "$DIR/rA" "$DIR/acks.2" "$DIR/acks.2after"
# The upper bound is a real check: against the acks of before the full backup, rA holds too much.
if timeout 60 "$APP" --verify --config "$DIR/writer.conf" --acks "$DIR/acks.0" --at-most "$DIR/acks.0" --writers 4 \
  --map "$DIR/data=$DIR/rA" >"$DIR/dv.out" 2>"$DIR/dv.err"; then
  fail "demo-app --verify --at-most accepted a copy with later commits: $(cat "$DIR/dv.out")"
fi
grep -q "only up to [0-9]* had been acknowledged" "$DIR/dv.err" || fail "--at-most said: $(cat "$DIR/dv.err")"
ctl 0 rs-z restore --from "$DIR/b/fullz" --from "$DIR/b/incz" --to "$DIR/rZ/elsewhere" \
  --map "$DIR/data/mail/db.edb=$DIR/rZ/mail/db.edb" --json
[ "$(pyjson "(d['sets'], [x['path'] for x in d['databases']], d['logs_replayed'] > 0)" "$DIR/rs-z.out")" = \
  "(2, ['$DIR/rZ/mail/db.edb'], True)" ] || fail "restore --json: $(cat "$DIR/rs-z.out")"
restored_verifies "$DIR/rZ" "$DIR/acks.z" "$DIR/acks.zafter"
ctl 0 rs-g restore --from "$DIR/b/full" --from "$DIR/b/inc1" --from "$DIR/b/inc2" --to "$DIR/rG/mail" \
  --until-generation "$full_last" --json
[ "$(pyjson "d['last_generation']" "$DIR/rs-g.out")" = "$full_last" ] || fail "--until-generation: $(cat "$DIR/rs-g.out")"
restored_verifies "$DIR/rG" "$DIR/acks.0" "$DIR/acks.0after"
# --until TIME: exactly the commits before it — every one acknowledged before the pause, none
# acknowledged after it (only the one a writer may have had in flight when it was stopped).
ctl 0 rs-t restore --from "$DIR/b/full" --from "$DIR/b/inc1" --from "$DIR/b/inc2" --to "$DIR/rT/mail" \
  --until "@${until_t:0:-6}.${until_t: -6}" --json
[ "$(pyjson "(d['last_commit_time_usec'] < $until_t, d['commits_replayed'] > 0, d['last_commit_time'] is not None)" \
  "$DIR/rs-t.out")" = "(True, True, True)" ] || fail "restore --until: $(cat "$DIR/rs-t.out")"
restored_verifies "$DIR/rT" "$DIR/acks.T" "$DIR/acks.T"
ctl 0 rs-t2 restore --from "$DIR/b/full" --from "$DIR/b/inc1" --to "$DIR/rT2/mail" \
  --until "$(date -u -d "@${until_t:0:-6}.${until_t: -6}" +%Y-%m-%dT%H:%M:%S.%6NZ)"
grep -q 'commits, the last at ' "$DIR/rs-t2.err" || fail "restore --until (RFC 3339): $(cat "$DIR/rs-t2.err")"
restored_verifies "$DIR/rT2" "$DIR/acks.T" "$DIR/acks.T"
# Before the full backup had ended the copy was not consistent yet: refused, nothing left.
ctl 14 rs-early restore --from "$DIR/b/full" --from "$DIR/b/inc1" --to "$DIR/rE/mail" --until "$before_full"
grep -q 'before the backup of mail is consistent' "$DIR/rs-early.err" || fail "too early: $(cat "$DIR/rs-early.err")"
grep -q 'JET_errEndingRestoreLogTooLow' "$DIR/rs-early.err" || fail "too early: $(cat "$DIR/rs-early.err")"
[ -e "$DIR/rE/mail/db.edb" ] && fail "a refused restore left $DIR/rE/mail/db.edb"
ctl 13 rs-gap restore --from "$DIR/b/full" --from "$DIR/b/inc2" --to "$DIR/rX"
grep -q "does not build on" "$DIR/rs-gap.err" || fail "a chain with a gap: $(cat "$DIR/rs-gap.err")"
[ -e "$DIR/rX/db.edb" ] && fail "a refused chain restored a database"
# A time after the chain's last commit restores all of it; a TIME that is no time is a usage error.
ctl 0 rs-until restore --from "$DIR/b/full" --to "$DIR/rU/mail" --until "2030-01-01T00:00:00.5Z"
restored_verifies "$DIR/rU" "$DIR/acks.0" "$DIR/acks.0after"
ctl 2 rs-badtime restore --from "$DIR/b/full" --to "$DIR/rV" --until "yesterday-ish"
ok "restore of each chain holds every commit acknowledged before its last backup began and none acknowledged after it ended; --until TIME lands on the commits before it; --until-generation; too early and a gap refused"

# ---- damage: verify names the file, restore refuses ----
# damage NAME FILE-IN-SET: a copy of SET with one byte of FILE flipped (in the middle).
flip() {
  local f=$1 size off byte
  size=$(stat -c %s "$f")
  off=$((size / 2))
  byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 0x5a)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
damaged() { # NAME SET WHAT-IS-NAMED: verify exits 13 naming it; restore refuses it.
  ctl 13 "vd-$1" verify "$DIR/d/$1"
  grep -q "$3" "$DIR/vd-$1.err" || fail "verify of $1 does not name $3: $(cat "$DIR/vd-$1.err")"
  ctl 13 "rd-$1" restore --from "$DIR/d/$1" --to "$DIR/rd-$1"
  grep -q "refused" "$DIR/rd-$1.err" || fail "restore of $1: $(cat "$DIR/rd-$1.err")"
  [ -e "$DIR/rd-$1" ] && fail "restore of the damaged $1 wrote $(ls -R "$DIR/rd-$1")"
  return 0
}
mkdir -p "$DIR/d"
for n in db log zst manifest missing stray; do
  src=full
  [ "$n" = zst ] && src=fullz
  cp -a "$DIR/b/$src" "$DIR/d/$n"
done
flip "$DIR/d/db/db.edb"
damaged db db "d/db/db.edb: checksum mismatch"
log=$(cd "$DIR/d/log" && ls edb*.log | head -1)
flip "$DIR/d/log/$log"
damaged log log "d/log/$log: checksum mismatch"
zst=$(cd "$DIR/d/zst" && ls db.edb.zst)
flip "$DIR/d/zst/$zst"
damaged zst zst "d/zst/$zst: "
sed -i '0,/"size": \([0-9]\)/s//"size": 9\1/' "$DIR/d/manifest/backup_manifest"
cmp -s "$DIR/d/manifest/backup_manifest" "$DIR/b/full/backup_manifest" && fail "the manifest was not changed"
damaged manifest manifest "backup_manifest: the manifest is damaged"
# A database stream damaged before its checksum was recorded: the manifest agrees with the file,
# only the engine's page verifier can tell.
cp -a "$DIR/b/full" "$DIR/d/pages"
flip "$DIR/d/pages/db.edb"
/usr/bin/python3 - "$DIR/d/pages" <<'PY' || fail "cannot rewrite the manifest of d/pages"
import sys
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ T[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF
d = sys.argv[1]
text = open(d + "/backup_manifest").read()
old = text.split('"stored_as": "db.edb"', 1)[1].split('"checksum": "', 1)[1][:15]
text = text.replace(old, "crc32c:%08x" % crc32c(open(d + "/db.edb", "rb").read()))
cut = text.rindex('\n  "manifest_checksum": ') + 1
text = text[:cut] + '  "manifest_checksum": "crc32c:%08x"\n}\n' % crc32c(text[:cut].encode())
open(d + "/backup_manifest", "w").write(text)
PY
damaged pages pages "d/pages/db.edb: JET_err[A-Za-z]* (-[0-9]*): "
rm "$DIR/d/missing/$log"
damaged missing missing "d/missing/$log: missing"
echo extra >"$DIR/d/stray/notes.txt"
damaged stray stray "d/stray/notes.txt: present but not in the manifest"
ok "verify names a flipped byte in a database, a log, a zstd file and the manifest, a damaged page the manifest agrees with, a missing and a stray file; restore refuses each"

# ---- a full disk at the destination ----
mkdir -p "$DIR/small"
dbsize=$(stat -c %s "$DIR/data/mail/db.edb")
mount -t tmpfs -o size=$((dbsize / 2 / 4096 * 4096 + 4096)) tmpfs "$DIR/small" ||
  fail "cannot mount a small tmpfs for the full-disk case (this test runs as root)"
MOUNTED="$DIR/small"
oldest=$(cd "$DIR/data/mail" && ls edb0*.log | sort | head -1)
ctl 11 enospc backup --instance mail --type full --output "$DIR/small/b" --progress=never
grep -q "ENOSPC" "$DIR/enospc.err" || fail "a full disk: $(cat "$DIR/enospc.err")"
grep -q "$DIR/small/b/db.edb" "$DIR/enospc.err" || fail "a full disk does not name the file: $(cat "$DIR/enospc.err")"
grep -q "ended as failed (EndBackup(false)): nothing was recorded or truncated" "$DIR/enospc.err" ||
  fail "a full disk does not say the backup was ended: $(cat "$DIR/enospc.err")"
[ -e "$DIR/small/b" ] && fail "a failed backup left $(ls -la "$DIR/small/b")"
[ -e "$DIR/data/mail/$oldest" ] || fail "a failed backup truncated the logs ($oldest is gone)"
umount "$DIR/small" && MOUNTED=
wait_acks 100
cp "$DIR/acks" "$DIR/acks.after"
backup after --type incremental --base "$DIR/b/incz"
cp "$DIR/acks" "$DIR/acks.afterend"
ctl 0 rs-after restore --from "$DIR/b/fullz" --from "$DIR/b/incz" --from "$DIR/b/after" --to "$DIR/rAfter/mail"
restored_verifies "$DIR/rAfter" "$DIR/acks.after" "$DIR/acks.afterend"
ok "a full disk: exit 11 naming ENOSPC and the file, nothing left or truncated; the next incremental continues the chain"

kill -TERM "$APID"
timeout 30 tail --pid="$APID" -f /dev/null || fail "the demo app did not stop in 30 s"
wait "$APID" || fail "the demo app's load failed: $(tail -5 "$DIR/app.log")"
APID=
ok "the instance committed throughout and stopped cleanly"
PASSED=1
