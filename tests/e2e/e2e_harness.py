"""What the end-to-end tests share: three network namespaces (the srtpgate daemon in one, a
peer in each of the others) joined by veth pairs that the daemon reads and writes through DPDK
net_af_packet ports, the daemon process, its control socket, a check that decoded audio holds
the test tone, and the undoing of all of it however the test ends.

Topology (SUFFIX is the test's pid, so runs never collide; everything is removed at the end):

    netns sgaSUFFIX               netns sggSUFFIX (the gateway)                netns sgbSUFFIX
    ethA 198.18.10.2/24 --veth-- sgaSUFFIX [srtpgate] sgbSUFFIX --veth-- ethB 198.18.20.2/24
                          net_af_packet0            net_af_packet1
                          ours: 198.18.10.1         ours: 198.18.20.1

The peers reach the gateway's addresses through its own ARP answers. Addresses are from
198.18.0.0/15 (RFC 2544 benchmarking) only. The gateway's namespace has no address, no route
and no IPv6 of its own, so the kernel there, which also sees every frame af_packet reads, has
nowhere to send one: nothing can leave the three namespaces.
"""
import base64
import json
import random
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
DPDK_RUNTIME = "/var/run/dpdk"  # where EAL keeps a primary's files, one folder per prefix


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


def python_in_ns(ns, code, *args):
    """A short Python program in a namespace, with the interpreter running this test."""
    return in_ns(ns, [sys.executable, "-u", "-c", code] + list(args))


class Cleanup:
    """Every change a test makes to the machine is registered here as it is made, and undone
    in reverse order by cleanup_watcher.py, a process in a session of its own: at close(), or
    when this process dies in any way (meson's timeout kills the whole process group)."""

    def __init__(self):
        read_end, self.write_end = os.pipe()
        watcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cleanup_watcher.py")
        self.proc = subprocess.Popen([sys.executable, watcher], stdin=read_end,
                                     stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        os.close(read_end)
        if self.proc.stdout.readline().strip() != "watching":
            raise RuntimeError("the cleanup watcher did not start: nothing will be changed")

    def register(self, *action):
        os.write(self.write_end, (json.dumps(list(action)) + "\n").encode())

    def close(self):
        if self.write_end is not None:
            os.close(self.write_end)
            self.write_end = None
            self.proc.wait(timeout=60)


class Topology:
    """The three namespaces and the two veth pairs. Checksum offload is turned off on the
    peers' interfaces: across a veth the kernel leaves a partial UDP checksum for the
    receiver's NIC to finish (CHECKSUM_PARTIAL), and net_af_packet hands DPDK the frame as it
    is, so the gateway would see a wrong checksum (RFC 768) and drop the packet."""

    def __init__(self, cleanup):
        suffix = str(os.getpid())
        self.ns_gw = "sgg" + suffix
        self.ns_a = "sga" + suffix
        self.ns_b = "sgb" + suffix
        self.if_a = "sga" + suffix  # the gateway's end of each pair, in ns_gw
        self.if_b = "sgb" + suffix
        try:
            for ns in (self.ns_gw, self.ns_a, self.ns_b):
                run(["ip", "netns", "add", ns])
                cleanup.register("netns", ns)
                run(in_ns(ns, ["ip", "link", "set", "lo", "up"]))
            # No forwarding and no IPv6 in the gateway's namespace: its kernel neither routes
            # the peers' frames nor sends router solicitations out of the DPDK ports.
            run(in_ns(self.ns_gw, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0",
                                   "net.ipv6.conf.all.disable_ipv6=1",
                                   "net.ipv6.conf.default.disable_ipv6=1"]))
            for ns, ours, peer, addr in ((self.ns_a, self.if_a, "ethA", PEER_A),
                                         (self.ns_b, self.if_b, "ethB", PEER_B)):
                run(["ip", "link", "add", ours, "netns", self.ns_gw, "type", "veth", "peer",
                     "name", peer, "netns", ns])
                # One datagram per frame as it was sent: no receive coalescing before af_packet.
                run(in_ns(self.ns_gw, ["ethtool", "-K", ours, "gro", "off"]))
                run(in_ns(self.ns_gw, ["ip", "link", "set", ours, "up"]))
                run(in_ns(ns, ["ip", "addr", "add", addr + "/24", "dev", peer]))
                run(in_ns(ns, ["ip", "link", "set", peer, "up"]))
                run(in_ns(ns, ["ethtool", "-K", peer, "tx", "off"]))
        except (subprocess.CalledProcessError, OSError) as e:
            out = getattr(e, "output", "") or ""
            cleanup.close()
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


class Daemon:
    """srtpgate in the gateway's namespace on the two af_packet ports, with a configuration
    naming our addresses. Its control socket and EAL runtime folder are files, reachable from
    the root namespace (telemetry, dumpcap)."""

    def __init__(self, binary, topo, cleanup, extra_eal=None):
        self.tmp = tempfile.mkdtemp(prefix="srtpgate-e2e-")
        cleanup.register("rmtree", self.tmp)
        self.control_path = os.path.join(self.tmp, "control.sock")
        self.prefix = "sge2e%d" % os.getpid()
        cleanup.register("rmtree", os.path.join(DPDK_RUNTIME, self.prefix))
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
        self.proc = subprocess.Popen(in_ns(topo.ns_gw, cmd), stdout=self.log,
                                     stderr=subprocess.STDOUT)
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


# Prints "ready" once bound, then each datagram reaching ADDR:PORT as a hex line, until COUNT
# arrived or none came for SILENCE seconds.
_RECEIVER = """
import socket, sys
addr, port, count, silence = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
s.settimeout(silence)
print("ready", flush=True)
for _ in range(count):
    try:
        print(s.recv(4096).hex(), flush=True)
    except OSError:
        break
"""


def send_srtp_and_receive(topo, sender_bin, profile, key_and_salt, ssrc, count, src_port,
                          dst_port, rx_port):
    """srtpgate-e2e-srtp-send (libsrtp2) sends `count` SRTP packets from PEER_A:src_port to
    GATEWAY_A:dst_port while namespace B listens on PEER_B:rx_port. Returns (the sender's
    CompletedProcess, the plain RTP it protected, the datagrams B received), packets as hex."""
    rx = subprocess.Popen(["timeout", "30"] + python_in_ns(
        topo.ns_b, _RECEIVER, PEER_B, str(rx_port), str(count), "2"),
        stdout=subprocess.PIPE, text=True)
    rx.stdout.readline()  # "ready": bound before the first packet is sent
    sent = subprocess.run(in_ns(topo.ns_a, [
        "timeout", "20", sender_bin, profile, key_and_salt.hex(), PEER_A, str(src_port),
        GATEWAY_A, str(dst_port), str(ssrc), str(count)]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    received = rx.communicate(timeout=40)[0].split()
    return sent, sent.stdout.split(), received


def same_packets(plain, received):
    """How many received datagrams equal, in order, the plain RTP the sender protected."""
    return sum(1 for a, b in zip(plain, received) if a == b)


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


def noise_s16le(samples, seed):
    """Seeded white noise as 16-bit little-endian samples: unlike a tone, no two 20 ms frames of
    it are alike, so a frame lost, repeated or moved shows in what a receiver decodes."""
    rng = random.Random(seed)
    return struct.pack("<%dh" % samples, *(rng.randint(-12000, 12000) for _ in range(samples)))


def frames_of(raw, frame_bytes=320):
    """The audio cut into frames of one RTP packet each (160 PCMU samples, decoded to 320
    bytes); a partial frame at the end is kept as it is."""
    return [raw[i:i + frame_bytes] for i in range(0, len(raw), frame_bytes)]


def audio_sequence(decoded, reference, frame_bytes=320):
    """Compares decoded audio, frame by frame, with the reference it must be (the same codec
    chain run offline on what was sent). Returns (first, in_order, frames): the reference frame
    the decoded audio starts with (None if its first frame is none of them), how many decoded
    frames from the start follow on from there sample for sample and in order, and how many
    frames (a partial one counted) were decoded. Needs a reference whose frames are all
    distinct (check with frames_of): then a lost, repeated or reordered packet anywhere ends
    the in-order run there."""
    ref = frames_of(reference, frame_bytes)
    got = frames_of(decoded, frame_bytes)
    if not got:
        return None, 0, 0
    first = next((i for i, f in enumerate(ref) if f == got[0]), None)
    if first is None:
        return None, 0, len(got)
    in_order = 0
    for i, f in enumerate(got):
        if first + i >= len(ref) or ref[first + i] != f:
            break
        in_order += 1
    return first, in_order, len(got)


def wait_udp_bound(ns, port, timeout=15.0):
    """Waits until a UDP socket in namespace `ns` is bound to `port`, so that a receiver started
    in the background sees the first packet sent to it. True if it was bound in time."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run(in_ns(ns, ["ss", "-Hlun", "sport = :%d" % port]),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        if out.strip():
            return True
        time.sleep(0.1)
    return False


def wait_file_settles(path, size, quiet=1.5, timeout=15.0):
    """Waits until the file at `path` has `size` bytes, or has not grown for `quiet` seconds: a
    receiver decoding into it has written all it will."""
    deadline = time.time() + timeout
    last, since = -1, time.time()
    while time.time() < deadline:
        now = os.path.getsize(path) if os.path.exists(path) else 0
        if now >= size:
            return
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            return
        time.sleep(0.1)


def link_rx_packets(ns, ifname):
    """The packets an interface in a namespace has received (its kernel statistics)."""
    out = run(in_ns(ns, ["ip", "-j", "-s", "link", "show", ifname])).stdout
    return json.loads(out)[0]["stats64"]["rx"]["packets"]


def telemetry(prefix, command):
    """One DPDK telemetry v2 command (what dpdk-telemetry.py speaks: SOCK_SEQPACKET, a JSON
    greeting, then one JSON answer per command) to the daemon with EAL file prefix `prefix`.
    Returns the answer's text, or None if the socket cannot be reached."""
    path = os.path.join(DPDK_RUNTIME, prefix, "dpdk_telemetry.v2")
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(path)
        s.recv(16384)  # the greeting
        s.send(command.encode())
        answer = s.recv(1 << 20).decode()
        s.close()
        return answer
    except OSError:
        return None


def secret_spellings(secret):
    """The ways a secret could appear in text: hex either case and base64 (the secret alone, so
    it is found wherever a base64 text of it starts on a 3-byte boundary)."""
    b64 = base64.b64encode(secret).decode()
    # A base64 text of the secret embedded in a longer one at another 3-byte phase: drop the
    # characters that depend on the neighbouring bytes.
    spellings = {secret.hex(), secret.hex().upper(), b64.rstrip("=")[:-1]}
    for pad in (1, 2):
        shifted = base64.b64encode(b"\0" * pad + secret).decode().rstrip("=")
        spellings.add(shifted[4:-1])
    return spellings
