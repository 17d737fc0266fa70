#!/usr/bin/env python3
"""End to end 4: a session's life through `srtpgate-ctl` while RTP flows from namespace A to
namespace B (create, list, show with moving counters, rekey, delete, after which the flow's
packets are counted as no_session and stop arriving); the daemon's counters read with DPDK's
own `dpdk-telemetry.py`; and the forwarded packets captured with `dpdk-dumpcap`.

dpdk-dumpcap is a DPDK secondary process, and DPDK 22.11's secondary processes attach only to a
primary that runs on hugepages (its EAL arguments cannot be changed to --no-huge). So this test
reserves 2 MiB hugepages for its run, mounts a private hugetlbfs, starts the daemon on it, and
gives everything back at the end; where hugepages cannot be reserved it skips.

usage: test_lifecycle_capture.py SRTPGATE SRTPGATE-CTL
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
HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
PAGES_NEEDED = 160  # 320 MiB: the daemon asks for 256


class Hugepages:
    """Reserves pages and mounts a private hugetlbfs; restores both on close()."""

    def __init__(self, tmp):
        self.before = None
        self.mount = os.path.join(tmp, "hugepages")
        self.mounted = False
        try:
            with open(HUGEPAGES) as f:
                self.before = int(f.read())
            with open(HUGEPAGES, "w") as f:
                f.write(str(self.before + PAGES_NEEDED))
            with open(HUGEPAGES) as f:
                got = int(f.read())
            if got < self.before + PAGES_NEEDED:
                raise OSError("only %d of %d hugepages" % (got, self.before + PAGES_NEEDED))
            os.makedirs(self.mount)
            h.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", self.mount])
            self.mounted = True
        except (OSError, subprocess.CalledProcessError) as e:
            self.close()
            print("SKIP: cannot reserve hugepages for dpdk-dumpcap: %s" % e)
            sys.exit(h.SKIP)

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mount])
            self.mounted = False
        if self.before is not None:
            with open(HUGEPAGES, "w") as f:
                f.write(str(self.before))
            self.before = None


class RtpSource:
    """Plain RTP (RFC 3550 header, PCMU) at 100 packets per second from PEER_A until stopped."""

    def __init__(self, topo):
        code = ("import socket,struct,time,sys\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "s.bind(('%s',%d)); seq=0\n"
                "while True:\n"
                "  s.sendto(struct.pack('!BBHII',0x80,0,seq&0xffff,seq*160,0x5151)+bytes(160),"
                "('%s',%d))\n"
                "  seq+=1; time.sleep(0.01)\n"
                % (h.PEER_A, SENDER_PORT, h.GATEWAY_A, RTP_PORT))
        self.proc = subprocess.Popen(h.in_ns(topo.ns_a, ["python3", "-c", code]))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class RtpSink:
    """Counts the datagrams reaching PEER_B:RECEIVER_PORT, readable at any time."""

    def __init__(self, topo):
        code = ("import socket,sys\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "s.bind(('%s',%d)); n=0\n"
                "while True:\n"
                "  s.recv(2048); n+=1; print(n, flush=True)\n" % (h.PEER_B, RECEIVER_PORT))
        self.proc = subprocess.Popen(h.in_ns(topo.ns_b, ["python3", "-u", "-c", code]),
                                     stdout=subprocess.PIPE, text=True)
        self.count = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.count = int(line)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


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


def pcapng_udp_ports(path):
    """Destination UDP ports of the IPv4 frames in a pcapng file's enhanced packet blocks."""
    ports = []
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
                ihl = (frame[14] & 15) * 4
                ports.append(struct.unpack_from("!H", frame, 14 + ihl + 2)[0])
        off += blen
    return ports


def main():
    h.require(["ip", "ethtool", "mount", "dpdk-dumpcap", "dpdk-telemetry.py"])
    binary, ctl_bin = sys.argv[1], sys.argv[2]
    check = h.Checks()
    tmp = tempfile.mkdtemp(prefix="sg-e2e-life-")
    pages = Hugepages(tmp)
    topo = h.Topology()
    daemon = source = sink = None
    try:
        daemon = h.Daemon(binary, topo, extra_eal=["-m", "256", "--huge-dir", pages.mount])
        sock = daemon.control_path
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
        key = base64.b64encode(os.urandom(30)).decode()
        rc, r = ctl(ctl_bin, sock, "create", "--port", "net_af_packet0",
                    "--local", "%s:%d" % (h.GATEWAY_A, RTP_PORT + 2),
                    "--remote", "%s:%d" % (h.PEER_A, SENDER_PORT + 2), "--action", "unprotect",
                    "--in-sdes", "AES_CM_128_HMAC_SHA1_80:inline:" + key,
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
        b = second.get("session", {}).get("counters", {}).get("tx_packets", 0)
        check(a > 0 and b >= a + 50, "srtpgate-ctl show: the counters move (%d, then %d)" % (a, b))
        check(sink.count > 0, "RTP reaches namespace B (%d datagrams)" % sink.count)

        new_key = base64.b64encode(os.urandom(30)).decode()
        rc, r = ctl(ctl_bin, sock, "rekey", str(sdes_id),
                    "--in-sdes", "AES_CM_128_HMAC_SHA1_80:inline:" + new_key)
        check(rc == 0 and r.get("ok") is True, "srtpgate-ctl rekey: %s" % r.get("error", "ok"))
        check(new_key not in json.dumps(r) and key not in json.dumps(r),
              "the rekey answer holds no key")

        t = telemetry(daemon.prefix, "/srtpgate/stats").get("/srtpgate/stats", {})
        check(t.get("sessions") == 2 and t.get("tx_packets", 0) > 0,
              "dpdk-telemetry.py /srtpgate/stats: sessions %s tx %s"
              % (t.get("sessions"), t.get("tx_packets")))
        t = telemetry(daemon.prefix, "/srtpgate/session,%d" % sid).get("/srtpgate/session", {})
        check(t.get("id") == sid and t.get("tx_packets", 0) > 0,
              "dpdk-telemetry.py /srtpgate/session,%d: %s" % (sid, {k: t.get(k) for k in (
                  "id", "state", "tx_packets")}))

        capture = os.path.join(tmp, "egress.pcapng")
        dump = subprocess.run(["timeout", "30", "dpdk-dumpcap", "--file-prefix=" + daemon.prefix,
                               "-i", "net_af_packet1", "-c", "20", "-w", capture],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ports = pcapng_udp_ports(capture) if os.path.exists(capture) else []
        check(dump.returncode == 0 and len(ports) >= 20 and ports.count(RECEIVER_PORT) >= 20,
              "dpdk-dumpcap captured the forwarded flow on net_af_packet1: %d frames to port %d"
              "%s" % (ports.count(RECEIVER_PORT), RECEIVER_PORT,
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
        topo.close()
        pages.close()
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
