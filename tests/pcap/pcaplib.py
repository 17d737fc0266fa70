"""Helpers for the srtpgate-pcap tests that drive real SRTP senders (ffmpeg, GStreamer).

An independent reader for pcap and pcapng, a frame parser for what loopback captures hold
(Ethernet/IPv4/UDP), checks of the IP and UDP checksums, a loopback capture with dumpcap, a UDP
sink, and a parser for the tool's summary. Nothing here imports srtpgate code.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time


class TestFailure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def need_tools(*names):
    """Tools the test needs; missing ones fail the test (CI installs them), never skip it."""
    missing = [n for n in names if shutil.which(n) is None]
    check(not missing, "missing tools: " + ", ".join(missing) +
          " (apt-get install ffmpeg tshark gstreamer1.0-tools gstreamer1.0-plugins-bad)")


# --- capture files --------------------------------------------------------------------------

def read_capture(path):
    """Returns (linktype, [(ts_sec, ts_frac, bytes)]) for a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        return _read_pcapng(data)
    for endian in "<>":
        m = struct.unpack(endian + "I", magic)[0]
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
            frames, off = [], 24
            while off + 16 <= len(data):
                sec, frac, caplen, _wire = struct.unpack(endian + "IIII", data[off:off + 16])
                frames.append((sec, frac, data[off + 16:off + 16 + caplen]))
                off += 16 + caplen
            check(off == len(data), f"{path}: trailing bytes after the last record")
            return linktype, frames
    raise TestFailure(f"{path}: not a pcap/pcapng file")


def _read_pcapng(data):
    endian = "<" if struct.unpack("<I", data[8:12])[0] == 0x1A2B3C4D else ">"
    off, linktypes, frames = 0, [], []
    while off + 12 <= len(data):
        btype, blen = struct.unpack(endian + "II", data[off:off + 8])
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            linktypes.append(struct.unpack(endian + "H", body[:2])[0])
        elif btype == 6:  # enhanced packet
            _if, hi, lo, caplen, _wire = struct.unpack(endian + "IIIII", body[:20])
            frames.append((hi, lo, body[20:20 + caplen]))
        off += blen
    check(linktypes, "pcapng without an interface block")
    return linktypes[0], frames


def write_pcap(path, linktype, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for sec, frac, b in frames:
            f.write(struct.pack("<IIII", sec, frac, len(b), len(b)))
            f.write(b)


# --- frames -----------------------------------------------------------------------------------

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Udp:
    def __init__(self, src, dst, sport, dport, payload):
        self.src, self.dst, self.sport, self.dport, self.payload = src, dst, sport, dport, payload


def parse_udp_frame(linktype, frame, verify_checksums=False):
    """Ethernet (one optional VLAN tag), SLL, SLL2 or raw IP; IPv4/IPv6 without extension
    headers; UDP. Returns Udp or None. With verify_checksums, a bad IPv4 header checksum or UDP
    checksum fails the test."""
    if linktype == 1:
        etype, off = struct.unpack("!H", frame[12:14])[0], 14
        if etype == 0x8100:
            etype, off = struct.unpack("!H", frame[16:18])[0], 18
    elif linktype == 113:
        etype, off = struct.unpack("!H", frame[14:16])[0], 16
    elif linktype == 276:
        etype, off = struct.unpack("!H", frame[0:2])[0], 20
    elif linktype in (12, 101):
        etype, off = (0x0800 if frame[0] >> 4 == 4 else 0x86DD), 0
    else:
        raise TestFailure(f"link type {linktype} not handled by the test reader")
    if etype == 0x0800:
        ihl = (frame[off] & 15) * 4
        total = struct.unpack("!H", frame[off + 2:off + 4])[0]
        if frame[off + 9] != 17 or struct.unpack("!H", frame[off + 6:off + 8])[0] & 0x3FFF:
            return None
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        if verify_checksums:
            check(_csum(frame[off:off + ihl]) == 0, "bad IPv4 header checksum")
        udp = frame[off + ihl:off + total]
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    elif etype == 0x86DD:
        if frame[off + 6] != 17:
            return None
        plen = struct.unpack("!H", frame[off + 4:off + 6])[0]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        udp = frame[off + 40:off + 40 + plen]
        pseudo = src + dst + struct.pack("!IxxxB", len(udp), 17)
    else:
        return None
    sport, dport, ulen, ucsum = struct.unpack("!HHHH", udp[:8])
    check(ulen == len(udp), f"UDP length {ulen} != IP payload {len(udp)}")
    if verify_checksums and (ucsum != 0 or etype == 0x86DD):
        check(_csum(pseudo + udp) == 0, f"bad UDP checksum on {sport}->{dport}")
    return Udp(src, dst, sport, dport, udp[8:ulen])


def udp_payloads(path, port=None, verify_checksums=False):
    linktype, frames = read_capture(path)
    out = []
    for _s, _f, frame in frames:
        u = parse_udp_frame(linktype, frame, verify_checksums)
        if u is not None and (port is None or u.dport == port):
            out.append(u.payload)
    return out


def rtp_payload_stream(packets):
    """Concatenates RTP payloads in sequence-number order (all of one SSRC)."""
    check(packets, "no RTP packets")
    ssrcs = {struct.unpack("!I", p[8:12])[0] for p in packets}
    check(len(ssrcs) == 1, f"expected one SSRC, got {len(ssrcs)}")
    out = []
    for p in packets:
        check(p[0] >> 6 == 2, "RTP version != 2")
        cc, ext, pad = p[0] & 15, p[0] & 0x10, p[0] & 0x20
        hl = 12 + 4 * cc
        if ext:
            hl += 4 + 4 * struct.unpack("!H", p[hl + 2:hl + 4])[0]
        end = len(p) - (p[-1] if pad else 0)
        out.append((struct.unpack("!H", p[2:4])[0], p[hl:end]))
    # Sequence numbers may wrap inside a short capture: sort on the unwrapped index.
    base, idx, prev, roc = out[0][0], [], out[0][0], 0
    for seq, _ in out:
        if seq < prev and prev - seq > 0x8000:
            roc += 1
        prev = seq
        idx.append(roc * 65536 + seq)
    del base
    return b"".join(pl for _, (_, pl) in sorted(zip(idx, out), key=lambda t: t[0]))


def check_plain_rtcp(pkt, ssrc=None):
    """A plaintext compound RTCP packet: lengths add up exactly, first is SR/RR."""
    off = 0
    while off < len(pkt):
        check(len(pkt) - off >= 4 and pkt[off] >> 6 == 2, "RTCP: bad version in compound")
        n = (struct.unpack("!H", pkt[off + 2:off + 4])[0] + 1) * 4
        check(off + n <= len(pkt), "RTCP: length runs past the packet")
        off += n
    check(off == len(pkt), "RTCP: lengths do not add up (trailer left?)")
    check(pkt[1] in (200, 201), f"RTCP: first packet type {pkt[1]}")
    if ssrc is not None:
        check(struct.unpack("!I", pkt[4:8])[0] == ssrc, "RTCP: sender SSRC != RTP SSRC")


# --- running things ---------------------------------------------------------------------------

def free_port_pair():
    for _ in range(200):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        if port % 2 or port > 65000:
            a.close()
            continue
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            b.bind(("127.0.0.1", port + 1))
        except OSError:
            a.close()
            continue
        a.close()
        b.close()
        return port
    raise TestFailure("no free UDP port pair")


@contextlib.contextmanager
def udp_sink(ports):
    """Receives and discards on the ports, so senders get no ICMP port unreachable."""
    socks, stop = [], threading.Event()
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", p))
        s.settimeout(0.2)
        socks.append(s)

    def drain(s):
        while not stop.is_set():
            try:
                s.recv(65536)
            except OSError:
                pass

    threads = [threading.Thread(target=drain, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join()
        for s in socks:
            s.close()


@contextlib.contextmanager
def loopback_capture(path, ports, pcapng=True, iface="lo"):
    """dumpcap on lo (or "any": Linux cooked frames) for UDP to or from the given ports, until
    the block ends."""
    filt = " or ".join(f"udp port {p}" for p in ports)
    cmd = ["dumpcap", "-q", "-i", iface, "-f", filt, "-w", path]
    if not pcapng:
        cmd.insert(1, "-P")
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 15
    try:
        while time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Capturing on"):
                break
        check(any(l.startswith("Capturing on") for l in lines),
              "dumpcap did not start: " + "".join(lines))
        time.sleep(0.3)
        yield
        time.sleep(0.5)  # let the last packets reach the capture
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest = proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[1]
    check(os.path.exists(path), "dumpcap wrote nothing: " + "".join(lines) + (rest or ""))


def run(cmd, timeout=60, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, **kw)
    return r


SUMMARY_RE = re.compile(r"^\s+([a-z_ ]+): (\d+)", re.M)


def run_tool(tool, args, expect_rc=0):
    r = run([tool] + args)
    check(r.returncode == expect_rc,
          f"srtpgate-pcap {' '.join(args)} exited {r.returncode}, expected {expect_rc}:\n"
          + r.stderr)
    counts = {m.group(1): int(m.group(2)) for m in SUMMARY_RE.finditer(r.stderr)}
    return counts, r.stderr


def main(test_fn):
    """Runs one test function with argv, reports, exits 0/1."""
    try:
        test_fn(sys.argv[1:])
    except TestFailure as e:
        print("FAIL:", e, file=sys.stderr)
        sys.exit(1)
    print("PASS", file=sys.stderr)
