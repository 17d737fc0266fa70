#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, coverage on all project code) and runs
# each for a bounded time on a scratch copy of its seed corpus, one after the other.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS per target: the argument, else $FUZZ_SECONDS, else 60. TARGETs default to all.
# BUILDDIR (default: build-fuzz at the top of the tree) is configured when it does not exist.
# Exits non-zero when a target does not build or libFuzzer reports a crash, a leak, a sanitizer
# error, a timeout or running out of memory; the reproducer is kept under $WORKDIR/<target>/.
# NICE (default 10) and JOBS (default 1) keep it polite on a shared machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${BUILDDIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
all_targets=(fuzz_srtp_unprotect fuzz_sdes_key fuzz_dtls_endpoint fuzz_pcap_reader
             fuzz_frame_classifier fuzz_control_protocol fuzz_config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
nice_cmd=(nice -n "${NICE:-10}")

if [ ! -f "$builddir/build.ninja" ]; then
  # fuzzer-no-link on every object gives libFuzzer the coverage of the libraries too; werror is
  # off because clang warns where GCC does not (see the report in docs/security.md).
  CXX=${CXX:-clang++} CC=${CC:-clang} "${nice_cmd[@]}" meson setup "$builddir" "$root" \
      -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
      -Dbenchmarks=false -Dwerror=false -Dcpp_args=-fsanitize=fuzzer-no-link
fi

status=0
built=()
for t in "${targets[@]}"; do
  if "${nice_cmd[@]}" ninja -C "$builddir" -j "${JOBS:-1}" "tests/fuzz/$t"; then
    built+=("$t")
  else
    echo "== $t: does not build" >&2
    status=1
  fi
done

workdir=${WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/srtpgate-fuzz.XXXXXX")}
echo "== scratch corpora and artifacts in $workdir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for t in "${built[@]}"; do
  mkdir -p "$workdir/$t/corpus" "$workdir/$t/artifacts"
  cp -r "$root/tests/fuzz/corpus/$t/." "$workdir/$t/corpus/" 2>/dev/null || true
  echo "== $t: ${seconds}s"
  rc=0
  (cd "$workdir/$t" && "${nice_cmd[@]}" "$builddir/tests/fuzz/$t" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$workdir/$t/artifacts/" corpus >"$workdir/$t/log" 2>&1) || rc=$?
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|ERROR|SUMMARY|invariant' \
      "$workdir/$t/log" || true
  if [ "$rc" != 0 ] || grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:' \
      "$workdir/$t/log"; then
    echo "== $t: FAILED (exit $rc), see $workdir/$t/log and $workdir/$t/artifacts/" >&2
    status=1
  else
    echo "== $t: ok"
  fi
done
exit $status
