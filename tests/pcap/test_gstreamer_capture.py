#!/usr/bin/env python3
"""GStreamer srtpenc (libsrtp2) sends SRTP on loopback for AEAD_AES_128_GCM, AEAD_AES_256_GCM and
AES_256_CM_HMAC_SHA1_80; srtpgate-pcap decrypts the capture. The payloads must equal what the same
deterministic pipeline writes without srtpenc, and encrypting the plain capture again must give
libsrtp2's bytes exactly. Usage: test_gstreamer_capture.py SRTPGATE_PCAP WORKDIR"""

import base64
import os
import sys

from pcaplib import (check, free_port_pair, loopback_capture, main, need_tools, read_capture,
                     parse_udp_frame, rtp_payload_stream, run, run_tool, udp_payloads, udp_sink)

# (srtpenc cipher, srtpenc auth, SDES profile name, key + salt bytes)
CASES = [
    ("aes-128-gcm", "null", "AEAD_AES_128_GCM", 16 + 12),
    ("aes-256-gcm", "null", "AEAD_AES_256_GCM", 32 + 12),
    ("aes-256-icm", "hmac-sha1-80", "AES_256_CM_HMAC_SHA1_80", 32 + 14),
]
BUFFERS = 50
SOURCE = ["audiotestsrc", f"num-buffers={BUFFERS}", "samplesperbuffer=160", "!",
          "audio/x-raw,rate=8000,channels=1", "!", "mulawenc"]


def gst(args):
    # gst-launch must see SIGINT (-e turns it into EOS); kill it 3 s later if it hangs.
    return run(["timeout", "-k", "3", "-s", "INT", "60", "gst-launch-1.0", "-q", "-e"] + args,
               timeout=90)


def one_case(tool, work, cipher, auth, profile, key_len, ref):
    key = os.urandom(key_len)
    sdes = "inline:" + base64.b64encode(key).decode()
    port = free_port_pair()
    cap = os.path.join(work, f"gst-{profile}.pcapng")
    plain = os.path.join(work, f"gst-{profile}-plain.pcap")
    with udp_sink([port]), loopback_capture(cap, [port]):
        r = gst(SOURCE + ["!", "rtppcmupay", "!", "srtpenc", f"key={key.hex()}",
                          f"rtp-cipher={cipher}", f"rtp-auth={auth}", f"rtcp-cipher={cipher}",
                          f"rtcp-auth={auth}", "!", "udpsink", "host=127.0.0.1", f"port={port}"])
        check(r.returncode == 0, f"{profile}: gst-launch srtpenc failed ({r.returncode}): "
              + r.stdout + r.stderr)

    counts, err = run_tool(tool, ["decrypt", "--profile", profile, "--key", sdes, cap, plain])
    rtp = udp_payloads(plain, port, verify_checksums=True)
    check(counts.get("rtp decrypted ok") == len(rtp) and len(rtp) >= 1,
          f"{profile}: {len(rtp)} packets out:\n{err}")
    got = rtp_payload_stream(rtp)
    check(got == ref, f"{profile}: decrypted payload ({len(got)} bytes) != reference "
                      f"({len(ref)} bytes)")

    again = os.path.join(work, f"gst-{profile}-reencrypted.pcap")
    counts, err = run_tool(tool, ["encrypt", "--profile", profile, "--key", sdes, plain, again])
    linktype, orig = read_capture(cap)
    orig_rtp = [u.payload for u in (parse_udp_frame(linktype, f) for _, _, f in orig)
                if u is not None and u.dport == port]
    check(udp_payloads(again, port, verify_checksums=True) == orig_rtp,
          f"{profile}: srtpgate's SRTP differs from libsrtp2's for the same packets")
    print(f"{profile}: {len(rtp)} packets, {len(got)} payload bytes OK", file=sys.stderr)


def test(argv):
    tool, work = argv[0], argv[1]
    need_tools("gst-launch-1.0", "gst-inspect-1.0", "dumpcap")
    r = run(["gst-inspect-1.0", "srtpenc"])
    check(r.returncode == 0, "GStreamer srtpenc missing: apt-get install gstreamer1.0-plugins-bad")
    os.makedirs(work, exist_ok=True)
    ref_path = os.path.join(work, "gst-tone.ulaw")
    r = gst(SOURCE + ["!", "filesink", f"location={ref_path}"])
    check(r.returncode == 0, "reference pipeline failed: " + r.stderr)
    with open(ref_path, "rb") as f:
        ref = f.read()
    check(len(ref) == BUFFERS * 160, f"reference is {len(ref)} bytes")
    for case in CASES:
        one_case(tool, work, *case, ref)


if __name__ == "__main__":
    main(test)
