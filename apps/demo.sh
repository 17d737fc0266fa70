#!/usr/bin/env bash
# The main job of the README: installs what is missing (Debian 12), builds, and starts the
# srtpgate daemon on its embedded default: no NIC and no hugepages needed. Fresh SRTP (the
# sample key, AES_CM_128_HMAC_SHA1_80) is generated on the main lcore into an in-process ring
# port; worker lcore 1 decrypts it and forwards plain RTP to a net_null port; a statistics line
# every second shows packets per second in and out and drops by reason. Ctrl-C stops it.
#
#   apps/demo.sh [app args...]      e.g. apps/demo.sh --demo-rate 1000000
#   DEMO_SECONDS=10 apps/demo.sh    stop by itself after 10 s
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build}
socket=${SRTPGATE_CONTROL_SOCKET:-/tmp/srtpgate-demo.sock}

"$root/.ci/configure-build" "$builddir"
meson compile -C "$builddir" apps/srtpgate/srtpgate apps/srtpgate-ctl/srtpgate-ctl >/dev/null

cat <<TEXT
== srtpgate on its embedded default: SRTP in on a virtual port, RTP out on another.
   While it runs, from another terminal:
     $builddir/apps/srtpgate-ctl/srtpgate-ctl --socket $socket list
     $builddir/apps/srtpgate-ctl/srtpgate-ctl --socket $socket stats
   Stop with Ctrl-C (it prints the final counters).
TEXT

cmd=("$builddir/apps/srtpgate/srtpgate" -l 0-1 --no-huge --no-pci -m 1024
     --file-prefix "srtpgate-demo-$$" --log-level lib.eal:warning
     -- --demo --control "$socket" "$@")
if [ -n "${DEMO_SECONDS:-}" ]; then
  exec timeout -s INT -k 10 "$DEMO_SECONDS" "${cmd[@]}"
fi
exec "${cmd[@]}"
