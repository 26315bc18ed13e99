#!/usr/bin/env python3
"""loadgen against wrk, wrk2, oha and hey, measured in the same run, interleaved, as ratios.

The server (loadgen's own loopback responder: fast path, fixed delay or periodic stalls) runs
pinned to one core and the load generator to the other, so each tool gets exactly one core.
Each configuration runs every tool once per round, in a rotating order, for --rounds rounds;
the table shows medians and the loadgen/anchor ratios of runs made in the same round.
CPU time and peak RSS come from the kernel (wait4 rusage) for every tool alike.

  python3 bench/generators.py [--rounds 3] [--seconds 10] [--only closed,fixed,co,memory,inflight,templates]
                              [--memory-minutes 1]

`inflight` measures loadgen's peak RSS with ~20 and with 10,000 requests in flight (a 5 s server)
and prints the memory each request in flight costs (the goal: at most 8 KiB).
`templates` compares loadgen with itself: CPU per request of templated requests and of a
two-step flow against a plain GET at the same fixed rate (the goal: at most 1.2x).

Installs what it can: wrk and hey from Debian (apt-get, as root), oha from crates.io into
~/.cache/loadlab/oha (cargo install). wrk2 is in no registry: set WRK2=/path/to/wrk2 to include
it. Loopback only; a full run takes about 14 minutes with the defaults.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
LOADGEN = TARGET / "release" / "loadgen"
RESPONDER = TARGET / "release" / "examples" / "responder"
OHA_ROOT = Path.home() / ".cache" / "loadlab" / "oha"
SERVER_CORE, CLIENT_CORE = "0", "1"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def setup():
    log("building loadgen and the responder (release)…")
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "loadgen", "--bin", "loadgen",
                    "--example", "responder"], cwd=ROOT, check=True)
    missing = [t for t in ("wrk", "hey") if not shutil.which(t)]
    if missing and os.geteuid() == 0:
        log(f"installing {' '.join(missing)} from Debian…")
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
    oha = shutil.which("oha") or (str(OHA_ROOT / "bin" / "oha") if (OHA_ROOT / "bin" / "oha").exists() else None)
    if not oha:
        log("installing oha from crates.io into ~/.cache/loadlab/oha (a few minutes, once)…")
        r = subprocess.run(["cargo", "install", "oha", "--locked", "--quiet", "--root", str(OHA_ROOT)])
        oha = str(OHA_ROOT / "bin" / "oha") if r.returncode == 0 else None
    tools = {"wrk": shutil.which("wrk"), "hey": shutil.which("hey"), "oha": oha, "wrk2": os.environ.get("WRK2")}
    for name, path in tools.items():
        log(f"  {name:5} {path or 'not available'}")
    return tools


class Server:
    """The responder pinned to the server core."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CORE, str(RESPONDER), *args],
                                     stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise SystemExit("the responder did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


def run_child(cmd, timeout):
    """Runs `cmd` pinned to the client core; returns (stdout, stderr, wall s, CPU s).

    CPU is the RUSAGE_CHILDREN delta, which covers the tool once it has been waited for."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(["taskset", "-c", CLIENT_CORE, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return out.decode(errors="replace"), err.decode(errors="replace"), wall, cpu


def with_rss(cmd):
    """Wraps `cmd` in GNU time to read the child's own peak RSS (KiB) from its last stderr line."""
    return ["/usr/bin/time", "-f", "@@rss %M", *cmd]


def rss_of(err):
    m = re.findall(r"@@rss (\d+)", err)
    return int(m[-1]) / 1024 if m else float("nan")


PLAIN = '[[request]]\nname = "hit"\npath = "/"\n'
# Every kind of placeholder a request renders per send: path, query, headers and a JSON body.
TEMPLATED = ('[[request]]\nname = "templated"\nmethod = "POST"\npath = "/items/{uuid}?n={seq}&r={random_int:1:100}"\n'
             'headers = { x-id = "{new_id}", x-n = "{random_int:1:9}" }\n'
             "body = '{{\"id\":\"{new_id}\",\"ref\":\"{uuid}\",\"n\":{seq}}}'\n")
# Two steps, the second using what the first captured (a header, as the responder's body is no JSON).
FLOW = ('[[flow]]\nname = "f"\n[[flow.step]]\npath = "/a/{uuid}"\ncapture = { len = "header:content-length" }\n'
        '[[flow.step]]\npath = "/b/{len}?s={seq}"\n')


def scenario(path, phase, timeout="30s", requests=PLAIN, connections=None):
    conns = f"connections = {connections}\n" if connections is not None else ""
    Path(path).write_text(
        f'name = "bench"\n[target]\ntimeout = "{timeout}"\n{conns}[[phase]]\nname = "load"\n{phase}\n{requests}')
    return path


class Tools:
    def __init__(self, tools, work, seconds):
        self.t, self.work, self.s = tools, Path(work), seconds

    def loadgen(self, url, phase, seconds=None, requests=PLAIN, connections=None):
        s = seconds or self.s
        toml = scenario(self.work / "s.toml", f'duration = "{s}s"\n{phase}', requests=requests,
                        connections=connections)
        out = self.work / "lg"
        shutil.rmtree(out, ignore_errors=True)
        _, err, wall, cpu = run_child(with_rss([str(LOADGEN), "run", str(toml), "--target", url, "--out", str(out),
                                                "--quiet", "--no-cloudwatch"]), s + 60)
        r = json.loads((out / "results.json").read_text())
        lat = r["totals"]["latency"]
        return {"requests": r["totals"]["requests"], "rate": r["totals"]["requests"] / r["duration_s"],
                "sent_rate": r["achieved_rate"], "cpu": cpu, "rss": rss_of(err),
                "lag_p99": r["generator"]["lag_p99_ms"], "p50": lat["p50_ms"], "p90": lat["p90_ms"],
                "p95": lat["p95_ms"], "p99": lat["p99_ms"], "p999": lat["p999_ms"], "max": lat["max_ms"],
                "errors": r["totals"]["error_rate"] + r["totals"]["throttle_rate"]}

    def wrk(self, url, conns, rate=None, seconds=None, binary=None):
        s = seconds or self.s
        cmd = [binary or self.t["wrk"], "-t1", f"-c{conns}", f"-d{s}s", "--latency"]
        if rate:
            cmd.append(f"-R{rate}")
        out, err, wall, cpu = run_child(with_rss([*cmd, url]), s + 60)
        n = int(re.search(r"(\d+) requests in", out).group(1))
        res = {"requests": n, "rate": n / s, "cpu": cpu, "rss": rss_of(err)}
        res.update(wrk_percentiles(out))
        return res

    def oha(self, url, conns, rate=None, seconds=None, correction=False):
        s = seconds or self.s
        cmd = [self.t["oha"], "--no-tui", "--output-format", "json", "-c", str(conns), "-z", f"{s}s"]
        if rate:
            cmd += ["-q", str(rate)]
        if correction:
            cmd.append("--latency-correction")
        out, err, wall, cpu = run_child(with_rss([*cmd, url]), s + 60)
        j = json.loads(out)
        n = sum(j.get("statusCodeDistribution", {}).values())
        p = j.get("latencyPercentiles", {})
        ms = lambda k: (p.get(k) or float("nan")) * 1000
        return {"requests": n, "rate": n / s, "cpu": cpu, "rss": rss_of(err), "p50": ms("p50"), "p90": ms("p90"),
                "p95": ms("p95"), "p99": ms("p99"), "p999": ms("p99.9"), "max": j["summary"]["slowest"] * 1000}

    def hey(self, url, conns, rate=None, seconds=None):
        s = seconds or self.s
        cmd = [self.t["hey"], "-c", str(conns), "-z", f"{s}s"]
        if rate:
            cmd += ["-q", f"{rate / conns:g}"]  # hey's -q is per worker
        out, err, wall, cpu = run_child(with_rss([*cmd, url]), s + 60)
        n = sum(int(x) for x in re.findall(r"\[\d+\]\s+(\d+) responses", out))
        return {"requests": n, "rate": n / s, "cpu": cpu, "rss": rss_of(err)}


def wrk_percentiles(out):
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
    res = {}
    for q, key in (("50.000", "p50"), ("90.000", "p90"), ("99.000", "p99"), ("99.900", "p999"),
                   ("50", "p50"), ("90", "p90"), ("99", "p99")):
        m = re.search(rf"^\s*{re.escape(q)}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if m and key not in res:
            res[key] = float(m.group(1)) * unit[m.group(2)]
    return res


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def rounds(n, entries):
    """entries: {name: fn}; runs each once per round in rotating order; returns {name: [result…]}."""
    names = list(entries)
    out = {k: [] for k in names}
    for i in range(n):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            try:
                out[name].append(entries[name]())
            except Exception as e:  # a tool that fails is reported, not fatal
                log(f"  {name}: failed ({e})")
                out[name].append(None)
            time.sleep(1)
        log(f"  round {i + 1}/{n} done")
    return out


def ratios(res, a, b, key):
    """Median over rounds of res[a][i][key] / res[b][i][key] (only rounds where both ran)."""
    xs = [x[key] / y[key] for x, y in zip(res[a], res[b]) if x and y and y[key]]
    return med(xs)


def cpu_per_req(r):
    return r["cpu"] / r["requests"] * 1e6 if r and r["requests"] else float("nan")


def table(title, res, extra=()):
    print(f"\n### {title}\n")
    head = "| tool | req/s | CPU µs/request | peak RSS MiB |" + "".join(f" {e[0]} |" for e in extra)
    print(head)
    print("|" + "---|" * (4 + len(extra)))
    for name, runs in res.items():
        ok = [r for r in runs if r]
        if not ok:
            print(f"| {name} | failed |" + " |" * (2 + len(extra)))
            continue
        cells = [f"{med([r['rate'] for r in ok]):,.0f}", f"{med([cpu_per_req(r) for r in ok]):.1f}",
                 f"{med([r['rss'] for r in ok]):.1f}"]
        for _, fn in extra:
            vals = [fn(r) for r in ok]
            vals = [v for v in vals if v is not None]
            cells.append(f"{med(vals):.2f}" if vals else "–")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for r in res.values():
        for x in r:
            if x:
                x["cpu_req"] = cpu_per_req(x)
    anchors = [k for k in res if k != "loadgen" and any(res[k])]
    for a in anchors:
        print(f"\nloadgen/{a} (same-round ratios, median): req/s {ratios(res, 'loadgen', a, 'rate'):.2f}, "
              f"CPU per request {ratios(res, 'loadgen', a, 'cpu_req'):.2f}, "
              f"peak RSS {ratios(res, 'loadgen', a, 'rss'):.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--only", default="closed,fixed,co,memory,inflight,templates")
    ap.add_argument("--memory-minutes", type=float, default=1.0)
    a = ap.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two cores: one for the server, one for the generator")
    tools = setup()
    only = set(a.only.split(","))
    work = tempfile.mkdtemp(prefix="loadgen-bench-")
    T = Tools(tools, work, a.seconds)
    print(f"# loadgen vs wrk/wrk2/oha/hey — {time.strftime('%Y-%m-%d %H:%M')}, {a.rounds} rounds × {a.seconds} s, "
          f"server on core {SERVER_CORE}, generator on core {CLIENT_CORE}")

    if "closed" in only:
        log("closed loop, 64 connections, fast responder…")
        srv = Server()
        entries = {"loadgen": lambda: T.loadgen(srv.url, "users = 64")}
        if tools["wrk"]:
            entries["wrk"] = lambda: T.wrk(srv.url, 64)
        if tools["oha"]:
            entries["oha"] = lambda: T.oha(srv.url, 64)
        if tools["hey"]:
            entries["hey"] = lambda: T.hey(srv.url, 64)
        res = rounds(a.rounds, entries)
        srv.stop()
        table("Closed loop: 64 connections against the 2-byte responder (saturation)", res)

    if "fixed" in only:
        srv = Server("--delay-ms", "10")
        for rate in (2000, 10000):
            log(f"fixed rate {rate} req/s, 10 ms server…")
            conns = max(64, rate // 50)
            # The connections every tool opens first, as wrk2's -c: the same count for each.
            entries = {"loadgen": lambda rate=rate, c=conns: T.loadgen(srv.url, f"rate = {rate}", connections=c)}
            if tools["wrk2"]:
                entries["wrk2"] = lambda rate=rate, c=conns: T.wrk(srv.url, c, rate=rate, binary=tools["wrk2"])
            if tools["oha"]:
                entries["oha"] = lambda rate=rate, c=conns: T.oha(srv.url, c, rate=rate)
            if tools["hey"]:
                entries["hey"] = lambda rate=rate, c=conns: T.hey(srv.url, c, rate=rate)
            res = rounds(a.rounds, entries)
            table(f"Fixed rate {rate:,} req/s against a 10 ms server", res,
                  extra=[("rate error %", lambda r, rate=rate: (r["rate"] / rate - 1) * 100),
                         ("lag p99 ms", lambda r: r.get("lag_p99"))])
        srv.stop()

    if "co" in only:
        stall, every, rate = 500, 5000, 2000
        secs = max(20, a.seconds // (every // 1000) * (every // 1000))
        log(f"coordinated omission: {stall} ms stall every {every} ms at {rate} req/s, {secs} s…")
        srv = Server("--stall-every-ms", str(every), "--stall-ms", str(stall))
        entries = {"loadgen": lambda: T.loadgen(srv.url, f"rate = {rate}", seconds=secs)}
        if tools["wrk2"]:
            entries["wrk2"] = lambda: T.wrk(srv.url, 100, rate=rate, seconds=secs, binary=tools["wrk2"])
        if tools["oha"]:
            entries["oha --latency-correction"] = lambda: T.oha(srv.url, 100, rate=rate, seconds=secs, correction=True)
            entries["oha"] = lambda: T.oha(srv.url, 100, rate=rate, seconds=secs)
        if tools["wrk"]:
            entries["wrk (closed loop)"] = lambda: T.wrk(srv.url, 100, seconds=secs)
        res = rounds(max(1, a.rounds - 1), entries)
        srv.stop()
        # Ground truth: arrivals are even, so the share of requests that meet a stall is
        # stall/every and a request arriving x ms into it waits stall - x: P(L > l) = (stall - l)/every.
        gt = lambda q: max(0.0, stall - every * (1 - q))
        print(f"\n### Coordinated omission: {stall} ms stall every {every / 1000:.0f} s at {rate:,} req/s, {secs} s\n")
        print("Ground truth from the stall schedule (plus the responder's sub-millisecond service time).\n")
        print("| tool | p50 ms | p90 ms | p95 ms | p99 ms | p99.9 ms | max ms |")
        print("|---|---|---|---|---|---|---|")
        print(f"| ground truth | {gt(.5):.0f} | {gt(.9):.0f} | {gt(.95):.0f} | {gt(.99):.0f} | {gt(.999):.0f} | {stall} |")
        for name, runs in res.items():
            ok = [r for r in runs if r]
            cells = [f"{med([r.get(k, float('nan')) for r in ok]):.1f}" for k in ("p50", "p90", "p95", "p99", "p999", "max")]
            print(f"| {name} | " + " | ".join(cells) + " |")

    if "templates" in only:
        rate = 2000
        log(f"templates and flows: loadgen at {rate} req/s against a 10 ms server…")
        srv = Server("--delay-ms", "10")
        entries = {
            "plain GET": lambda: T.loadgen(srv.url, f"rate = {rate}"),
            "templated POST": lambda: T.loadgen(srv.url, f"rate = {rate}", requests=TEMPLATED),
            "flow of 2 steps": lambda: T.loadgen(srv.url, f"rate = {rate}", requests=FLOW),
        }
        res = rounds(a.rounds, entries)
        srv.stop()
        print(f"\n### Templates and flows: CPU per request against a plain GET, {rate:,} arrivals/s, 10 ms server\n")
        print("| configuration | requests | errors % | CPU µs/req | ÷ plain (same rounds) |")
        print("|---|---|---|---|---|")
        for name, runs in res.items():
            ok = [r for r in runs if r]
            per = [cpu_per_req(r) for r in ok]
            xs = [cpu_per_req(x) / cpu_per_req(y) for x, y in zip(runs, res["plain GET"]) if x and y]
            shown = f"{med(xs):.2f}x ({min(xs):.2f}–{max(xs):.2f})" if xs and name != "plain GET" else "–"
            print(f"| {name} | {med([r['requests'] for r in ok]):,.0f} | {med([r['errors'] * 100 for r in ok]):.2f} "
                  f"| {med(per):.1f} | {shown} |")
        print("\nGoal: templated and flow requests at most 1.2x the plain GET's CPU per request.")

    if "memory" in only:
        minutes = a.memory_minutes
        log(f"memory: loadgen at 10,000 req/s for {minutes:g} min against the fast responder…")
        srv = Server()
        r = T.loadgen(srv.url, "rate = 10000", seconds=int(minutes * 60))
        srv.stop()
        print(f"\n### Memory: loadgen at 10,000 req/s for {minutes:g} min\n")
        print(f"peak RSS {r['rss']:.1f} MiB over {r['requests']:,} requests (goal ≤ 32 MiB); "
              f"rate error {(r['sent_rate'] / 10000 - 1) * 100:+.3f}%, lag p99 {r['lag_p99']:.2f} ms")
    if "inflight" in only:
        rate, stall_s, secs = 2000, 5, 7
        log(f"memory per request in flight: {rate} req/s against a 10 ms and a {stall_s} s server, {secs} s…")
        rss = {}
        for delay_ms in (10, stall_s * 1000):
            srv = Server("--delay-ms", str(delay_ms))
            rss[delay_ms] = [T.loadgen(srv.url, f"rate = {rate}", seconds=secs)["rss"] for _ in range(a.rounds)]
            srv.stop()
        # An open schedule keeps rate × delay requests in flight once the first answers are due.
        few, many = rate * 10 // 1000, rate * stall_s
        per = [(hi - lo) * 1024 / (many - few) for lo, hi in zip(rss[10], rss[stall_s * 1000])]
        print(f"\n### Memory per request in flight: {rate:,} req/s against a 10 ms and a {stall_s} s server\n")
        print("| requests in flight | peak RSS MiB |")
        print("|---|---|")
        print(f"| {few:,} | {med(rss[10]):.1f} |")
        print(f"| {many:,} | {med(rss[stall_s * 1000]):.1f} |")
        print(f"\nper request in flight: {med(per):.1f} KiB (rounds {min(per):.1f}–{max(per):.1f}; goal ≤ 8 KiB, "
              f"so 10,000 in flight stay under ~100 MiB)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
