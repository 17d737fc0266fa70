#!/usr/bin/env python3
"""The README demo: the bundled ffmpeg capture tests/data/sample-srtp.pcap decrypts with the key
documented in tests/data/README.md, into the PCMU of ffmpeg's 1 kHz test tone.
Usage: test_sample.py SRTPGATE_PCAP SAMPLE WORKDIR"""

import os
import struct

from pcaplib import (check, check_plain_rtcp, main, need_tools, rtp_payload_stream, run, run_tool,
                     udp_payloads)

KEY = "inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY"  # also in tests/data/README.md
PORT = 5004


def test(argv):
    tool, sample, work = argv
    need_tools("ffmpeg")
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "sample-plain.pcap")
    counts, err = run_tool(tool, ["decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key",
                                  KEY, sample, out])
    check(counts.get("rtp decrypted ok") == 100 and counts.get("rtcp decrypted ok") == 1, err)
    check(counts.get("failed") == 0 and counts.get("passed through") == 0, err)
    # The command line: help, a bad argument (exit 2), an unreadable input (exit 1).
    r = run([tool, "--help"])
    check(r.returncode == 0 and "--flow SRC:PORT-DST:PORT" in r.stdout, "--help: " + r.stderr)
    r = run([tool, "decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--ssrc", "1", sample, out])
    check(r.returncode == 2 and "followed by the --key" in r.stderr, "bad args: " + r.stderr)
    r = run([tool, "decrypt", "--profile", "AES_CM_128_HMAC_SHA1_80", "--key", KEY,
             sample + ".missing", out])
    check(r.returncode == 1 and ".missing" in r.stderr, "missing input: " + r.stderr)

    ref = os.path.join(work, "sample-tone.ulaw")
    r = run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", "sine=frequency=1000:sample_rate=8000:samples_per_frame=160", "-t", "2",
             "-c:a", "pcm_mulaw", "-f", "mulaw", ref])
    check(r.returncode == 0, r.stderr)
    rtp = udp_payloads(out, PORT, verify_checksums=True)
    with open(ref, "rb") as f:
        check(rtp_payload_stream(rtp) == f.read(), "sample payload is not the 1 kHz tone")
    for p in udp_payloads(out, PORT + 1, verify_checksums=True):
        check_plain_rtcp(p, struct.unpack("!I", rtp[0][8:12])[0])


if __name__ == "__main__":
    main(test)
