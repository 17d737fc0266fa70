#!/usr/bin/env python3
"""End to end 4: sessions' lives through `srtpgate-ctl` while traffic flows from namespace A to
namespace B. A plain RTP relay (action forward) is created, listed and shown with moving
counters, and every datagram reaching B must be the one sent; an SDES unprotect session is
rekeyed between two runs of a libsrtp2 sender, after which the new key works and the old one
fails authentication; the daemon's counters are read with DPDK's own `dpdk-telemetry.py`; the
forwarded packets are captured with `dpdk-dumpcap` and must be the flow's, byte for byte; after
delete the relay's packets count as no_session and stop arriving.

dpdk-dumpcap is a DPDK secondary process, and DPDK 22.11's secondary processes attach only to a
primary that runs on hugepages (README.md says why). So this test reserves 2 MiB hugepages for
its run, mounts a private hugetlbfs, starts the daemon on it, and gives everything back at the
end; where hugepages cannot be reserved it skips.

usage: test_lifecycle_capture.py SRTPGATE SRTPGATE-CTL SRTP-SENDER
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import e2e_harness as h

RTP_PORT = 20006
SENDER_PORT = 5020
RECEIVER_PORT = 6006
SRTP_PACKETS = 50  # per run of the SRTP sender: half a second
HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
PAGES_NEEDED = 160  # 320 MiB: the daemon asks for 256


class Hugepages:
    """Reserves pages and mounts a private hugetlbfs; the cleanup gives both back (a count
    lowered while the daemon still holds pages frees them when it lets go)."""

    def __init__(self, tmp, cleanup):
        self.mount = os.path.join(tmp, "hugepages")
        try:
            with open(HUGEPAGES) as f:
                before = int(f.read())
            with open(HUGEPAGES, "w") as f:
                f.write(str(before + PAGES_NEEDED))
            with open(HUGEPAGES) as f:
                got = int(f.read())
            # Only what the kernel granted (it may give fewer pages than asked) is given back.
            cleanup.register("subtract", HUGEPAGES, max(0, got - before))
            if got < before + PAGES_NEEDED:
                raise OSError("only %d of %d hugepages" % (got, before + PAGES_NEEDED))
            os.makedirs(self.mount)
            cleanup.register("umount", self.mount)
            h.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", self.mount])
        except (OSError, subprocess.CalledProcessError) as e:
            cleanup.close()
            print("SKIP: cannot reserve hugepages for dpdk-dumpcap: %s" % e)
            sys.exit(h.SKIP)


# The flow's RTP packet number `seq` (RFC 3550 §5.1 header, PCMU, SSRC 0x5151) with a payload
# that differs in every packet and byte. One definition, run here and in the namespaces.
FLOW_PACKET = """
import struct
def flow_packet(seq):
    header = struct.pack('!BBHII', 0x80, 0, seq & 0xffff, (seq * 160) & 0xffffffff, 0x5151)
    return header + bytes((seq * 7 + i) & 0xff for i in range(160))
"""
exec(FLOW_PACKET)


class RtpSource:
    """The flow's RTP at 100 packets per second from PEER_A until stopped."""

    def __init__(self, topo):
        code = FLOW_PACKET + """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('%s', %d))
seq = 0
while True:
    s.sendto(flow_packet(seq), ('%s', %d))
    seq += 1
    time.sleep(0.01)
""" % (h.PEER_A, SENDER_PORT, h.GATEWAY_A, RTP_PORT)
        self.proc = subprocess.Popen(h.python_in_ns(topo.ns_a, code))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class RtpSink:
    """Counts the datagrams reaching PEER_B:RECEIVER_PORT that are the flow's packets byte for
    byte (`good`) and those that are not (`bad`), readable at any time."""

    def __init__(self, topo):
        code = FLOW_PACKET + """
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('%s', %d))
while True:
    d = s.recv(2048)
    seq = struct.unpack('!H', d[2:4])[0] if len(d) >= 4 else 0
    print('g' if d == flow_packet(seq) else 'b', flush=True)
""" % (h.PEER_B, RECEIVER_PORT)
        self.proc = subprocess.Popen(h.python_in_ns(topo.ns_b, code), stdout=subprocess.PIPE,
                                     text=True)
        self.good = 0
        self.bad = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.strip() == "g":
                self.good += 1
            else:
                self.bad += 1

    @property
    def count(self):
        return self.good + self.bad

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def b64(key):
    return base64.b64encode(key).decode()


def ctl(ctl_bin, sock, *args):
    r = subprocess.run([ctl_bin, "--socket", sock, "--json"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        return r.returncode, {"raw": r.stdout}


def telemetry(prefix, command):
    """One command through dpdk-telemetry.py (it reads commands on stdin, prints JSON)."""
    r = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input=command + "\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
    start = r.stdout.find('{"' + command.split(",")[0])
    if start < 0:
        return {"raw": r.stdout[-300:]}
    return json.JSONDecoder().raw_decode(r.stdout[start:])[0]


def pcapng_udp_datagrams(path):
    """(destination port, UDP payload) of the IPv4 UDP frames in a pcapng file's enhanced
    packet blocks (pcapng spec, draft-ietf-opsawg-pcapng §4.3)."""
    datagrams = []
    data = open(path, "rb").read()
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12:
            break
        if btype == 6:  # Enhanced Packet Block: interface, ts high/low, captured, original
            captured = struct.unpack_from("<I", data, off + 20)[0]
            frame = data[off + 28: off + 28 + captured]
            if len(frame) >= 42 and frame[12:14] == b"\x08\x00" and frame[23] == 17:
                udp = 14 + (frame[14] & 15) * 4
                port, length = struct.unpack_from("!HH", frame, udp + 2)
                datagrams.append((port, frame[udp + 8: udp + length]))
        off += blen
    return datagrams


def main():
    h.require(["ip", "ethtool", "mount", "dpdk-dumpcap", "dpdk-telemetry.py"])
    binary, ctl_bin, sender_bin = sys.argv[1], sys.argv[2], sys.argv[3]
    check = h.Checks()
    cleanup = h.Cleanup()
    tmp = tempfile.mkdtemp(prefix="sg-e2e-life-")
    cleanup.register("rmtree", tmp)
    pages = Hugepages(tmp, cleanup)
    topo = h.Topology(cleanup)
    daemon = source = sink = None
    try:
        daemon = h.Daemon(binary, topo, cleanup,
                          extra_eal=["-m", "256", "--huge-dir", pages.mount])
        sock = daemon.control_path
        control = h.Control(sock)  # for counters the CLI does not print in one line
        sink = RtpSink(topo)
        source = RtpSource(topo)

        rc, r = ctl(ctl_bin, sock, "create", "--port", "net_af_packet0",
                    "--local", "%s:%d" % (h.GATEWAY_A, RTP_PORT),
                    "--remote", "%s:%d" % (h.PEER_A, SENDER_PORT), "--action", "forward",
                    "--next-hop-port", "net_af_packet1", "--next-hop-mac", topo.mac_b,
                    "--next-hop-src", h.GATEWAY_B,
                    "--next-hop-dst", "%s:%d" % (h.PEER_B, RECEIVER_PORT),
                    "--label", "lifecycle")
        check(rc == 0 and r.get("ok") is True, "srtpgate-ctl create: %s" % r.get("error", "ok"))
        sid = r.get("session", {}).get("id")
        key = os.urandom(30)
        rc, r = ctl(ctl_bin, sock, "create", "--port", "net_af_packet0",
                    "--local", "%s:%d" % (h.GATEWAY_A, RTP_PORT + 2),
                    "--remote", "%s:%d" % (h.PEER_A, SENDER_PORT + 2), "--action", "unprotect",
                    "--in-sdes", "AES_CM_128_HMAC_SHA1_80:inline:" + b64(key),
                    "--next-hop-port", "net_af_packet1", "--next-hop-mac", topo.mac_b,
                    "--next-hop-src", h.GATEWAY_B,
                    "--next-hop-dst", "%s:%d" % (h.PEER_B, RECEIVER_PORT + 2))
        check(rc == 0 and r.get("ok") is True, "srtpgate-ctl create an SDES session")
        sdes_id = r.get("session", {}).get("id")

        rc, r = ctl(ctl_bin, sock, "list")
        ids = [s.get("id") for s in r.get("sessions", [])]
        check(rc == 0 and sid in ids and sdes_id in ids, "srtpgate-ctl list shows both: %s" % ids)

        time.sleep(1.0)
        _, first = ctl(ctl_bin, sock, "show", str(sid))
        time.sleep(1.0)
        _, second = ctl(ctl_bin, sock, "show", str(sid))
        a = first.get("session", {}).get("counters", {}).get("tx_packets", 0)
        second_counters = second.get("session", {}).get("counters", {})
        b = second_counters.get("tx_packets", 0)
        drops = {k: v for k, v in second_counters.get("drops", {}).items() if v}
        check(a > 0 and b >= a + 50 and not drops,
              "srtpgate-ctl show: the counters move (%d, then %d), no drops %s" % (a, b, drops))
        check(sink.good > 0 and sink.bad == 0,
              "the flow's RTP reaches namespace B unchanged (%d equal, %d not)"
              % (sink.good, sink.bad))

        # Rekey while the SDES session carries SRTP (RFC 4568 §6.4: new key params, same
        # session). A new SSRC for each sender run, so no packet is judged by the replay window.
        def srtp_through(master, ssrc):
            sent, plain, received = h.send_srtp_and_receive(
                topo, sender_bin, "AES_CM_128_HMAC_SHA1_80", master, ssrc, SRTP_PACKETS,
                SENDER_PORT + 2, RTP_PORT + 2, RECEIVER_PORT + 2)
            return sent.returncode == 0 and len(plain) == SRTP_PACKETS, \
                h.same_packets(plain, received), len(received)

        sent_ok, same, n = srtp_through(key, 0x5001)
        check(sent_ok and same == n == SRTP_PACKETS,
              "SRTP under the first key comes out as the RTP sent (%d of %d)" % (same, n))
        new_key = os.urandom(30)
        rc, r = ctl(ctl_bin, sock, "rekey", str(sdes_id),
                    "--in-sdes", "AES_CM_128_HMAC_SHA1_80:inline:" + b64(new_key))
        check(rc == 0 and r.get("ok") is True, "srtpgate-ctl rekey: %s" % r.get("error", "ok"))
        check(b64(new_key) not in json.dumps(r) and b64(key) not in json.dumps(r),
              "the rekey answer holds no key")
        sent_ok, same, n = srtp_through(new_key, 0x5002)
        check(sent_ok and same == n == SRTP_PACKETS,
              "SRTP under the new key comes out as the RTP sent (%d of %d)" % (same, n))
        failures_before = h.counters(control, sdes_id).get("drops", {}) \
            .get("auth_failure", 0)
        sent_ok, same, n = srtp_through(key, 0x5003)
        failures = h.counters(control, sdes_id).get("drops", {}) \
            .get("auth_failure", 0) - failures_before
        check(sent_ok and n == 0 and failures == SRTP_PACKETS,
              "after the rekey the old key is refused: %d out, %d authentication failures"
              % (n, failures))

        t = telemetry(daemon.prefix, "/srtpgate/stats").get("/srtpgate/stats", {})
        check(t.get("sessions") == 2 and t.get("tx_packets", 0) > 0,
              "dpdk-telemetry.py /srtpgate/stats: sessions %s tx %s"
              % (t.get("sessions"), t.get("tx_packets")))
        t = telemetry(daemon.prefix, "/srtpgate/session,%d" % sid).get("/srtpgate/session", {})
        check(t.get("id") == sid and t.get("tx_packets", 0) > 0,
              "dpdk-telemetry.py /srtpgate/session,%d: %s" % (sid, {k: t.get(k) for k in (
                  "id", "state", "tx_packets")}))

        capture = os.path.join(tmp, "egress.pcapng")
        dump = subprocess.run(h.in_ns(topo.ns_gw, [
            "timeout", "30", "dpdk-dumpcap", "--file-prefix=" + daemon.prefix,
            "-i", "net_af_packet1", "-c", "20", "-w", capture]),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        datagrams = pcapng_udp_datagrams(capture) if os.path.exists(capture) else []
        flow = [d for port, d in datagrams if port == RECEIVER_PORT]
        equal = sum(1 for d in flow if len(d) >= 4 and
                    d == flow_packet(struct.unpack("!H", d[2:4])[0]))
        check(dump.returncode == 0 and len(flow) >= 20 and equal == len(flow),
              "dpdk-dumpcap captured the forwarded flow on net_af_packet1: %d frames to port "
              "%d, %d of them the flow's RTP byte for byte%s"
              % (len(flow), RECEIVER_PORT, equal,
                 "" if dump.returncode == 0 else ": " + dump.stdout[-300:]))

        _, before = ctl(ctl_bin, sock, "stats")
        rc, r = ctl(ctl_bin, sock, "delete", str(sid))
        check(rc == 0 and r.get("ok") is True, "srtpgate-ctl delete")
        time.sleep(0.5)
        received = sink.count
        time.sleep(1.5)
        check(sink.count - received <= 1, "after delete nothing more arrives (%d more)"
              % (sink.count - received))
        _, after = ctl(ctl_bin, sock, "stats")

        def no_session(r):
            return r.get("stats", {}).get("total", {}).get("drops", {}).get("no_session", 0)
        check(no_session(after) - no_session(before) >= 100,
              "after delete the flow's packets count as no_session (%d)"
              % (no_session(after) - no_session(before)))
        rc, r = ctl(ctl_bin, sock, "show", str(sid))
        check(rc == 1 and r.get("ok") is False, "show of the deleted session is an error")

        source.stop()
        source = None
        status = daemon.stop()
        check(status == 0, "srtpgate exits 0 on SIGTERM (%s)" % status)
    finally:
        for p in (source, sink):
            if p is not None:
                p.stop()
        if daemon is not None:
            daemon.close()
        cleanup.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
