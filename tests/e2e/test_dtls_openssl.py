#!/usr/bin/env python3
"""End to end 3: DTLS-SRTP through the DPDK port. `openssl s_client` in namespace A handshakes
(RFC 5764) with a session srtpgate holds as the passive side, with the client's certificate
pinned by fingerprint (RFC 8122). The server certificate s_client saw must be the one whose
fingerprint the session reports. The daemon never exports keys, so the keys are proved by use:
libsrtp2 (srtpgate-e2e-srtp-send) protects RTP with the client write key and salt s_client
exported, and what comes out in namespace B must be that RTP, byte for byte; the same under the
server's write key (the wrong direction) must all be dropped as authentication failures.
Neither direction's key or salt, in hex or base64, may appear in the daemon's log, its show,
list and stats answers or its DPDK telemetry.

usage: test_dtls_openssl.py SRTPGATE SRTP-SENDER
"""
import json
import os
import re
import subprocess
import sys
import tempfile

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


def main():
    h.require(["ip", "ethtool", "openssl", "timeout"])
    binary, sender_bin = sys.argv[1], sys.argv[2]
    check = h.Checks()
    cleanup = h.Cleanup()
    topo = h.Topology(cleanup)
    daemon = None
    tmp = tempfile.mkdtemp(prefix="sg-e2e-dtls-")
    cleanup.register("rmtree", tmp)
    try:
        # s_client cannot choose its source port; the namespace's ephemeral range can.
        h.run(h.in_ns(topo.ns_a, ["sysctl", "-q", "-w",
                                  "net.ipv4.ip_local_port_range=%d %d"
                                  % (CLIENT_PORT, CLIENT_PORT)]))
        daemon = h.Daemon(binary, topo, cleanup)
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

        sent, plain, received = h.send_srtp_and_receive(
            topo, sender_bin, "AES_CM_128_HMAC_SHA1_80", client_key + client_salt, SSRC,
            PACKETS, CLIENT_PORT, RTP_PORT, RECEIVER_PORT)
        check(sent.returncode == 0 and len(plain) == PACKETS,
              "libsrtp2 sent %d SRTP packets under the client write key %s"
              % (len(plain), sent.stderr.strip()))
        same = h.same_packets(plain, received)
        check(len(received) == PACKETS and same == PACKETS,
              "B received exactly the RTP that was protected: %d datagrams, %d of %d equal, "
              "in order" % (len(received), same, PACKETS))
        c = h.counters(ctl, sid)
        check(c.get("drops", {}).get("auth_failure", 1) == 0 and
              c.get("tx_packets", 0) == PACKETS,
              "the session unprotected them all: tx %s, drops %s"
              % (c.get("tx_packets"), {k: v for k, v in c.get("drops", {}).items() if v}))

        # Another SSRC, so no packet is refused as a replay before its tag is checked.
        sent, plain, received = h.send_srtp_and_receive(
            topo, sender_bin, "AES_CM_128_HMAC_SHA1_80", server_key + server_salt, SSRC + 1,
            PACKETS, CLIENT_PORT, RTP_PORT, RECEIVER_PORT)
        failures = h.counters(ctl, sid).get("drops", {}).get("auth_failure", 0)
        check(sent.returncode == 0 and len(received) == 0 and failures == PACKETS,
              "under the server's write key nothing comes out (%d) and %d of %d packets fail "
              "authentication" % (len(received), failures, PACKETS))

        # The keys the handshake produced never leave the daemon (STYLE.md: secrets are never
        # printed, never in telemetry). Every place the daemon shows a session is read while the
        # session is active and has carried traffic, and the log once more after it stopped.
        secrets = {"client write key": client_key, "server write key": server_key,
                   "client write salt": client_salt, "server write salt": server_salt,
                   "client key and salt": client_key + client_salt,
                   "server key and salt": server_key + server_salt, "keying material": km}
        texts = {}
        for req in ({"cmd": "show", "id": sid}, {"cmd": "list"}, {"cmd": "stats"}):
            r = ctl.request(req)
            check(r.get("ok") is True, "%s answers" % req["cmd"])
            texts["control " + req["cmd"]] = json.dumps(r)
        for command in ("/srtpgate/stats", "/srtpgate/sessions", "/srtpgate/session,%d" % sid,
                        "/srtpgate/workers"):
            texts["telemetry " + command] = h.telemetry(daemon.prefix, command)
        try:
            one = json.loads(texts["telemetry /srtpgate/session,%d" % sid] or "{}")
        except ValueError:
            one = {}
        one = one.get("/srtpgate/session", {})
        check(all(texts.values()) and one.get("id") == sid and
              one.get("tx_packets") == PACKETS,
              "telemetry answered every command, about this session too: %s"
              % {k: one.get(k) for k in ("id", "state", "tx_packets")})
        status = daemon.stop()
        check(status == 0, "srtpgate exits 0 on SIGTERM (%s)" % status)
        with open(daemon.log_path, "rb") as f:
            log_bytes = f.read()
        texts["log"] = log_bytes.decode(errors="replace")
        found = []
        for where, text in texts.items():
            for what, secret in secrets.items():
                if any(spelling in (text or "") for spelling in h.secret_spellings(secret)):
                    found.append("%s in %s" % (what, where))
            if where == "log":
                found += ["%s raw in the log" % what for what, secret in secrets.items()
                          if secret in log_bytes]
        check(not found, "no DTLS-SRTP key or salt (hex, base64, raw) in the log, show, list, "
              "stats or telemetry (%d texts, %d bytes): %s"
              % (len(texts), sum(len(t or "") for t in texts.values()), found or "none"))
    finally:
        if daemon is not None:
            daemon.close()
        cleanup.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
