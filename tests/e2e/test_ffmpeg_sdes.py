#!/usr/bin/env python3
"""End to end 1: ffmpeg sends SRTP (SDES, AES_CM_128_HMAC_SHA1_80) of 4 s of seeded noise from
namespace A; srtpgate unprotects it and forwards plain RTP to namespace B, where ffmpeg decodes
it from an SDP. The decoded audio must be, sample for sample, every packet of the noise sent, in
order: no two 20 ms frames of noise are alike, so a packet the gateway lost, repeated or
reordered shows (a periodic tone would hide it). A wrong key must give authentication drops
only (the same run, second session), so the check can fail.

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
PACKETS = SECONDS * 50  # 160 samples (20 ms) each
SEED = 3711


def sdp_for_receiver():
    # RFC 4566: plain RTP, PCMU (payload type 0), from the gateway's B address.
    return ("v=0\r\no=- 0 0 IN IP4 %s\r\ns=srtpgate e2e\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            % (h.PEER_B, h.GATEWAY_B, RECEIVER_PORT))


def write_source(tmp):
    """The samples to send, as a file both the sender and the reference read."""
    path = os.path.join(tmp, "source.raw")
    with open(path, "wb") as f:
        f.write(h.noise_s16le(SECONDS * 8000, SEED))
    return path


def send_audio(topo, source, key_b64, dst_port):
    # asetnsamples: one 160-sample frame per RTP packet (the raw demuxer reads 100 ms at once).
    cmd = ["timeout", "-k", "3", "20", "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
           "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", source,
           "-af", "asetnsamples=n=160:p=0", "-c:a", "pcm_mulaw", "-f", "rtp",
           "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", key_b64,
           "srtp://%s:%d?localrtpport=%d&localrtcpport=%d"
           % (h.GATEWAY_A, dst_port, SENDER_PORT, SENDER_PORT + 1)]
    return subprocess.run(h.in_ns(topo.ns_a, cmd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def reference_audio(tmp, source):
    """The source through PCMU and back (G.711 µ-law), without the network: what B must
    decode."""
    ulaw = os.path.join(tmp, "reference.ul")
    raw = os.path.join(tmp, "reference.raw")
    quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    h.run(quiet + ["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", source, "-c:a", "pcm_mulaw",
                   "-f", "mulaw", ulaw])
    h.run(quiet + ["-f", "mulaw", "-ar", "8000", "-ac", "1", "-i", ulaw, "-f", "s16le", raw])
    with open(raw, "rb") as f:
        return f.read()


# An RTCP BYE (RFC 3550 §6.6) to the receiver's RTCP port, sent in B: ffmpeg's SDP demuxer ends
# its input at a BYE, and so writes out all it decoded (SIGINT would leave it blocked in a read).
_BYE = """
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
    bytes.fromhex("81cb000100000000"), (sys.argv[1], int(sys.argv[2])))
"""


def end_stream(topo):
    h.run(h.python_in_ns(topo.ns_b, _BYE, h.PEER_B, str(RECEIVER_PORT + 1)))


def receive(topo, tmp, seconds):
    """ffmpeg in B decoding until an RTCP BYE (or SIGINT after `seconds`). No reordering queue:
    it decodes the packets in the order they arrive, so a packet the gateway sent twice or out
    of order is decoded so and shows, instead of being put right or dropped here."""
    sdp = os.path.join(tmp, "rx.sdp")
    with open(sdp, "w") as f:
        f.write(sdp_for_receiver())
    out = os.path.join(tmp, "rx.raw")
    cmd = ["timeout", "--foreground", "-k", "3", "-s", "INT", str(seconds), "ffmpeg",
           "-hide_banner",
           "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp",
           "-reorder_queue_size", "0", "-analyzeduration", "100000", "-i", sdp,
           "-f", "s16le", "-ar", "8000", "-ac", "1", "-y", out]
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
            label="ffmpeg noise"))
        check(r.get("ok") is True, "create the unprotect session: %s" % r.get("error", "ok"))
        sid = r["session"]["id"]

        source = write_source(tmp)
        reference = reference_audio(tmp, source)
        ref_frames = h.frames_of(reference)
        check(len(ref_frames) == PACKETS and len(set(ref_frames)) == PACKETS,
              "the reference is %d frames, %d of them distinct (of %d)"
              % (len(ref_frames), len(set(ref_frames)), PACKETS))

        receiver, raw_path = receive(topo, tmp, SECONDS + 16)
        check(h.wait_udp_bound(topo.ns_b, RECEIVER_PORT),
              "ffmpeg in B is bound to its port before the first packet")
        sent = send_audio(topo, source, key, RTP_PORT)
        check(sent.returncode == 0, "ffmpeg sent SRTP" +
              ("" if sent.returncode == 0 else ": " + sent.stdout.strip()[-300:]))
        time.sleep(1.0)  # the last packets cross the gateway and are read
        end_stream(topo)
        out, _ = receiver.communicate(timeout=30)
        raw = open(raw_path, "rb").read() if os.path.exists(raw_path) else b""
        first, in_order, frames = h.audio_sequence(raw, reference)
        # Tolerance none: B's socket was bound before the first packet, nothing else shares
        # the veths, and the gateway must pass each packet once, in order.
        check(first == 0 and in_order == PACKETS and frames == PACKETS and
              len(raw) == len(reference),
              "ffmpeg in B decoded every packet sent, sample for sample and in order: "
              "%d bytes, %d frames, starting at reference frame %s, %d in order of %d (%s)"
              % (len(raw), frames, first, in_order, PACKETS, out.strip()[-200:]))
        c = h.counters(ctl, sid)
        drops = c.get("drops", {})
        check(c.get("rx_packets") == PACKETS and c.get("tx_packets") == PACKETS,
              "every SRTP packet in went out as RTP: rx %s tx %s of %d"
              % (c.get("rx_packets"), c.get("tx_packets"), PACKETS))
        check(c.get("dropped", 1) == 0,
              "no drops: %s" % {k: v for k, v in drops.items() if v})

        # The same stream under another key: every packet fails authentication, none leaves.
        wrong = base64.b64encode(os.urandom(30)).decode()
        r = ctl.request(h.session_request(
            RTP_PORT + 2, SENDER_PORT, "unprotect", RECEIVER_PORT, topo.mac_b,
            inbound={"sdes": {"profile": "AES_CM_128_HMAC_SHA1_80", "key": "inline:" + wrong}},
            label="wrong key"))
        check(r.get("ok") is True, "create a session under another key")
        wrong_id = r["session"]["id"]
        sent = send_audio(topo, source, key, RTP_PORT + 2)
        check(sent.returncode == 0, "ffmpeg sent SRTP to the other session")
        time.sleep(0.5)  # the last packets reach the gateway
        c = h.counters(ctl, wrong_id)
        check(c.get("rx_packets") == PACKETS and c.get("tx_packets", 1) == 0
              and c.get("drops", {}).get("auth_failure", 0) == PACKETS,
              "under a wrong key all %d packets are auth_failure drops and none is sent: %s"
              % (PACKETS, {k: c.get(k) for k in ("rx_packets", "tx_packets", "dropped")}))

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
