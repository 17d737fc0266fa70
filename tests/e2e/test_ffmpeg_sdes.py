#!/usr/bin/env python3
"""End to end 1: ffmpeg sends SRTP (SDES, AES_CM_128_HMAC_SHA1_80) of a 1 kHz tone from
namespace A; srtpgate unprotects it and forwards plain RTP to namespace B, where ffmpeg decodes
it from an SDP; the decoded audio must be the tone. A wrong key must give no audio and
authentication drops (the same run, second session), so the check can fail.

usage: test_ffmpeg_sdes.py SRTPGATE
"""
import base64
import os
import subprocess
import sys
import tempfile
import time

import e2e_harness as h

RTP_PORT = 20000      # ours, where the SRTP arrives
SENDER_PORT = 5004    # ffmpeg's source port
RECEIVER_PORT = 6000  # ffmpeg's in namespace B
SECONDS = 4
TONE = "sine=frequency=1000:sample_rate=8000:samples_per_frame=160"


def sdp_for_receiver():
    # RFC 4566: plain RTP, PCMU (payload type 0), from the gateway's B address.
    return ("v=0\r\no=- 0 0 IN IP4 %s\r\ns=srtpgate e2e\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            % (h.PEER_B, h.GATEWAY_B, RECEIVER_PORT))


def send_tone(topo, key_b64, dst_port):
    cmd = ["timeout", "-k", "3", "20", "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
           "-f", "lavfi", "-i", TONE,
           "-t", str(SECONDS), "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-f", "rtp",
           "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", key_b64,
           "srtp://%s:%d?localrtpport=%d&localrtcpport=%d"
           % (h.GATEWAY_A, dst_port, SENDER_PORT, SENDER_PORT + 1)]
    return subprocess.run(h.in_ns(topo.ns_a, cmd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def reference_audio(tmp):
    """The tone through PCMU and back (G.711 µ-law), without the network: what B must decode."""
    ulaw = os.path.join(tmp, "reference.ul")
    raw = os.path.join(tmp, "reference.raw")
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    h.run(quiet + ["-f", "lavfi", "-i", TONE, "-t", str(SECONDS), "-c:a", "pcm_mulaw",
                   "-f", "mulaw", ulaw])
    h.run(quiet + ["-f", "mulaw", "-ar", "8000", "-ac", "1", "-i", ulaw, "-f", "s16le", raw])
    with open(raw, "rb") as f:
        return f.read()


def receive(topo, tmp, seconds):
    sdp = os.path.join(tmp, "rx.sdp")
    with open(sdp, "w") as f:
        f.write(sdp_for_receiver())
    out = os.path.join(tmp, "rx.raw")
    cmd = ["timeout", "-k", "3", "-s", "INT", str(seconds + 6), "ffmpeg", "-hide_banner",
           "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp", "-i", sdp,
           "-t", str(seconds - 1), "-f", "s16le", "-ar", "8000", "-ac", "1", "-y", out]
    return subprocess.Popen(h.in_ns(topo.ns_b, cmd), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True), out


def main():
    h.require(["ip", "ethtool", "ffmpeg", "timeout"])
    binary = sys.argv[1]
    check = h.Checks()
    cleanup = h.Cleanup()
    topo = h.Topology(cleanup)
    daemon = None
    tmp = tempfile.mkdtemp(prefix="sg-e2e-ffmpeg-")
    cleanup.register("rmtree", tmp)
    try:
        daemon = h.Daemon(binary, topo, cleanup)
        ctl = h.Control(daemon.control_path)
        key = base64.b64encode(os.urandom(30)).decode()
        r = ctl.request(h.session_request(
            RTP_PORT, SENDER_PORT, "unprotect", RECEIVER_PORT, topo.mac_b,
            inbound={"sdes": {"profile": "AES_CM_128_HMAC_SHA1_80", "key": "inline:" + key}},
            label="ffmpeg tone"))
        check(r.get("ok") is True, "create the unprotect session: %s" % r.get("error", "ok"))
        sid = r["session"]["id"]

        receiver, raw_path = receive(topo, tmp, SECONDS)
        time.sleep(1.0)  # the receiver binds its port before the first packet
        sent = send_tone(topo, key, RTP_PORT)
        check(sent.returncode == 0, "ffmpeg sent SRTP" +
              ("" if sent.returncode == 0 else ": " + sent.stdout.strip()[-300:]))
        out, _ = receiver.communicate(timeout=30)
        raw = open(raw_path, "rb").read() if os.path.exists(raw_path) else b""
        check(len(raw) >= 8000 * 2, "ffmpeg in B decoded %d bytes of audio (%s)"
              % (len(raw), out.strip()[-200:]))
        share, rms = h.tone_report(raw)
        check(share > 0.9 and rms > 1000,
              "the decoded audio is the 1 kHz tone (%.3f of its energy at 1 kHz, RMS %.0f)"
              % (share, rms))
        check(h.is_stretch_of(raw, reference_audio(tmp)),
              "the decoded audio is, sample for sample, a stretch of the tone sent")
        c = h.counters(ctl, sid)
        drops = c.get("drops", {})
        check(c.get("rx_packets", 0) >= 150 and c.get("tx_packets", 0) == c.get("rx_packets"),
              "every SRTP packet in went out as RTP: rx %s tx %s"
              % (c.get("rx_packets"), c.get("tx_packets")))
        check(drops.get("auth_failure", 0) == 0 and drops.get("replay", 0) == 0,
              "no authentication or replay drops: %s" % drops)

        # The same stream under another key: every packet fails authentication, none leaves.
        wrong = base64.b64encode(os.urandom(30)).decode()
        r = ctl.request(h.session_request(
            RTP_PORT + 2, SENDER_PORT, "unprotect", RECEIVER_PORT, topo.mac_b,
            inbound={"sdes": {"profile": "AES_CM_128_HMAC_SHA1_80", "key": "inline:" + wrong}},
            label="wrong key"))
        check(r.get("ok") is True, "create a session under another key")
        wrong_id = r["session"]["id"]
        sent = send_tone(topo, key, RTP_PORT + 2)
        c = h.counters(ctl, wrong_id)
        check(c.get("rx_packets", 0) >= 150 and c.get("tx_packets", 1) == 0
              and c.get("drops", {}).get("auth_failure", 0) == c.get("rx_packets"),
              "under a wrong key every packet is an auth_failure drop and none is sent: %s"
              % {k: c.get(k) for k in ("rx_packets", "tx_packets")})

        status = daemon.stop()
        check(status == 0, "srtpgate exits 0 on SIGTERM (%s)" % status)
        log = daemon.log_text()
        check("final" in log.lower(), "the final counters are printed")
    finally:
        if daemon is not None:
            daemon.close()
        cleanup.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
