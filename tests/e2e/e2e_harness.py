"""What the end-to-end tests share: two network namespaces joined to the srtpgate daemon by
veth pairs and DPDK net_af_packet ports, the daemon process, its control socket, and a check
that decoded audio holds the test tone.

Topology (SUFFIX is the test's pid, so runs never collide; everything is removed at the end):

    netns sgaSUFFIX                    root namespace                  netns sgbSUFFIX
    ethA 198.18.10.2/24 --veth-- sgaSUFFIX  [srtpgate]  sgbSUFFIX --veth-- ethB 198.18.20.2/24
                              net_af_packet0      net_af_packet1
                              ours: 198.18.10.1   ours: 198.18.20.1

The peers reach the gateway's addresses through its own ARP answers. Addresses are from
198.18.0.0/15 (RFC 2544 benchmarking) only, and nothing leaves the namespaces.
"""
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77  # meson's exit code for a skipped test

GATEWAY_A = "198.18.10.1"
PEER_A = "198.18.10.2"
GATEWAY_B = "198.18.20.1"
PEER_B = "198.18.20.2"


class Checks:
    """Prints each check as it goes; the test fails at the end if one did."""

    def __init__(self):
        self.failures = []

    def __call__(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            self.failures.append(what)
        return cond

    def exit_code(self):
        for f in self.failures:
            print("failed: " + f)
        return 1 if self.failures else 0


def require(tools):
    """Exits with SKIP (never a pass) when this machine cannot run the test."""
    if os.geteuid() != 0:
        print("SKIP: network namespaces need root")
        sys.exit(SKIP)
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        print("SKIP: not installed: " + ", ".join(missing))
        sys.exit(SKIP)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


def in_ns(ns, cmd):
    return ["ip", "netns", "exec", ns] + cmd


class Topology:
    """The two namespaces and their veth pairs. Checksum offload is turned off on the peers'
    interfaces: across a veth the kernel leaves a partial UDP checksum for the receiver's NIC to
    finish, and net_af_packet hands DPDK the frame as it is."""

    def __init__(self):
        suffix = str(os.getpid())
        self.ns_a = "sga" + suffix
        self.ns_b = "sgb" + suffix
        self.if_a = "sga" + suffix  # our end of each pair, in the root namespace
        self.if_b = "sgb" + suffix
        self.created = []
        try:
            for ns, ours, peer, addr in ((self.ns_a, self.if_a, "ethA", PEER_A),
                                         (self.ns_b, self.if_b, "ethB", PEER_B)):
                run(["ip", "netns", "add", ns])
                self.created.append(ns)
                run(["ip", "link", "add", ours, "type", "veth", "peer", "name", peer,
                     "netns", ns])
                run(["ip", "link", "set", ours, "up"])
                run(in_ns(ns, ["ip", "addr", "add", addr + "/24", "dev", peer]))
                run(in_ns(ns, ["ip", "link", "set", peer, "up"]))
                run(in_ns(ns, ["ip", "link", "set", "lo", "up"]))
                run(in_ns(ns, ["ethtool", "-K", peer, "tx", "off"]))
        except (subprocess.CalledProcessError, OSError) as e:
            out = getattr(e, "output", "") or ""
            self.close()
            print("SKIP: cannot build the namespaces: %s %s" % (e, out))
            sys.exit(SKIP)
        self.mac_b = self.mac(self.ns_b, "ethB")

    @staticmethod
    def mac(ns, ifname):
        out = run(in_ns(ns, ["ip", "-j", "link", "show", ifname])).stdout
        return json.loads(out)[0]["address"]

    def vdevs(self):
        # Two queue pairs: one tx queue for the worker and one for the control thread (ARP,
        # DTLS). The kernel spreads received frames over both sockets; the worker reads both.
        return ["--vdev", "net_af_packet0,iface=%s,qpairs=2" % self.if_a,
                "--vdev", "net_af_packet1,iface=%s,qpairs=2" % self.if_b]

    def close(self):
        for ns in self.created:
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        self.created = []


class Daemon:
    """srtpgate on the two af_packet ports, with a configuration naming our addresses."""

    def __init__(self, binary, topo, extra_eal=None, prefix=None):
        self.tmp = tempfile.mkdtemp(prefix="srtpgate-e2e-")
        self.control_path = os.path.join(self.tmp, "control.sock")
        self.prefix = prefix or "sge2e%d" % os.getpid()
        config = {
            "ports": [{"name": "net_af_packet0", "addresses": [GATEWAY_A], "rss": False},
                      {"name": "net_af_packet1", "addresses": [GATEWAY_B], "rss": False}],
            "stats_interval": 1,
        }
        config_path = os.path.join(self.tmp, "srtpgate.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        memory = extra_eal if extra_eal is not None else ["--no-huge", "-m", "1024"]
        cmd = ([binary, "-l", "0-1", "--no-pci", "--file-prefix", self.prefix] + memory +
               topo.vdevs() + ["--", "--config", config_path, "--control", self.control_path])
        self.log_path = os.path.join(self.tmp, "srtpgate.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not os.path.exists(self.control_path):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("srtpgate did not start:\n" + self.log_text())
            time.sleep(0.1)

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def close(self):
        self.stop()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Control:
    """One connection to the control socket (docs/control.md): a JSON line each way."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""

    def request(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def session_request(local_port, remote_port, action, next_hop_port, mac_b, inbound=None,
                    outbound=None, label=""):
    """A create request: media from PEER_A:remote_port to GATEWAY_A:local_port, processed by
    `action`, sent from GATEWAY_B to PEER_B:next_hop_port."""
    req = {"cmd": "create", "port": "net_af_packet0", "local_addr": GATEWAY_A,
           "local_port": local_port, "remote_addr": PEER_A, "remote_port": remote_port,
           "action": action, "label": label,
           "next_hop": {"port": "net_af_packet1", "mac": mac_b, "src_addr": GATEWAY_B,
                        "dst_addr": PEER_B, "dst_port": next_hop_port}}
    if inbound:
        req["inbound"] = inbound
    if outbound:
        req["outbound"] = outbound
    return req


def counters(ctl, sid):
    r = ctl.request({"cmd": "show", "id": sid})
    return r.get("session", {}).get("counters", {})


def goertzel_share(samples, rate, freq):
    """The share of the signal's energy at `freq` (Goertzel filter over the whole block):
    near 1 for a pure tone at that frequency, near 0 for noise or another tone."""
    n = len(samples)
    if n == 0:
        return 0.0
    k = round(n * freq / rate)
    w = 2 * math.pi * k / n
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    energy = sum(x * x for x in samples)
    return 0.0 if energy == 0 else 2 * power / (n * energy)


def tone_report(raw_s16le, rate=8000, freq=1000):
    """(share of energy at freq, RMS) of the middle second of decoded 16-bit audio."""
    count = len(raw_s16le) // 2
    samples = struct.unpack("<%dh" % count, raw_s16le[:count * 2])
    middle = samples[len(samples) // 4: len(samples) // 4 + rate] if count > rate else samples
    rms = math.sqrt(sum(x * x for x in middle) / len(middle)) if middle else 0.0
    return goertzel_share(middle, rate, freq), rms
