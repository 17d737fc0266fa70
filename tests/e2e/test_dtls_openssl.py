#!/usr/bin/env python3
"""End to end 3: DTLS-SRTP through the DPDK port. `openssl s_client` in namespace A handshakes
(RFC 5764) with a session srtpgate holds as the passive side, with the client's certificate
pinned by fingerprint (RFC 8122). The server certificate s_client saw must be the one whose
fingerprint the session reports; then SRTP protected by GStreamer's srtpenc (libsrtp2) with the
client write key and salt s_client exported must come out in namespace B as RTP, and SRTP under
the server's write key (the wrong direction) must all be dropped as authentication failures.

usage: test_dtls_openssl.py SRTPGATE
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

import e2e_harness as h

RTP_PORT = 20004
CLIENT_PORT = 5010    # s_client's source port, then the SRTP sender's
RECEIVER_PORT = 6004
SSRC = 0x4242
PACKETS = 100


def fingerprint(pem_path):
    out = h.run(["openssl", "x509", "-in", pem_path, "-noout", "-fingerprint", "-sha256"]).stdout
    return "sha-256 " + out.strip().split("=", 1)[1]


def make_client_cert(tmp):
    key = os.path.join(tmp, "client.key")
    cert = os.path.join(tmp, "client.pem")
    h.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=srtpgate-e2e"])
    return cert, key


def s_client(topo, cert, key):
    # stdin stays open for 3 s after the handshake; then EOF makes s_client close and exit.
    cmd = ("sleep 3 | openssl s_client -dtls1_2 -connect %s:%d -cert %s -key %s "
           "-use_srtp SRTP_AES128_CM_SHA1_80 -keymatexport EXTRACTOR-dtls_srtp "
           "-keymatexportlen 60" % (h.GATEWAY_A, RTP_PORT, cert, key))
    return subprocess.run(h.in_ns(topo.ns_a, ["timeout", "20", "sh", "-c", cmd]),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def srtp_sender(topo, key_and_salt, ssrc):
    pipeline = ("audiotestsrc freq=1000 samplesperbuffer=160 num-buffers=%d is-live=true ! "
                "audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay ssrc=%d ! "
                "srtpenc key=%s ! udpsink host=%s port=%d bind-port=%d"
                % (PACKETS, ssrc, key_and_salt.hex(), h.GATEWAY_A, RTP_PORT, CLIENT_PORT))
    cmd = ["timeout", "-k", "3", "-s", "INT", "20", "gst-launch-1.0", "-q", "-e"] + \
        pipeline.split()
    return subprocess.run(h.in_ns(topo.ns_a, cmd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def count_rtp_in_b(topo, seconds, ssrc, result):
    """Counts RTP packets (version 2, payload type 0, of `ssrc`) arriving at PEER_B."""
    code = ("import socket,struct\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "s.bind(('%s',%d)); s.settimeout(%f); n=0\n"
            "try:\n"
            "  while True:\n"
            "    d,a=s.recvfrom(2048)\n"
            "    if len(d)>=12 and d[0]>>6==2 and d[1]&127==0 and "
            "struct.unpack('!I',d[8:12])[0]==%d: n+=1\n"
            "except OSError: pass\n"
            "print(n)\n" % (h.PEER_B, RECEIVER_PORT, seconds, ssrc))
    out = subprocess.run(h.in_ns(topo.ns_b, ["python3", "-c", code]), stdout=subprocess.PIPE,
                         text=True).stdout
    result.append(int(out.strip() or "0"))


def send_and_count(topo, key_and_salt, ssrc):
    result = []
    t = threading.Thread(target=count_rtp_in_b, args=(topo, 3.0, ssrc, result))
    t.start()
    time.sleep(0.5)
    sent = srtp_sender(topo, key_and_salt, ssrc)
    t.join()
    return sent, result[0] if result else 0


def main():
    h.require(["ip", "ethtool", "openssl", "gst-launch-1.0", "timeout"])
    binary = sys.argv[1]
    check = h.Checks()
    topo = h.Topology()
    daemon = None
    tmp = tempfile.mkdtemp(prefix="sg-e2e-dtls-")
    try:
        # s_client cannot choose its source port; the namespace's ephemeral range can.
        h.run(h.in_ns(topo.ns_a, ["sysctl", "-q", "-w",
                                  "net.ipv4.ip_local_port_range=%d %d"
                                  % (CLIENT_PORT, CLIENT_PORT)]))
        daemon = h.Daemon(binary, topo)
        ctl = h.Control(daemon.control_path)
        cert, key = make_client_cert(tmp)
        r = ctl.request(h.session_request(
            RTP_PORT, CLIENT_PORT, "unprotect", RECEIVER_PORT, topo.mac_b,
            inbound={"dtls": {"setup": "passive", "fingerprint": fingerprint(cert),
                              "profiles": ["AES_CM_128_HMAC_SHA1_80"]}},
            label="dtls s_client"))
        check(r.get("ok") is True and r["session"]["state"] == "handshaking",
              "create a passive DTLS session: %s" % r.get("error", r.get("session", {})
                                                           .get("state")))
        sid = r["session"]["id"]
        ours = r["session"].get("fingerprint", "")

        out = s_client(topo, cert, key).stdout
        check("SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80" in out,
              "s_client negotiated SRTP_AES128_CM_SHA1_80")
        m = re.search(r"Keying material: ([0-9A-Fa-f]{120})", out)
        check(m is not None, "s_client printed 60 bytes of keying material")
        pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
        if pem:
            server_pem = os.path.join(tmp, "server.pem")
            with open(server_pem, "w") as f:
                f.write(pem.group(0) + "\n")
            check(fingerprint(server_pem).upper() == ours.upper(),
                  "the certificate s_client saw has the fingerprint the session reports")
        else:
            check(False, "s_client showed the server certificate")
        s = ctl.request({"cmd": "show", "id": sid}).get("session", {})
        check(s.get("state") == "active" and
              s.get("inbound_profile") == "AES_CM_128_HMAC_SHA1_80",
              "the session is active with the negotiated profile: %s %s"
              % (s.get("state"), s.get("failure", "")))
        if m is None:
            return check.exit_code()

        # RFC 5764 §4.2: client write key | server write key | client salt | server salt.
        km = bytes.fromhex(m.group(1))
        client_key, server_key = km[0:16], km[16:32]
        client_salt, server_salt = km[32:46], km[46:60]

        sent, received = send_and_count(topo, client_key + client_salt, SSRC)
        check(sent.returncode == 0, "srtpenc sent SRTP under the client write key")
        check(received >= PACKETS * 0.9,
              "%d of %d packets came out in B as RTP" % (received, PACKETS))
        c = h.counters(ctl, sid)
        check(c.get("drops", {}).get("auth_failure", 1) == 0,
              "no authentication failures under the exported key")

        # Another SSRC, so no packet is refused as a replay before its tag is checked.
        sent, received = send_and_count(topo, server_key + server_salt, SSRC + 1)
        c2 = h.counters(ctl, sid)
        failures = c2.get("drops", {}).get("auth_failure", 0)
        check(received == 0 and failures >= PACKETS * 0.9,
              "under the server's write key nothing comes out (%d) and %d packets fail "
              "authentication" % (received, failures))
    finally:
        if daemon is not None:
            daemon.close()
        topo.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
