#!/usr/bin/env bash
# jetsnap's one test command (README "Quick start", .ci/run): installs missing Debian packages,
# then configures, builds and runs the test suites twice — a normal -Werror build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build.
#   ./test.sh            default ('fast') suites, both builds
#   ./test.sh --slow     also the 'slow' suites (1,000-kill crash test, longer soaks)
#   ./test.sh --no-asan  skip the sanitizer build (quicker local runs)
set -euo pipefail
cd "$(dirname "$0")"

setup=fast
asan=1
for a in "$@"; do
  case "$a" in
    --slow) setup=full ;;
    --no-asan) asan=0 ;;
    *) echo "usage: $0 [--slow] [--no-asan]" >&2; exit 2 ;;
  esac
done

./scripts/deps.sh

run() { # builddir, extra meson args...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@"
  fi
  meson compile -C "$dir"
  meson test -C "$dir" --setup="$setup" --print-errorlogs --num-processes 1
}

run build
if [ "$asan" = 1 ]; then
  # detect_leaks stays on: a leak is a failure.
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
fi
echo "test.sh: all suites passed"
