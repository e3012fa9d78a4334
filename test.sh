#!/usr/bin/env bash
# jetsnap's one test command (README "Quick start", .ci/run): installs missing Debian packages,
# then configures, builds and runs the test suites three times — a normal -Werror build, an
# AddressSanitizer + UndefinedBehaviorSanitizer build, and a ThreadSanitizer build that runs the
# 'stress' suite (64 instances driven by 16 threads, instances created and terminated under load)
# and the 'unit' suites.
#   ./test.sh            default ('fast') suites, all three builds
#   ./test.sh --slow     also the 'slow' suites (1,000-kill crash test, longer soaks)
#   ./test.sh --no-asan  skip the AddressSanitizer build (quicker local runs)
#   ./test.sh --no-tsan  skip the ThreadSanitizer build (quicker local runs)
set -euo pipefail
cd "$(dirname "$0")"

setup=fast
asan=1
tsan=1
for a in "$@"; do
  case "$a" in
    --slow) setup=full ;;
    --no-asan) asan=0 ;;
    --no-tsan) tsan=0 ;;
    *) echo "usage: $0 [--slow] [--no-asan] [--no-tsan]" >&2; exit 2 ;;
  esac
done

./scripts/deps.sh
# Before any build: every function is declared once, in a header (no prototype or extern in a .c).
./scripts/check-prototypes.sh

run() { # builddir, extra meson args... ($suites, if set, limits the run to those suites)
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@"
  fi
  meson compile -C "$dir"
  # shellcheck disable=SC2086 # $suites is a list of words
  meson test -C "$dir" --setup="$setup" --print-errorlogs --num-processes 1 ${suites:-}
}

run build
if [ "$asan" = 1 ]; then
  # detect_leaks stays on: a leak is a failure.
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
fi
if [ "$tsan" = 1 ]; then
  # The stress suite (many instances and threads at once), the unit suites (the checkpoint
  # thread against API calls) and the integration suite (the writer's bus loop, workers, timer
  # and freezer threads against a host under load); the crash and backup suites are left out to
  # keep this stage near 3 minutes on 2 cores. A report fails the run.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 suites="--suite stress --suite unit --suite integration" \
    run build-tsan -Db_sanitize=thread -Db_lundef=false -Dbench=false
fi
echo "test.sh: all suites passed"
