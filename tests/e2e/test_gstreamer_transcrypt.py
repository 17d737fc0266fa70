#!/usr/bin/env python3
"""End to end 2: GStreamer srtpenc (libsrtp2) sends 4 s of white noise as AEAD_AES_128_GCM SRTP
(RFC 7714) from namespace A, keeping a copy of the PCMU it packetized; srtpgate transcrypts it to
AES_CM_128_HMAC_SHA1_80 (RFC 3711) and forwards it to namespace B, where GStreamer srtpdec
decodes it with the CM key. The decoded audio must be, sample for sample, every packet that was
sent, in order: no two 20 ms frames of noise are alike, so a packet lost, repeated or reordered
shows (a periodic tone would hide it). The receiver is then given a key other than the outbound
one: the gateway must still relay every packet and the receiver must decode nothing, so the
check can fail.

usage: test_gstreamer_transcrypt.py SRTPGATE
"""
import base64
import os
import signal
import subprocess
import sys
import tempfile
import time

import e2e_harness as h

RTP_PORT = 20002
SENDER_PORT = 5006
RECEIVER_PORT = 6002
SSRC = 0x1234
BUFFERS = 200  # 20 ms each: 4 s


# White noise differs in every run (audiotestsrc seeds it itself), so the sender keeps a copy of
# the PCMU it packetized and that copy is the reference.
NOISE = ("audiotestsrc wave=white-noise samplesperbuffer=160 num-buffers=%d is-live=true ! "
         "audio/x-raw,rate=8000,channels=1 ! mulawenc" % BUFFERS)
DECODE = "mulawdec ! audioconvert ! audio/x-raw,format=S16LE,rate=8000,channels=1"


def reference_audio(tmp, sent_ulaw):
    """What was sent through PCMU decoding, without the network: what B must decode."""
    path = os.path.join(tmp, "reference.raw")
    h.run(["timeout", "20", "gst-launch-1.0", "-q", "filesrc", "location=" + sent_ulaw, "!",
           "audio/x-mulaw,rate=8000,channels=1", "!"] + DECODE.split() +
          ["!", "filesink", "location=" + path])
    with open(path, "rb") as f:
        return f.read()


def sender(topo, gcm_key, sent_ulaw, first_seq):
    # srtpenc with a GCM cipher authenticates with GCM's own tag; the HMAC setting is null.
    # The first sequence number is set: the payloader picks a random one otherwise, and a second
    # run under the same key and SSRC that started lower would be replays to the gateway.
    pipeline = (NOISE + " ! tee name=t ! queue ! rtppcmupay ssrc=%d seqnum-offset=%d ! "
                "srtpenc key=%s rtp-cipher=aes-128-gcm rtp-auth=null rtcp-cipher=aes-128-gcm "
                "rtcp-auth=null ! udpsink host=%s port=%d bind-port=%d "
                "t. ! queue ! filesink location=%s"
                % (SSRC, first_seq, gcm_key.hex(), h.GATEWAY_A, RTP_PORT, SENDER_PORT,
                   sent_ulaw))
    cmd = ["timeout", "-k", "3", "-s", "INT", "20", "gst-launch-1.0", "-q", "-e"] + \
        pipeline.split()
    return subprocess.run(h.in_ns(topo.ns_a, cmd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def receiver(topo, cm_key, out_path, seconds):
    caps = ("application/x-srtp,media=(string)audio,clock-rate=(int)8000,"
            "encoding-name=(string)PCMU,payload=(int)0,ssrc=(uint)%d,srtp-key=(buffer)%s,"
            "srtp-cipher=(string)aes-128-icm,srtp-auth=(string)hmac-sha1-80,"
            "srtcp-cipher=(string)aes-128-icm,srtcp-auth=(string)hmac-sha1-80"
            % (SSRC, cm_key.hex()))
    pipeline = ["udpsrc", "port=%d" % RECEIVER_PORT, "caps=" + caps, "!", "srtpdec", "!",
                "rtppcmudepay", "!"] + DECODE.split() + ["!", "filesink",
                # Unbuffered: the pipeline is stopped by a signal, and what a buffered file
                # holds back would be lost if the forced EOS did not get through.
                "buffer-mode=unbuffered", "location=" + out_path]
    cmd = ["timeout", "-k", "3", "-s", "INT", str(seconds), "gst-launch-1.0", "-e"] + \
        pipeline
    return subprocess.Popen(h.in_ns(topo.ns_b, cmd), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_once(topo, gcm_key, rx_key, tmp, name, first_seq):
    """Returns (the sender's CompletedProcess, the PCMU it sent, what B decoded, B's output,
    whether B was bound to its port before the first packet)."""
    out_path = os.path.join(tmp, name + ".raw")
    sent_ulaw = os.path.join(tmp, name + ".sent.ul")
    rx = receiver(topo, rx_key, out_path, 20)
    bound = h.wait_udp_bound(topo.ns_b, RECEIVER_PORT)
    sent = sender(topo, gcm_key, sent_ulaw, first_seq)
    h.wait_file_settles(out_path, BUFFERS * 320)
    rx.send_signal(signal.SIGINT)  # timeout(1) hands it on; -e turns it into an EOS
    out, _ = rx.communicate(timeout=30)
    raw = open(out_path, "rb").read() if os.path.exists(out_path) else b""
    return sent, sent_ulaw, raw, out, bound


def main():
    h.require(["ip", "ethtool", "gst-launch-1.0", "gst-inspect-1.0", "timeout"])
    for element in ("srtpenc", "srtpdec", "mulawenc", "rtppcmupay"):
        if subprocess.run(["gst-inspect-1.0", element], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            print("SKIP: GStreamer element %s is not installed" % element)
            return h.SKIP
    binary = sys.argv[1]
    check = h.Checks()
    cleanup = h.Cleanup()
    topo = h.Topology(cleanup)
    daemon = None
    tmp = tempfile.mkdtemp(prefix="sg-e2e-gst-")
    cleanup.register("rmtree", tmp)
    try:
        daemon = h.Daemon(binary, topo, cleanup)
        ctl = h.Control(daemon.control_path)
        gcm_key = os.urandom(28)  # RFC 7714 §12: 16-byte key, 12-byte salt
        cm_key = os.urandom(30)   # RFC 3711: 16-byte key, 14-byte salt
        r = ctl.request(h.session_request(
            RTP_PORT, SENDER_PORT, "transcrypt", RECEIVER_PORT, topo.mac_b,
            inbound={"sdes": {"profile": "AEAD_AES_128_GCM",
                              "key": "inline:" + base64.b64encode(gcm_key).decode()}},
            outbound={"sdes": {"profile": "AES_CM_128_HMAC_SHA1_80",
                               "key": "inline:" + base64.b64encode(cm_key).decode()}},
            label="gstreamer transcrypt"))
        check(r.get("ok") is True, "create the transcrypt session: %s" % r.get("error", "ok"))
        sid = r["session"]["id"]

        sent, sent_ulaw, raw, out, bound = run_once(topo, gcm_key, cm_key, tmp, "right", 1000)
        check(bound, "srtpdec's pipeline in B is bound to its port before the first packet")
        check(sent.returncode == 0, "srtpenc sent GCM SRTP" +
              ("" if sent.returncode == 0 else ": " + sent.stdout.strip()[-300:]))
        reference = reference_audio(tmp, sent_ulaw)
        ref_frames = h.frames_of(reference)
        check(len(ref_frames) == BUFFERS and len(set(ref_frames)) == BUFFERS,
              "the sender's PCMU decodes to %d frames, %d of them distinct (of %d)"
              % (len(ref_frames), len(set(ref_frames)), BUFFERS))
        first, in_order, frames = h.audio_sequence(raw, reference)
        # Tolerance none: B's socket was bound before the first packet, nothing else shares
        # the veths, and the gateway must pass each packet once, in order (srtpdec and the
        # depayloader drop a repeated or late one, which then shows as a lost frame).
        check(first == 0 and in_order == BUFFERS and frames == BUFFERS and
              len(raw) == len(reference),
              "srtpdec in B decoded every packet sent, sample for sample and in order: "
              "%d bytes, %d frames, starting at reference frame %s, %d in order of %d%s"
              % (len(raw), frames, first, in_order, BUFFERS,
                 "" if in_order == BUFFERS else " (" + out.strip()[-300:] + ")"))
        c = h.counters(ctl, sid)
        check(c.get("rx_packets") == BUFFERS and c.get("tx_packets") == BUFFERS and
              c.get("dropped", 1) == 0,
              "every GCM packet went out as CM: rx %s tx %s dropped %s of %d"
              % (c.get("rx_packets"), c.get("tx_packets"), c.get("dropped"), BUFFERS))

        # A receiver holding a key other than the outbound one decodes nothing although every
        # packet reaches it: the output is really protected under the session's outbound key.
        b_before = h.link_rx_packets(topo.ns_b, "ethB")
        sent, _, raw, out, bound = run_once(topo, gcm_key, os.urandom(30), tmp, "wrong",
                                               1000 + BUFFERS + 100)
        b_got = h.link_rx_packets(topo.ns_b, "ethB") - b_before
        c2 = h.counters(ctl, sid)
        rx, tx = (c2.get(k, 0) - c.get(k, 0) for k in ("rx_packets", "tx_packets"))
        check(bound and sent.returncode == 0,
              "srtpenc sent GCM SRTP again, to a receiver bound in B")
        check(rx == BUFFERS and tx == BUFFERS and c2.get("dropped", 1) == 0 and
              b_got >= BUFFERS,
              "the gateway relayed all %d packets again (rx %d tx %d dropped %s) and B's "
              "interface received %d packets" % (BUFFERS, rx, tx, c2.get("dropped"), b_got))
        check(len(raw) == 0, "a receiver with another CM key decodes nothing (%d bytes)"
              % len(raw))
    finally:
        if daemon is not None:
            daemon.close()
        cleanup.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
