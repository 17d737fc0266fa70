#!/usr/bin/env bash
# The test command of the README and of CI: installs what is missing (Debian 12), then builds
# and runs every test twice: a release build (what ships), and a build with AddressSanitizer and
# UndefinedBehaviorSanitizer (out-of-bounds access, leaks, undefined behaviour fail the run).
# Then the dataplane's control-to-worker messaging and flow churn tests under ThreadSanitizer,
# and every libFuzzer target for FUZZ_SECONDS (default 20) each, built with clang.
# BUILDDIR overrides the release build folder (default: build; the others are BUILDDIR-asan,
# BUILDDIR-tsan, BUILDDIR-fuzz). SKIP_FUZZ=1 skips the fuzzing stage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build}

status=0
run_suite() {
  local dir=$1
  shift
  "$root/.ci/configure-build" "$dir" "$@"
  meson compile -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
}

echo "== release build"
# The oracle and the memcheck tools are installed above: asking for them means a missing one
# fails the configure instead of leaving its tests out of the build unnoticed.
required_tools=(-Dlibsrtp2_oracle=enabled)
run_suite "$builddir" "${required_tools[@]}" -Dvalgrind_checks=enabled
echo "== ASan + UBSan build"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite "$builddir-asan" "${required_tools[@]}" -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized -Dbenchmarks=false

echo "== ThreadSanitizer: dataplane messaging and churn"
unset ASAN_OPTIONS
"$root/.ci/configure-build" "$builddir-tsan" "${required_tools[@]}" -Db_sanitize=thread \
    -Db_lundef=false -Dbuildtype=debugoptimized -Dbenchmarks=false
meson compile -C "$builddir-tsan" tests/dataplane/srtpgate-dp-tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    meson test -C "$builddir-tsan" --no-rebuild --print-errorlogs dataplane-dpdk || status=1

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  echo "== libFuzzer targets, ${FUZZ_SECONDS:-20} s each"
  BUILDDIR="$builddir-fuzz" "$root/tests/fuzz/run.sh" "${FUZZ_SECONDS:-20}" || status=1
fi

# One closing line that counts every test case of the three runs: meson's JUnit log lists each
# GoogleTest case and each script test once. Skipped tests are named: everything they need is
# installed above, so on a root run a skip is a test that silently stopped running.
python3 - "$builddir/meson-logs/testlog.junit.xml" "$builddir-asan/meson-logs/testlog.junit.xml" \
    "$builddir-tsan/meson-logs/testlog.junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
passed = failed = 0
skipped = []
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        failed += 1  # a run that left no log counts as a failure
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("result") == "skipped":
            skipped.append(case.get("classname", "") + " " + case.get("name", ""))
        else:
            passed += 1
for name in skipped:
    print("SKIPPED: " + name)
print(f"{passed} passed, {failed} failed, {len(skipped)} skipped")
PY
exit $status
