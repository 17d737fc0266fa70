#!/usr/bin/env bash
# The main job of the README: installs what is missing (Debian 12), builds, decrypts the bundled
# SRTP capture (made by ffmpeg) with srtpgate-pcap, shows what came out, then measures srtpgate
# against Debian libsrtp2 and the raw IPsec-MB ceiling on this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build}

"$root/.ci/configure-build" "$builddir"
meson compile -C "$builddir" apps/srtpgate-pcap/srtpgate-pcap bench/srtpgate-bench >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
key=inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY   # throwaway key of the sample (tests/data)

echo "== 1. Decrypting tests/data/sample-srtp.pcap: 2 s of a 1 kHz tone, PCMU over SRTP from ffmpeg"
"$builddir/apps/srtpgate-pcap/srtpgate-pcap" decrypt --profile AES_CM_128_HMAC_SHA1_80 \
    --key "$key" "$root/tests/data/sample-srtp.pcap" "$out/sample-rtp.pcap"

if command -v tshark >/dev/null; then
  echo
  echo "== 2. What Wireshark sees in the output (first packets, decoded as RTP/RTCP):"
  tshark -r "$out/sample-rtp.pcap" -d udp.port==5004,rtp -d udp.port==5005,rtcp \
      -T fields -e frame.number -e _ws.col.Protocol -e rtp.seq -e rtp.p_type -e _ws.col.Info \
      2>/dev/null | head -6
  echo
  echo "== 3. And the stream analysis (lost packets, sequence errors):"
  tshark -q -r "$out/sample-rtp.pcap" -d udp.port==5004,rtp -z rtp,streams 2>/dev/null | head -8
fi

echo
echo "== 4. Packets per second on this core: srtpgate vs Debian libsrtp2 vs raw IPsec-MB (~1 min)"
python3 "$root/bench/summary" --bin "$builddir/bench/srtpgate-bench" --filter \
    '(AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM)/160/(1|32)$'
