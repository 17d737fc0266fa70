#!/usr/bin/env python3
"""Runs every srtpgate benchmark and writes docs/performance.md with plots (bench/report).

Each figure is printed beside the baselines measured in the same run: Debian's libsrtp2 and the
raw IPsec-MB ceiling for the SRTP core, DPDK io-forwarding on the same ports and the core's
crypto-only rate for the dataplane, the P-256 operations for the handshakes. Prose that is not
derived from the run lives in bench/report_text.md and is copied in.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PROFILES = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80",
            "AES_256_CM_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"]
QUICK_PROFILES = ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"]
TAG = {"AES_CM_128_HMAC_SHA1_80": 10, "AES_CM_128_HMAC_SHA1_32": 4,
       "AES_256_CM_HMAC_SHA1_80": 10, "AES_256_CM_HMAC_SHA1_32": 4,
       "AEAD_AES_128_GCM": 16, "AEAD_AES_256_GCM": 16}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


REUSE = False  # --reuse: read the raw results of an earlier run instead of running


REPETITIONS = 3  # each case runs this often; the best run counts (see the method section)


class Rates(dict):
    """The best rate of each case over the passes (what the tables show as Mpps), and each
    pass's own rates in `passes` (what the ratios are taken from, see ratio())."""

    def __init__(self):
        super().__init__()
        self.passes = []
        self.paired = {}  # a paired_ case's counters, one dict per pass (see paired())
        self.stages = {}  # a stages_ case's counters, one dict per pass (see stage_section())


def ratio(rates, a, b):
    """a's rate over b's, taken within each pass and then the median over the passes.

    The best of each case over the passes (the Mpps columns) can pair a subject from a quiet
    pass with a baseline from a slow one. Two cases of one pass run seconds apart, so a slow
    spell of the host mostly slows both, and their ratio is steadier than either rate."""
    each = [p[a] / p[b] for p in rates.passes if p.get(a) and p.get(b)]
    return statistics.median(each) if each else None


def ratio_range(rates, a, b):
    """The lowest and highest of the passes' ratios of a's rate over b's (see ratio())."""
    each = sorted(p[a] / p[b] for p in rates.passes if p.get(a) and p.get(b))
    return (each[0], each[-1]) if each else None


def meets(rates, a, b, target):
    """Whether a's rate is at least `target` times b's by both estimates: the median of the
    per-pass ratios (shown) and the ratio of the best rates (the Mpps columns). A slow spell
    can hit one case of a pass and not the other, so either estimate alone can flatter; a
    target counts as met only when neither does."""
    r = ratio(rates, a, b)
    best = rates.get(a, 0) / rates[b] if rates.get(b) else None
    return bool(r and best and r >= target and best >= target)


def paired(rates, name):
    """A paired_ case of srtpgate-dp-bench (the worker and the crypto-only loop in alternating
    blocks of one run): the median over the passes of each pass's median ratio, and the lowest
    and highest of the passes' ratios. None when it did not run."""
    runs = rates.paired.get(name)
    if not runs:
        return None
    each = [r["ratio"] for r in runs]
    return statistics.median(each), min(each), max(each)


def paired_cell(result, target=None, words=("met", "**missed**")):
    """`68% (67-69%) met`: the paired ratio, the range of its passes, and the verdict when a
    target is given."""
    if not result:
        return "did not run" + (" " + words[1] if target else "")
    median, low, high = result
    cell = "%.0f%% (%.0f-%.0f%%)" % (100 * median, 100 * low, 100 * high)
    if target:
        cell += " " + (words[0] if median >= target else words[1])
    return cell


def run_gbench(binary, filt, min_time, out, extra=()):
    """Runs `binary` REPETITIONS times over (one pass of every case each time, the passes one
    after another) and returns the first pass's data and the best rate of each case.

    Passes rather than Google Benchmark's back-to-back repetitions: on a shared machine a slow
    spell lasts seconds to minutes, and repetitions taken in a row all fall into it, while
    passes minutes apart rarely do."""
    data_first = None
    rates = Rates()
    for rep in range(REPETITIONS):
        path = "%s.%d" % (out, rep)
        cmd = [binary, "--benchmark_filter=" + filt, "--benchmark_min_time=%g" % min_time,
               "--benchmark_out=" + path, "--benchmark_out_format=json"] + list(extra)
        if not (REUSE and os.path.exists(path)):
            if os.path.exists(path):
                os.remove(path)  # an earlier run's file must not stand in for this one
            log("running (pass %d of %d): %s" % (rep + 1, REPETITIONS, " ".join(cmd[:3])))
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  check=False, text=True)
            if done.returncode != 0:
                # Its cases are missing from this pass, and count as missed targets below.
                log("%s failed (exit %d): %s" % (cmd[0], done.returncode,
                                                  done.stderr.strip()[-500:]))
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:  # no file (failed at start) or a cut one (killed)
            log("%s: no results from this pass (%s)" % (path, e))
            data = {}
        if data_first is None:
            data_first = data
        this_pass = {}
        rates.passes.append(this_pass)
        for b in data.get("benchmarks", []):
            if b.get("error_occurred") or b.get("run_type") == "aggregate":
                continue
            name = b.get("run_name", b["name"]).replace("/manual_time", "")
            if "ratio" in b:
                rates.paired.setdefault(name, []).append(b)
            if "worker" in b:
                rates.stages.setdefault(name, []).append(b)
            if "items_per_second" in b:
                # The best of the passes: on a shared machine interference only ever slows a
                # run down, so the fastest is the closest to what the code does.
                rates[name] = max(rates.get(name, 0.0), b["items_per_second"])
                this_pass[name] = b["items_per_second"]
    return data_first, rates


def machine():
    cpu = "unknown"
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    wanted = ["aes", "pclmulqdq", "avx2", "avx512f", "vaes", "vpclmulqdq", "sha_ni", "gfni"]

    def version(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True).stdout.strip()
        except OSError:
            return "?"
    return {
        "cpu": cpu,
        "flags": " ".join(f for f in wanted if f in flags),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "dpdk": version(["pkg-config", "--modversion", "libdpdk"]),
        "openssl": version(["openssl", "version"]),
        "ipsecmb": version(["dpkg-query", "-W", "-f=${Version}", "libipsec-mb-dev"]),
        "libsrtp2": version(["dpkg-query", "-W", "-f=${Version}", "libsrtp2-dev"]),
    }


def mpps(x):
    return "%.2f" % (x / 1e6) if x else "-"


def share(r):
    return "%.0f%%" % (100.0 * r) if r else "-"


def verdict(ok):
    return "met" if ok else "**missed**"


# --- the SRTP core (srtpgate-bench) ------------------------------------------------------------
def core_section(rates, profiles, figdir, out):
    rows = []
    for p in profiles:
        for op in ("protect", "unprotect"):
            key = "%s/%s/160/32" % (op, p)
            s = rates.get("srtpgate_" + key)
            lib = rates.get("libsrtp2_" + key)
            ceil = rates.get("ceiling_" + key)
            rows.append((p, op, s, lib, ceil))
    out.append("| profile | operation | srtpgate Mpps | libsrtp2 Mpps | IPsec-MB ceiling Mpps |"
               " x libsrtp2 | % of ceiling (target 85%) |")
    out.append("|---|---|---|---|---|---|---|")
    targets = []
    for p, op, s, lib, ceil in rows:
        key = "%s/%s/160/32" % (op, p)
        over_lib = ratio(rates, "srtpgate_" + key, "libsrtp2_" + key)
        of_ceiling = ratio(rates, "srtpgate_" + key, "ceiling_" + key)
        ok = meets(rates, "srtpgate_" + key, "ceiling_" + key, 0.85)
        targets.append(ok)
        out.append("| %s | %s | %s | %s | %s | %s | %s %s |" % (
            p, op, mpps(s), mpps(lib), mpps(ceil), "%.1fx" % over_lib if over_lib else "-",
            share(of_ceiling), verdict(ok)))
    one = rates.get("srtpgate_protect/AES_CM_128_HMAC_SHA1_80/160/1")
    one_lib = rates.get("libsrtp2_protect/AES_CM_128_HMAC_SHA1_80/160/1")
    burst1 = ratio(rates, "srtpgate_protect/AES_CM_128_HMAC_SHA1_80/160/1",
                   "libsrtp2_protect/AES_CM_128_HMAC_SHA1_80/160/1")
    burst1_ok = meets(rates, "srtpgate_protect/AES_CM_128_HMAC_SHA1_80/160/1",
                      "libsrtp2_protect/AES_CM_128_HMAC_SHA1_80/160/1", 5.0)
    if one and one_lib and burst1:
        out.append("")
        out.append("One packet per call (burst 1), AES_CM_128_HMAC_SHA1_80 protect, 160-byte "
                   "payload: srtpgate %s Mpps, libsrtp2 %s Mpps: %.1fx (target 5x by both "
                   "estimates: %s)." % (mpps(one), mpps(one_lib), burst1, verdict(burst1_ok)))
    # Plot: packets per second against payload size, per profile.
    fig, axes = plt.subplots(2, 3, figsize=(9.6, 5.4), sharex=True)
    for ax, p in zip(axes.flat, PROFILES):
        for impl, style in (("srtpgate", "o-"), ("ceiling", "x--"), ("libsrtp2", "s:")):
            xs, ys = [], []
            for size in (40, 160, 1200):
                v = rates.get("%s_unprotect/%s/%d/32" % (impl, p, size))
                if v:
                    xs.append(size)
                    ys.append(v / 1e6)
            if xs:
                ax.plot(xs, ys, style, label=impl, markersize=4)
        ax.set_title(p, fontsize=8)
        ax.set_xscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("RTP payload bytes (unprotect, bursts of 32)", fontsize=8)
    fig.supylabel("Mpps, one core", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(figdir, "core_pps_by_payload.png"), dpi=80)
    plt.close(fig)
    out.append("")
    out.append("![SRTP core: packets per second against payload size]"
               "(performance/core_pps_by_payload.png)")
    return targets, burst1, burst1_ok


# --- the dataplane (srtpgate-dp-bench) ---------------------------------------------------------
def dataplane_section(rates, profiles, figdir, out):
    out.append("| profile | operation | RTP bytes | 1 session | 10k | 1M | crypto-only | "
               "io-forward | 1 session / crypto-only, paired (target 65%) | the same from the "
               "separate cases | 1M / 1 session (target 90%) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    ok65, ok90 = [], []
    for p in profiles:
        for op in ("unprotect", "protect"):
            for size in (172, 1212):
                one = rates.get("dp_%s/%s/%d/1" % (op, p, size))
                if not one:
                    if size == 172:  # a case that did not run is a target not met
                        pair = paired(rates, "paired_%s/%s/%d" % (op, p, size))
                        ok65.append(bool(pair) and pair[0] >= 0.65)  # the verdict is the pair's
                        if op == "unprotect":  # the 1M target is unprotect's alone
                            ok90.append(False)
                        out.append("| %s | %s | %d | did not run | | | | | %s | | "
                                   "**missed** |" % (p, op, size, paired_cell(pair, 0.65)))
                    continue
                tenk = rates.get("dp_%s/%s/%d/10000" % (op, p, size))
                mil = rates.get("dp_%s/%s/%d/1000000" % (op, p, size))
                crypto = rates.get("crypto_only_%s/%s/%d" % (op, p, size))
                io = rates.get("io_forward/%d" % size)
                a = b = "-"
                one_key = "dp_%s/%s/%d/1" % (op, p, size)
                of_crypto = ratio(rates, one_key, "crypto_only_%s/%s/%d" % (op, p, size))
                of_one = ratio(rates, "dp_%s/%s/%d/1000000" % (op, p, size), one_key)
                # The verdict is the paired case's (see the method section); the ratio of the
                # separate dp_ and crypto_only_ cases is shown beside it.
                pair = paired(rates, "paired_%s/%s/%d" % (op, p, size))
                a = paired_cell(pair, 0.65 if size == 172 else None)
                if size == 172:
                    ok65.append(bool(pair) and pair[0] >= 0.65)
                spread = ratio_range(rates, one_key, "crypto_only_%s/%s/%d" % (op, p, size))
                separate = "%s (%.0f-%.0f%%)" % (share(of_crypto), 100 * spread[0],
                                                 100 * spread[1]) if of_crypto else "-"
                if of_one:
                    good = meets(rates, "dp_%s/%s/%d/1000000" % (op, p, size), one_key, 0.9)
                    b = "%s %s" % (share(of_one), verdict(good) if size == 172 else "")
                    if size == 172:
                        ok90.append(good)
                elif size == 172 and op == "unprotect":  # protect runs at one session only
                    ok90.append(False)
                out.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    p, op, size, mpps(one), mpps(tenk), mpps(mil), mpps(crypto), mpps(io), a,
                    separate, b))
    fwd = rates.get("dp_forward/172/1")
    io = rates.get("io_forward/172")
    if fwd and io:
        out.append("")
        out.append("The worker with no crypto (plain RTP relay, `dp_forward`, 172 bytes): %s "
                   "Mpps, %.0f ns per packet; io-forwarding on the same ring ports: %.1f ns."
                   % (mpps(fwd), 1e9 / fwd, 1e9 / io))
    memory_bound_paragraph(rates, profiles, out)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for p in profiles:
        xs, ys = [], []
        for n in (1, 10000, 1000000):
            v = rates.get("dp_unprotect/%s/172/%d" % (p, n))
            if v:
                xs.append(n)
                ys.append(v / 1e6)
        if xs:
            ax.plot(xs, ys, "o-", label=p, markersize=4)
    ax.set_xscale("log")
    ax.set_xlabel("sessions on the worker", fontsize=8)
    ax.set_ylabel("Mpps, one worker (unprotect, 172 B)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(figdir, "dataplane_sessions.png"), dpi=80)
    plt.close(fig)
    out.append("")
    out.append("![Dataplane: one worker's rate against the number of sessions]"
               "(performance/dataplane_sessions.png)")
    return ok65, ok90


def offload_section(rates, profiles, out):
    """One session through the worker on ports that offload checksums, as a NIC does: what
    the targets' measure gives on a server's port, beside the software-checksum figure."""
    out.append("| profile | operation | RTP bytes | software checksums Mpps | checksum offload "
               "Mpps | crypto-only Mpps | software / crypto-only, paired | offload / "
               "crypto-only, paired | offload / software |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    reached = []
    for p in profiles:
        for op in ("unprotect", "protect"):
            for size in (172, 1212):
                soft_key = "dp_%s/%s/%d/1" % (op, p, size)
                nic_key = "dp_offload_%s/%s/%d/1" % (op, p, size)
                crypto_key = "crypto_only_%s/%s/%d" % (op, p, size)
                nic_pair = paired(rates, "paired_offload_%s/%s/%d" % (op, p, size))
                if size == 172:  # a case that did not run has not reached it
                    reached.append(bool(nic_pair) and nic_pair[0] >= 0.65)
                gain = ratio(rates, nic_key, soft_key)
                out.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    p, op, size, mpps(rates.get(soft_key)), mpps(rates.get(nic_key)),
                    mpps(rates.get(crypto_key)),
                    paired_cell(paired(rates, "paired_%s/%s/%d" % (op, p, size))),
                    paired_cell(nic_pair, 0.65 if size == 172 else None,
                                ("reached", "not reached")),
                    "%.2fx" % gain if gain else "-"))
    soft = rates.get("dp_forward/172/1")
    nic = rates.get("dp_offload_forward/172/1")
    if soft and nic:
        out.append("")
        out.append("The plain relay (`dp_forward`, 172 bytes): %.0f ns per packet with software "
                   "checksums, %.0f ns with offload." % (1e9 / soft, 1e9 / nic))
    return reached


STAGES = ["classify", "lookup", "prepare", "unprotect", "protect", "rewrite", "transmit"]


def stage_section(rates, profiles, out):
    """The worker's stage clock (srtpgate-dp-bench's stages_ cases): TSC cycles per packet in
    each stage, the median of the passes, beside the SRTP core's own cycles for the packets."""
    out.append("| profile | operation | classify | lookup | prepare | SRTP library | rewrite | "
               "transmit | worker | crypto-only | worker - library | the 65% target leaves |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    cases = [("stages_forward/172", "(relay)", "forward")]
    cases += [("stages_%s/%s/172" % (op, p), p, op)
              for p in profiles for op in ("unprotect", "protect")]
    for name, p, op in cases:
        runs = rates.stages.get(name)
        if not runs:
            out.append("| %s | %s | did not run | | | | | | | | | |" % (p, op))
            continue
        c = {k: statistics.median(r.get(k, 0.0) for r in runs)
             for k in STAGES + ["worker", "crypto_only"]}
        library = c["unprotect"] + c["protect"] if op != "forward" else 0.0
        crypto = c["crypto_only"]
        out.append("| %s | %s | %.0f | %.0f | %.0f | %s | %.0f | %.0f | %.0f | %s | %.0f | %s |" % (
            p, op, c["classify"], c["lookup"], c["prepare"],
            "%.0f" % library if op != "forward" else "-", c["rewrite"], c["transmit"],
            c["worker"], "%.0f" % crypto if crypto else "-", c["worker"] - library,
            "%.0f" % (crypto * (1 / 0.65 - 1)) if crypto else "-"))


def memory_bound_paragraph(rates, profiles, out):
    """The 1M column in the unit that bounds it: random cache lines of this machine."""
    line = rates.get("memory_random_line")
    if not line:
        return
    line_ns = 1e9 / line
    out.append("")
    out.append("**What bounds the 1M column.** With a million sessions no cache holds a packet's "
               "session state, and each line of it comes from memory. `memory_random_line`, in "
               "the same run, reads random lines of a 3 GiB region (the size of a million "
               "sessions, on the same transparent huge pages) 32 at a time, all started before "
               "the first is used: the most overlap the worker's staged prefetching can get. "
               "One line costs %.1f ns that way. The time a packet takes above one session's, "
               "counted in such lines, against what the 90%% target leaves (unprotect, 172 B, "
               "from the best rates):" % line_ns)
    out.append("")
    out.append("| profile | 1M - 1 session, ns per packet | = random lines | the 90% target "
               "leaves, ns | = random lines |")
    out.append("|---|---|---|---|---|")
    for p in profiles:
        one = rates.get("dp_unprotect/%s/172/1" % p)
        mil = rates.get("dp_unprotect/%s/172/1000000" % p)
        if not one or not mil:
            continue
        excess = 1e9 / mil - 1e9 / one
        allowed = 1e9 / (0.9 * one) - 1e9 / one
        out.append("| %s | %.0f | %.1f | %.0f | %.1f |" % (p, excess, excess / line_ns, allowed,
                                                           allowed / line_ns))


def lookup_section(rates, out):
    out.append("| flows | FlowTable bulk of 32, ns/key | rte_hash bulk of 32 | FlowTable find() | "
               "std::unordered_map |")
    out.append("|---|---|---|---|---|")
    for n in (1, 10000, 1000000):
        def ns(name):
            v = rates.get("%s/%d" % (name, n))
            return "%.1f" % (1e9 / v) if v else "-"
        out.append("| %d | %s | %s | %s | %s |" % (n, ns("bm_lookup_bulk32"),
                                                   ns("bm_rte_hash_bulk32"), ns("bm_find"),
                                                   ns("bm_unordered_map_find")))


def checksum_section(rates, out):
    out.append("| bytes | `rte_raw_cksum` (baseline), ns | portable (SSE2), ns | AVX-512BW, ns | "
               "what the worker runs, ns |")
    out.append("|---|---|---|---|---|")
    for n in (20, 40, 64, 172, 1212, 1472):
        def ns(name):
            v = rates.get("%s/%d" % (name, n))
            return "%.1f" % (1e9 / v) if v else "-"
        out.append("| %d | %s | %s | %s | %s |" % (n, ns("rte_raw_cksum"), ns("ones_sum_portable"),
                                                   ns("ones_sum_avx512"),
                                                   ns("ones_sum_dispatched")))


def stages_section(rates, out):
    out.append("| stage | srtpgate, ns/packet | DPDK's helpers (baseline), ns/packet | "
               "srtpgate's speed, x baseline |")
    out.append("|---|---|---|---|")
    for stage, ours, theirs, what in (
            ("classify", "classify/srtpgate", "classify/dpdk_ptype_ipv4_cksum",
             "`rte_net_get_ptype` + `rte_ipv4_cksum`"),
            ("rewrite", "rewrite/srtpgate", "rewrite/dpdk_cksum",
             "`rte_ipv4_cksum` + `rte_ipv4_udptcp_cksum`")):
        a, b = rates.get(ours), rates.get(theirs)
        r = ratio(rates, ours, theirs)
        out.append("| %s | %s | %s (%s) | %s |" % (
            stage, "%.1f" % (1e9 / a) if a else "-", "%.1f" % (1e9 / b) if b else "-", what,
            "%.1fx" % r if r else "-"))


def latency_section(rows, figdir, out):
    if not rows:
        out.append("(not measured in this run)")
        return
    out.append("| profile | capacity Mpps | load | offered Mpps | p50 us | p99 us | p99.9 us | "
               "max us |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        out.append("| %s | %s | %.0f%% | %s | %.2f | %.2f | %.2f | %.2f |" % (
            r["profile"], mpps(r["capacity_pps"]), 100 * r["load"], mpps(r["offered_pps"]),
            r["p50_us"], r["p99_us"], r["p999_us"], r["max_us"]))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for p in sorted({r["profile"] for r in rows}):
        mine = [r for r in rows if r["profile"] == p]
        loads = [100 * r["load"] for r in mine]
        for q, style in (("p50_us", "o-"), ("p99_us", "s--"), ("p999_us", "x:")):
            ax.plot(loads, [r[q] for r in mine], style, label="%s %s" % (p, q[:-3]),
                    markersize=4)
    ax.set_yscale("log")
    ax.set_xlabel("load, % of the measured capacity", fontsize=8)
    ax.set_ylabel("latency rx ring to tx ring, us", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(os.path.join(figdir, "latency_by_load.png"), dpi=80)
    plt.close(fig)
    out.append("")
    out.append("![Latency against load](performance/latency_by_load.png)")


def scaling_section(rows, out):
    if not rows:
        out.append("(not measured in this run)")
        return
    out.append("| profile | sessions per worker | one worker Mpps | two workers Mpps | gain |")
    out.append("|---|---|---|---|---|")
    for r in rows:
        gain = r["two_workers_pps"] / r["one_worker_pps"] if r["one_worker_pps"] else 0
        out.append("| %s | %d | %s | %s | %.2fx |" % (r["profile"], r["sessions"],
                                                     mpps(r["one_worker_pps"]),
                                                     mpps(r["two_workers_pps"]), gain))


def wire_pps(gbps, rtp_bytes, tag):
    # RTP + SRTP tag + UDP 8 + IPv4 20 + Ethernet 14 + FCS 4 + preamble/SFD 8 + gap 12.
    return gbps * 1e9 / 8 / (rtp_bytes + tag + 8 + 20 + 14 + 4 + 8 + 12)


def cores_section(rates, profiles, out):
    out.append("| profile | media | SRTP packet on the wire, bytes | per-core Mpps (10k sessions) |"
               " 10 GbE: Mpps / cores | 25 GbE | 100 GbE |")
    out.append("|---|---|---|---|---|---|---|")
    for p in profiles:
        for media, size in (("G.711 20 ms", 172), ("video 1200 B", 1212)):
            per_core = rates.get("dp_unprotect/%s/%d/10000" % (p, size)) or \
                rates.get("dp_unprotect/%s/%d/1" % (p, size))
            if not per_core:
                continue
            cells = []
            for g in (10, 25, 100):
                need = wire_pps(g, size, TAG[p])
                cells.append("%.2f / %d" % (need / 1e6, math.ceil(need / per_core)))
            wire = size + TAG[p] + 8 + 20 + 14 + 4 + 8 + 12
            out.append("| %s | %s | %d | %s | %s |" % (p, media, wire, mpps(per_core),
                                                      " | ".join(cells)))


def handshake_section(text, out):
    lines = [l for l in text.splitlines() if l.strip()]
    start = next((i for i, l in enumerate(lines) if l.startswith("summary")), None)
    if start is None:
        out.append("(the handshake benchmark printed no summary)")
        return None
    out.append("```")
    out.extend(lines[start:])
    out.append("```")
    ratios = [float(m.group(1)) for m in
              (re.search(r"ratio to ceiling\s+([0-9.]+)%", l) for l in lines[start:]) if m]
    return ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--raw", help="folder for the raw results (default: a new temporary one)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --raw: write the page from the results already there")
    args = ap.parse_args()
    global REUSE
    REUSE = args.reuse
    bench = os.path.join(args.build, "bench")
    profiles = QUICK_PROFILES if args.quick else PROFILES
    prof_re = "(" + "|".join(profiles) + ")"
    min_time = 0.05 if args.quick else 0.2
    global REPETITIONS
    REPETITIONS = 1 if args.quick else 3
    tmp = args.raw or tempfile.mkdtemp(prefix="srtpgate-report-")
    os.makedirs(tmp, exist_ok=True)
    log("raw results in " + tmp)
    figdir = os.path.join(args.root, "docs", "performance")
    os.makedirs(figdir, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)

    _, core = run_gbench(os.path.join(bench, "srtpgate-bench"),
                         "^(srtpgate|libsrtp2|ceiling)_(un)?protect/%s/(40|160|1200)/32$|"
                         "^(srtpgate|libsrtp2)_protect/AES_CM_128_HMAC_SHA1_80/160/1$" % prof_re,
                         min_time, os.path.join(tmp, "core.json"))
    _, dp = run_gbench(os.path.join(bench, "srtpgate-dp-bench"),
                       "^(io_forward|dp_forward|dp_offload_forward|memory_random_line)|"
                       "^(crypto_only|dp|dp_offload|paired|paired_offload|stages)_(un)?protect/"
                       "%s/|^stages_forward/" % prof_re,
                       min_time, os.path.join(tmp, "dp.json"))
    _, lookup = run_gbench(os.path.join(bench, "srtpgate-flow-lookup-bench"), ".",
                           min_time, os.path.join(tmp, "lookup.json"))
    _, checksum = run_gbench(os.path.join(bench, "srtpgate-checksum-bench"), ".",
                             min_time, os.path.join(tmp, "checksum.json"))
    _, stages = run_gbench(os.path.join(bench, "srtpgate-stages-bench"), ".",
                           min_time, os.path.join(tmp, "stages.json"))
    latency = scaling = []
    for mode in ("latency", "scaling"):
        path = os.path.join(tmp, mode + ".json")
        if not (REUSE and os.path.exists(path)):
            log("running: srtpgate-dp-bench --mode=" + mode)
            subprocess.run([os.path.join(bench, "srtpgate-dp-bench"), "--mode=" + mode,
                            "--out=" + path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        try:
            with open(path) as f:
                rows = json.load(f)
        except (OSError, ValueError):
            rows = []
        if mode == "latency":
            latency = rows
        else:
            scaling = rows
    hs_path = os.path.join(tmp, "handshake.txt")
    if not (REUSE and os.path.exists(hs_path)):
        log("running: srtpgate-handshake-bench")
        hs = subprocess.run([os.path.join(bench, "srtpgate-handshake-bench"),
                             "--benchmark_min_time=%g" % (0.2 if args.quick else 1.0)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
        with open(hs_path, "w") as f:
            f.write(hs)
    with open(hs_path) as f:
        hs = f.read()

    m = machine()
    commit = subprocess.run(["git", "-C", args.root, "rev-parse", "--short", "HEAD"],
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", args.root, "status", "--porcelain", "--untracked-files=no"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()

    out = ["# srtpgate performance", "",
           "Written by `bench/report` on %s (UTC) from commit %s%s in %.0f minutes%s. Every "
           "figure below was measured in this one run, beside the baselines it is compared "
           "with; rerun `bench/report` to regenerate this page." % (
               started.strftime("%Y-%m-%d %H:%M"), commit, " (with local changes)" if dirty else "",
               elapsed / 60, ", **QUICK mode: two profiles, short timings**" if args.quick else ""),
           "", "## The machine", "",
           "| | |", "|---|---|",
           "| CPU | %s |" % m["cpu"], "| relevant flags | %s |" % m["flags"],
           "| cores | %s (one worker core is measured unless stated) |" % m["cores"],
           "| kernel | %s |" % m["kernel"], "| DPDK | %s |" % m["dpdk"],
           "| Intel IPsec-MB | %s |" % m["ipsecmb"], "| OpenSSL | %s |" % m["openssl"],
           "| libsrtp2 (baseline) | %s |" % m["libsrtp2"], ""]
    text_path = os.path.join(args.root, "bench", "report_text.md")
    with open(text_path) as f:
        prose = f.read().split("<!-- section: ")
    sections = {}
    for chunk in prose[1:]:
        name, body = chunk.split(" -->", 1)
        sections[name.strip()] = body.strip("\n")
    out += [sections.get("method", ""), ""]

    targets = []
    out += ["## The SRTP core: one core, bursts of 32, 160-byte payload", ""]
    core_ok, burst1, burst1_ok = core_section(core, profiles, figdir, out)
    out += ["", "## The dataplane: one worker, rx ring to tx ring", ""]
    ok65, ok90 = dataplane_section(dp, profiles, figdir, out)
    out += ["", "## The dataplane on ports with checksum offload", "",
            sections.get("offload", ""), ""]
    nic65 = offload_section(dp, profiles, out)
    out += ["", "## Where the worker's time goes", "", sections.get("stage-clock", ""), ""]
    stage_section(dp, profiles, out)
    out += ["", "## Flow lookup", ""]
    lookup_section(lookup, out)
    out += ["", "## Software checksum", "", sections.get("checksum", ""), ""]
    checksum_section(checksum, out)
    out += ["", "## Two stages of the worker alone", "", sections.get("stages", ""), ""]
    stages_section(stages, out)
    out += ["", "## Latency through one worker", "", sections.get("latency", ""), ""]
    latency_section(latency, figdir, out)
    out += ["", "## Two workers on this machine", "", sections.get("scaling", ""), ""]
    scaling_section(scaling, out)
    out += ["", "## Cores needed on a server", "", sections.get("model", ""), ""]
    cores_section(dp, profiles, out)
    out += ["", "## DTLS-SRTP handshakes", "", sections.get("handshake", ""), ""]
    hs_ratios = handshake_section(hs, out)
    out += ["", "## Targets", "",
            "| target | result |", "|---|---|",
            "| SRTP core >= 85%% of the IPsec-MB ceiling (burst 32, 160 B, every profile and "
            "operation) | %d of %d met |" % (sum(core_ok), len(core_ok)),
            "| SRTP core, one packet per call >= 5x libsrtp2 (AES_CM_128_HMAC_SHA1_80) | %s |"
            % ("%.1fx, %s" % (burst1, verdict(burst1_ok)) if burst1 else "-, **missed**"),
            "| dataplane, one session >= 65%% of crypto-only (172 B, paired measure) | "
            "%d of %d met |"
            % (sum(ok65), len(ok65)),
            "| the same on ports with checksum offload (emulated; not counted above: this "
            "machine's ports have none) | %d of %d reach it |" % (sum(nic65), len(nic65)),
            "| dataplane, 1M sessions >= 90%% of one session (172 B) | %d of %d met%s |"
            % (sum(ok90), len(ok90), "" if all(ok90) else
               " (the target leaves about one line from memory per packet; a packet reads 11-13: "
               "see the dataplane section)"),
            "| handshakes >= 70%% of the P-256 ceiling | %s |" % (
                ", ".join("%.0f%%" % r for r in hs_ratios) + " (missed)"
                if hs_ratios and min(hs_ratios) < 70 else
                ", ".join("%.0f%%" % r for r in hs_ratios) if hs_ratios else
                "did not run (missed)"),
            "", sections.get("optimisations", ""), ""]
    with open(os.path.join(args.root, "docs", "performance.md"), "w") as f:
        f.write("\n".join(out).rstrip() + "\n")
    log("wrote docs/performance.md and docs/performance/*.png in %.0f s" % elapsed)


if __name__ == "__main__":
    main()
