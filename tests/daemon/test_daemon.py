#!/usr/bin/env python3
"""The real srtpgate process: starts it with --demo (an in-process ring port fed with fresh SRTP
by the built-in generator, and net_null0), drives its control socket, reads its DPDK telemetry,
stops it with SIGTERM and checks the exit status and the final counters line.

usage: test_daemon.py PATH/TO/srtpgate

Nothing leaves the process: the ports are an in-process ring and net_null; addresses are from
198.18.0.0/15. The worker busy-polls one core, so the run is kept short.

The request shapes live in the REQUESTS helpers below, in one place, so they follow
docs/control.md.
"""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


class Control:
    """One connection to the control socket: a JSON line out, a JSON line back."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.buf = b""

    def raw(self, line):
        self.sock.sendall(line.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control socket closed")
            self.buf += chunk
        resp, self.buf = self.buf.split(b"\n", 1)
        return json.loads(resp)

    def request(self, obj):
        return self.raw(json.dumps(obj))


# --- Requests (docs/control.md) --------------------------------------------------------------
SAMPLE_KEY = "inline:VNtPRH10gRr5HvSPx2AFa0/dDq/yMLi8dHaAlaNY"


def leaks_key(text):
    """True if the sample key shows in text: its SDES base64, or the master key or the master
    salt (RFC 4568 §6.1: key then salt) in hex."""
    material = base64.b64decode(SAMPLE_KEY.split(":")[1])
    spellings = [SAMPLE_KEY.split(":")[1]]
    for part in (material[:16], material[16:]):
        spellings += [part.hex(), part.hex().upper()]
    return any(sp in text for sp in spellings)


def create_req(label, key=SAMPLE_KEY, port="net_null0", local="198.18.1.1"):
    return {"cmd": "create", "tag": label,
            "port": port, "local_addr": local, "local_port": 0,
            "remote_addr": "198.18.1.50", "remote_port": 7000, "action": "unprotect",
            "inbound": {"sdes": {"profile": "AES_CM_128_HMAC_SHA1_80", "key": key}},
            "next_hop": {"mac": "02:00:00:00:00:09", "src_addr": "198.18.1.1",
                         "dst_addr": "198.18.1.60", "dst_port": 8000},
            "label": label}


def show_req(sid):
    return {"cmd": "show", "id": sid}


def delete_req(sid):
    return {"cmd": "delete", "id": sid}


LIST_REQ = {"cmd": "list"}
DEMO_BURST = 64  # a worker's largest burst (dp::Worker::kMaxBurst)
STATS_REQ = {"cmd": "stats"}
# -----------------------------------------------------------------------------------------------


def telemetry(prefix, command):
    """DPDK telemetry v2 (what dpdk-telemetry.py speaks): SOCK_SEQPACKET, a JSON greeting, then
    one JSON answer per command."""
    path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
    if os.geteuid() != 0:
        path = os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk", prefix,
                            "dpdk_telemetry.v2")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    greeting = json.loads(s.recv(16384))
    s.send(command.encode())
    answer = json.loads(s.recv(1 << 20))
    s.close()
    return greeting, answer


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="srtpgate-test-")
    ctl_path = os.path.join(tmp, "run", "control.sock")  # parent created by the daemon
    prefix = "sgdt%d" % os.getpid()
    cmd = [binary, "-l", "0-1", "--no-huge", "--no-pci", "-m", "1024", "--file-prefix", prefix,
           "--", "--demo", "--demo-rate", "20000", "--control", ctl_path,
           "--stats-interval", "1"]
    log_path = os.path.join(tmp, "srtpgate.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while not os.path.exists(ctl_path) and time.time() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        check(os.path.exists(ctl_path), "control socket appears at " + ctl_path)
        if not os.path.exists(ctl_path):
            raise RuntimeError("daemon did not start")
        mode = os.stat(ctl_path).st_mode & 0o777
        check(mode == 0o660, "control socket mode 0660 (is %o)" % mode)

        c = Control(ctl_path)
        r = c.request(LIST_REQ)
        check(r.get("ok") is True and len(r.get("sessions", [])) == 1,
              "list shows the demo session: %s" % r)

        r = c.request(create_req("t1"))
        check(r.get("ok") is True, "create: %s" % r)
        sid = r.get("session", {}).get("id")
        lport = r.get("session", {}).get("local_port", 0)
        check(lport >= 20000 and lport % 2 == 0, "allocated an even local port (%s)" % lport)
        r2 = c.request(create_req("t2"))
        check(r2.get("ok") is True and r2["session"]["local_port"] != lport,
              "second create gets another port: %s" % r2)

        r = c.request(create_req("bad-key", key="inline:short"))
        check(r.get("ok") is False and "key" in r.get("error", ""), "bad key refused: %s" % r)
        r = c.request(create_req("bad-addr", local="198.18.9.9"))
        check(r.get("ok") is False, "address not ours refused: %s" % r)
        r = c.request({"cmd": "no-such-command"})
        check(r.get("ok") is False, "unknown command refused: %s" % r)
        r = c.raw("this is not json")
        check(r.get("ok") is False, "garbage line gets an error: %s" % r)
        r = c.raw("x" * (70 * 1024))
        check(r.get("ok") is False, "a line over 64 KiB is refused")

        c = Control(ctl_path)  # the long line closed that connection
        r = c.request(show_req(sid))
        check(r.get("ok") is True and r["session"]["id"] == sid, "show: %s" % r)
        check(not leaks_key(json.dumps(r)), "no key material in show")
        r = c.request(LIST_REQ)
        check(not leaks_key(json.dumps(r)), "no key material in list")

        time.sleep(1.5)  # let the generator's SRTP through the demo session
        r = c.request(show_req(1))
        demo = r.get("session", {}).get("counters", {})
        rx, tx = demo.get("rx_packets", 0), demo.get("tx_packets", 0)
        # Read while the generator runs: a flow counts a packet received before it is sent
        # (rx_packets = tx_packets + drops once a burst is done), and the snapshot reads rx and
        # tx one after the other, so the two may differ by a burst, or by more if the control
        # thread is preempted between the reads on a busy machine; 5% allows for that. The exact
        # check is the final counters', once the workers have stopped.
        check(r.get("ok") is True and rx > 1000 and abs(rx - tx) <= max(DEMO_BURST, rx // 20)
              and demo.get("dropped", 1) == 0,
              "demo session decrypts and sends every fresh SRTP packet: rx %s tx %s dropped %s"
              % (rx, tx, demo.get("dropped")))
        r = c.request(STATS_REQ)
        check(r.get("ok") is True, "stats: %s" % r)
        r = c.request({"cmd": "ports"})
        ports = {p.get("name"): p for p in r.get("ports", [])}
        check(r.get("ok") is True and ports.get("net_null0", {}).get("driver") == "net_null"
              and ports["net_null0"].get("checksum_offload", {}).get("tx_udp") is False,
              "ports: the demo's net_null0, without checksum offload: %s" % r)

        r = c.request(delete_req(sid))
        check(r.get("ok") is True, "delete: %s" % r)
        r = c.request(delete_req(sid))
        check(r.get("ok") is False, "delete twice refused: %s" % r)
        r = c.request(LIST_REQ)
        check(r.get("ok") is True and len(r["sessions"]) == 2, "list after delete: %s" % r)

        # Telemetry, answered on DPDK's telemetry thread from the snapshot the main loop
        # publishes every 100 ms.
        time.sleep(0.3)
        try:
            _, t = telemetry(prefix, "/srtpgate/stats")
            st = t.get("/srtpgate/stats", {})
            check(st.get("sessions") == 2 and st.get("rx_packets", 0) > 0
                  and "drops" in st, "telemetry /srtpgate/stats: %s" % st)
            _, t = telemetry(prefix, "/srtpgate/sessions")
            ids = t.get("/srtpgate/sessions")
            check(isinstance(ids, list) and 1 in ids, "telemetry /srtpgate/sessions: %s" % ids)
            _, t = telemetry(prefix, "/srtpgate/session,1")
            one = t.get("/srtpgate/session", {})
            check(one.get("id") == 1 and one.get("state") == "active"
                  and one.get("rx_packets", 0) > 0, "telemetry /srtpgate/session,1: %s" % one)
            _, t = telemetry(prefix, "/srtpgate/workers")
            w = t.get("/srtpgate/workers", {})
            check("0" in w and w["0"].get("rx_packets", 0) > 0, "telemetry /srtpgate/workers")
            for command in ("/srtpgate/stats", "/srtpgate/sessions", "/srtpgate/session,1",
                            "/srtpgate/session,2", "/srtpgate/workers"):
                _, t = telemetry(prefix, command)
                check(not leaks_key(json.dumps(t)),
                      "no key material in telemetry %s" % command)
        except OSError as e:
            check(False, "telemetry socket: %s" % e)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        log.close()
        out = open(log_path).read()
    check(rc == 0, "exit status 0 after SIGTERM (is %s)" % rc)
    check("final counters:" in out, "final counters line logged")
    # After SIGTERM the workers have stopped, so the totals are exact: all traffic is the demo
    # generator's fresh SRTP for the demo session, so every packet in went out.
    m = re.search(r"final counters: rx (\d+) packets, tx (\d+) packets, punted (\d+), "
                  r"dropped (\d+) \(([^)]*)\)", out)
    final = [int(v) for v in m.groups()[:4]] if m else None
    check(final is not None and final[0] > 1000 and final[1] == final[0] and final[2] == 0
          and final[3] == 0,
          "final counters: every packet received was sent, none punted or dropped: %s"
          % (m.group(0) if m else "no final counters line"))
    check(not leaks_key(out), "no key material in the log")
    check("worker 0: rx" in out, "periodic statistics lines logged")
    check("auth_failure" not in out and "replay" not in out.split("final counters:")[-1],
          "no authentication or replay drops in the demo")
    check(not os.path.exists(ctl_path), "control socket removed at exit")
    if FAILURES:
        print("---- daemon output ----\n" + out)
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
