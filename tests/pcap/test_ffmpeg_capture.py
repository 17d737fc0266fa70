#!/usr/bin/env python3
"""ffmpeg sends SRTP (AES_CM_128_HMAC_SHA1_80) on loopback; dumpcap captures it as pcapng;
srtpgate-pcap decrypts it. The RTP payloads must be exactly ffmpeg's PCMU encoding of the same
tone, the SRTCP sender report must decrypt, and the plain capture must re-encrypt to ffmpeg's
bytes. Usage: test_ffmpeg_capture.py SRTPGATE_PCAP WORKDIR"""

import base64
import os
import struct

from pcaplib import (check, check_plain_rtcp, free_port_pair, loopback_capture, main, need_tools,
                     read_capture, parse_udp_frame, rtp_payload_stream, run, run_tool, udp_payloads,
                     udp_sink)

TONE = ["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000:samples_per_frame=160",
        "-t", "2", "-c:a", "pcm_mulaw"]
PROFILE = "AES_CM_128_HMAC_SHA1_80"


def test(argv):
    tool, work = argv[0], argv[1]
    need_tools("ffmpeg", "dumpcap")
    os.makedirs(work, exist_ok=True)
    key = base64.b64encode(os.urandom(30)).decode()
    port = free_port_pair()
    cap = os.path.join(work, "ffmpeg-srtp.pcapng")
    plain = os.path.join(work, "ffmpeg-plain.pcap")
    ref = os.path.join(work, "ffmpeg-tone.ulaw")

    r = run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + TONE +
            ["-f", "mulaw", ref])
    check(r.returncode == 0, "ffmpeg reference encode failed: " + r.stderr)
    cap_any = os.path.join(work, "ffmpeg-srtp-any.pcapng")  # Linux cooked (SLL) frames
    with udp_sink([port, port + 1]), loopback_capture(cap, [port, port + 1]), \
            loopback_capture(cap_any, [port, port + 1], iface="any"):
        r = run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re"] + TONE +
                ["-f", "rtp", "-srtp_out_suite", PROFILE, "-srtp_out_params", key,
                 f"srtp://127.0.0.1:{port}"], timeout=60)
        check(r.returncode == 0, "ffmpeg SRTP sender failed: " + r.stderr)

    # 1. Decrypt.
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--key", "inline:" + key,
                                  cap, plain])
    check(counts.get("packets read", 0) >= 101, "expected 100 RTP + RTCP packets:\n" + err)
    check(counts.get("rtp decrypted ok") == 100, "not 100 RTP packets decrypted:\n" + err)
    check(counts.get("rtcp decrypted ok", 0) >= 1, "no SRTCP decrypted:\n" + err)
    check(counts.get("failed") == 0 and counts.get("passed through") == 0, err)

    rtp = udp_payloads(plain, port, verify_checksums=True)
    with open(ref, "rb") as f:
        want = f.read()
    got = rtp_payload_stream(rtp)
    check(len(want) == 16000, f"reference tone is {len(want)} bytes, expected 16000")
    check(got == want, f"decrypted PCMU ({len(got)} bytes) differs from ffmpeg's encoding "
                       f"({len(want)} bytes)")
    ssrc = struct.unpack("!I", rtp[0][8:12])[0]
    rtcp = udp_payloads(plain, port + 1, verify_checksums=True)
    check(rtcp, "no RTCP in the output")
    for p in rtcp:
        check_plain_rtcp(p, ssrc)

    # The same traffic captured on "any" (link type LINUX_SLL) decrypts to the same payload.
    plain_any = os.path.join(work, "ffmpeg-plain-any.pcap")
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--key", "inline:" + key,
                                  cap_any, plain_any])
    check(counts.get("rtp decrypted ok") == 100, "capture on any:\n" + err)
    check(read_capture(plain_any)[0] == read_capture(cap_any)[0], "link type must be kept")
    check(rtp_payload_stream(udp_payloads(plain_any, port, verify_checksums=True)) == want,
          "capture on any: payload differs")

    # 2. The plain capture re-encrypts to exactly ffmpeg's SRTP (same key, SSRC, ROC, sequence).
    again = os.path.join(work, "ffmpeg-reencrypted.pcap")
    counts, err = run_tool(tool, ["encrypt", "--profile", PROFILE, "--key", "inline:" + key,
                                  plain, again])
    check(counts.get("rtp encrypted ok") == 100, err)
    linktype, orig = read_capture(cap)
    orig_rtp = [u.payload for u in (parse_udp_frame(linktype, f) for _, _, f in orig)
                if u is not None and u.dport == port]
    check(udp_payloads(again, port, verify_checksums=True) == orig_rtp,
          "re-encrypted SRTP differs from ffmpeg's SRTP")
    # SRTCP indices may start elsewhere, so check SRTCP by decrypting once more.
    plain2 = os.path.join(work, "ffmpeg-plain2.pcap")
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--key", "inline:" + key,
                                  again, plain2])
    check(counts.get("failed") == 0, err)
    check(read_capture(plain2) == read_capture(plain), "decrypt(encrypt(plain)) != plain")

    # 3. A wrong key fails every packet by authentication; exit status 3; nothing written.
    wrong = base64.b64encode(os.urandom(30)).decode()
    bad = os.path.join(work, "ffmpeg-wrongkey.pcap")
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--key", "inline:" + wrong,
                                  cap, bad], expect_rc=3)
    check(counts.get("rtp auth_failure") == 100, "wrong key: " + err)
    check(counts.get("rtcp auth_failure", 0) >= 1, "wrong key: " + err)
    check(counts.get("packets written") == 0, err)
    counts, err = run_tool(tool, ["decrypt", "--keep-failed", "--profile", PROFILE, "--key",
                                  "inline:" + wrong, cap, bad], expect_rc=3)
    check([f for _, _, f in read_capture(bad)[1]] == [f for _, _, f in orig],
          "--keep-failed must write failed packets unchanged")

    # 4. A key scoped to another SSRC selects nothing: everything is copied unchanged.
    other = os.path.join(work, "ffmpeg-nokey.pcap")
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--ssrc", str(ssrc ^ 1),
                                  "--key", "inline:" + key, cap, other])
    check(counts.get("no_key", 0) == counts.get("packets read"), err)
    check([f for _, _, f in read_capture(other)[1]] == [f for _, _, f in orig],
          "unselected packets must be copied unchanged")

    # 5. Scoped by SSRC and by flow, in hex.
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--ssrc", hex(ssrc),
                                  "--key", "inline:" + key, cap, other])
    check(counts.get("rtp decrypted ok") == 100 and counts.get("rtcp decrypted ok", 0) >= 1, err)
    counts, err = run_tool(tool, ["decrypt", "--profile", PROFILE, "--flow",
                                  f"127.0.0.1:*-127.0.0.1:{port}", "--key", "inline:" + key,
                                  cap, other])
    check(counts.get("rtp decrypted ok") == 100 and counts.get("rtcp decrypted ok", 0) >= 1,
          "--flow should cover RTP and RTCP on port+1:\n" + err)


if __name__ == "__main__":
    main(test)
