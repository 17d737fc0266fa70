#!/usr/bin/env python3
"""End to end 2: GStreamer srtpenc (libsrtp2) sends a 1 kHz tone as AEAD_AES_128_GCM SRTP
(RFC 7714) from namespace A; srtpgate transcrypts it to AES_CM_128_HMAC_SHA1_80 (RFC 3711) and
forwards it to namespace B, where GStreamer srtpdec decodes it with the CM key; the decoded
audio must be the tone. The receiver is then given a key other than the outbound one and must
decode nothing, so the check can fail.

usage: test_gstreamer_transcrypt.py SRTPGATE
"""
import base64
import os
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


TONE = ("audiotestsrc freq=1000 samplesperbuffer=160 num-buffers=%d is-live=true ! "
        "audio/x-raw,rate=8000,channels=1 ! mulawenc" % BUFFERS)
DECODE = "mulawdec ! audioconvert ! audio/x-raw,format=S16LE,rate=8000,channels=1"


def reference_audio(tmp):
    """The tone through PCMU and back (G.711 µ-law), without the network: what B must decode."""
    path = os.path.join(tmp, "reference.raw")
    h.run(["timeout", "20", "gst-launch-1.0", "-q"] +
          ("%s ! %s ! filesink location=%s"
           % (TONE.replace("is-live=true", "is-live=false"), DECODE, path)).split())
    with open(path, "rb") as f:
        return f.read()


def sender(topo, gcm_key):
    # srtpenc with a GCM cipher authenticates with GCM's own tag; the HMAC setting is null.
    pipeline = (TONE + " ! rtppcmupay ssrc=%d ! "
                "srtpenc key=%s rtp-cipher=aes-128-gcm rtp-auth=null rtcp-cipher=aes-128-gcm "
                "rtcp-auth=null ! udpsink host=%s port=%d bind-port=%d"
                % (SSRC, gcm_key.hex(), h.GATEWAY_A, RTP_PORT, SENDER_PORT))
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


def run_once(topo, gcm_key, rx_key, tmp, name):
    out_path = os.path.join(tmp, name + ".raw")
    rx = receiver(topo, rx_key, out_path, 8)
    time.sleep(1.5)  # the receiver's pipeline is playing before the first packet
    sent = sender(topo, gcm_key)
    out, _ = rx.communicate(timeout=30)
    raw = open(out_path, "rb").read() if os.path.exists(out_path) else b""
    return sent, raw, out


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

        sent, raw, out = run_once(topo, gcm_key, cm_key, tmp, "right")
        check(sent.returncode == 0, "srtpenc sent GCM SRTP" +
              ("" if sent.returncode == 0 else ": " + sent.stdout.strip()[-300:]))
        check(len(raw) >= 8000 * 2, "srtpdec in B decoded %d bytes of audio" % len(raw) +
              ("" if len(raw) >= 8000 * 2 else ": " + out.strip()[-300:]))
        share, rms = h.tone_report(raw)
        check(share > 0.9 and rms > 1000,
              "the decoded audio is the 1 kHz tone (%.3f of its energy at 1 kHz, RMS %.0f)"
              % (share, rms))
        check(h.is_stretch_of(raw, reference_audio(tmp)),
              "the decoded audio is, sample for sample, a stretch of the tone sent")
        c = h.counters(ctl, sid)
        check(c.get("rx_packets", 0) >= BUFFERS * 0.9 and
              c.get("tx_packets", 0) == c.get("rx_packets") and c.get("dropped", 1) == 0,
              "every GCM packet went out as CM: rx %s tx %s dropped %s"
              % (c.get("rx_packets"), c.get("tx_packets"), c.get("dropped")))

        # A receiver holding a key other than the outbound one decodes nothing: the output is
        # really protected under the session's outbound key.
        _, raw, _ = run_once(topo, gcm_key, os.urandom(30), tmp, "wrong")
        check(len(raw) == 0, "a receiver with another CM key decodes nothing (%d bytes)"
              % len(raw))
    finally:
        if daemon is not None:
            daemon.close()
        cleanup.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
