#!/usr/bin/env bash
# The one list of Debian packages jetsnap needs to build, test and benchmark. test.sh, .ci/run and
# the README all install through this script, so a package added here reaches every one of them.
# Installs only what is missing; needs root (or sudo) when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config meson ninja-build   # build
  check                                          # unit tests (Check)
  libinih-dev libzstd-dev libdbus-1-dev          # conf/, backup streams, D-Bus writer
  zstd                                           # tests: a zstd stream must decompress with the CLI
  dbus-daemon dbus-bin                           # private bus for integration tests
  libjson-c-dev                                  # jetsnapctl --json, backup manifests
  libarchive-dev                                 # jetsnapctl backup --output - (tar streams)
  systemd libglib2.0-bin python3-dbus util-linux # real D-Bus clients in tests: busctl, gdbus, dbus-python; setpriv
  python3-gi                                     # GLib's main loop for dbus-python clients that wait for signals
  qemu-guest-agent socat e2fsprogs bsdutils      # tests: the real qemu-ga fsfreeze hook on a loop ext4; logger
  snapper btrfs-progs                            # tests: jetsnapctl snapshot --snapper and -- btrfs on a loop btrfs
  libsqlite3-dev sqlite3                         # benchmark baseline
  liblmdb-dev lmdb-utils                         # bench-backup baseline (mdb_copy)
  clang                                          # fuzz targets (libFuzzer)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
