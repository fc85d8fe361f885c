#!/usr/bin/python3
"""bench - kingsmootd side by side with `etcdctl elect` on one local etcd.

One run: a pass with etcd's data directory on tmpfs, then one with it on
disk. Each pass starts its own etcd and measures the floor (lease revoke to
watch event), graceful handovers, crash failovers, handovers with more
candidates, the idle footprint and many elections, as its stage list says.
/proc/loadavg is recorded before and after every stage, since the machine
may be shared. Raw samples and results.json go to --work; the report
(BENCHMARKS.md and the plot) to --out.

Only stdlib; run as root to get a tmpfs mounted under --work (otherwise
/dev/shm is used).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib      # noqa: E402
import candidates    # noqa: E402
import floor         # noqa: E402
import footprint     # noqa: E402
import report        # noqa: E402

STAGES = ["floor", "handover", "crash", "scale", "idle", "many"]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kingsmootd", default="build/kingsmootd")
    ap.add_argument("--bare", default="build/bench-bare",
                    help="the least possible candidate (tests/bench/bare.c), built")
    ap.add_argument("--bare-curl", default="build/bench-bare-curl",
                    help="the least possible renewer on libcurl (tests/bench/bare_curl.c), built")
    ap.add_argument("--work", default="build/bench", help="scratch directory")
    ap.add_argument("--out", default=".", help="where BENCHMARKS.md and the PNG go")
    ap.add_argument("--reps", type=int, default=100, help="graceful handovers per kind")
    ap.add_argument("--floor-reps", type=int, default=200)
    ap.add_argument("--paced-reps", type=int, default=100,
                    help="floor samples and bare handovers at the handovers' pace")
    ap.add_argument("--crash-reps", type=int, default=10)
    ap.add_argument("--crash-ttl", type=int, default=3)
    ap.add_argument("--scale", default="10,50", help="candidates in one election")
    ap.add_argument("--scale-reps", type=int, default=100,
                    help="handovers per size: at 100, p99 is not the maximum")
    ap.add_argument("--idle-seconds", type=float, default=60, help="one idle window")
    ap.add_argument("--idle-windows", type=int, default=3,
                    help="idle windows in a row per kind; the median one is reported")
    ap.add_argument("--many", default="100,500", help="daemons, each its own election")
    ap.add_argument("--many-etcdctl", default="100")
    ap.add_argument("--many-seconds", type=float, default=30)
    ap.add_argument("--quiet", type=float, default=0.1,
                    help="seconds a restarted candidate must use no CPU before the next rep")
    ap.add_argument("--min-age", type=float, default=0.5,
                    help="seconds every candidate has run before a handover")
    ap.add_argument("--passes", default="tmpfs,disk")
    ap.add_argument("--tmpfs-stages", default=",".join(STAGES))
    ap.add_argument("--disk-stages", default="floor,handover,crash")
    return ap.parse_args(argv)


def ints(text):
    return [int(x) for x in text.split(",") if x.strip()]


def versions(binary):
    def first_line(argv, env=None):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                                 env=env).stdout
            return out.strip().splitlines()[0] if out.strip() else "?"
        except OSError:
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    commit = first_line(["git", "log", "-1", "--format=%h %s"])
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kib / 1048576, 1),
            "kernel": os.uname().release,
            "kingsmootd": first_line([binary, "-V"]), "commit": commit,
            "etcd": first_line([benchlib.ETCD_BIN, "--version"]),
            "etcdctl": first_line([benchlib.ETCDCTL_BIN, "version"],
                                  env=dict(os.environ, ETCDCTL_API="3")),
            "gnuplot": first_line(["gnuplot", "--version"]),
            "python": sys.version.split()[0]}


class Recorder:
    def __init__(self, work):
        self.work = work
        self.load = []

    def stage(self, name, fn):
        before = benchlib.loadavg()
        ticks0, steal0 = benchlib.cpu_ticks()
        t0 = time.monotonic()
        print(f"== {name}: load {' '.join(before)}", flush=True)
        result = fn()
        after = benchlib.loadavg()
        ticks1, steal1 = benchlib.cpu_ticks()
        steal = 100.0 * (steal1 - steal0) / max(1, ticks1 - ticks0)
        seconds = time.monotonic() - t0
        self.load.append({"stage": name, "before": before, "after": after,
                          "seconds": round(seconds, 1), "steal_pct": round(steal, 1)})
        print(f"   {name} done in {seconds:.1f}s, load {' '.join(after)}, "
              f"steal {steal:.1f} %", flush=True)
        return result

    def samples(self, name, values):
        path = self.work / f"{name}.dat"
        path.write_text("".join(f"{v * 1000.0:.4f}\n" for v in sorted(values)))
        return path


def handovers(rec, etcd, args, pass_name, kind, n, reps, work):
    service = f"h{n}-{kind}"
    el = candidates.Election(kind, n, etcd, work, service, binary=args.kingsmootd).start()
    try:
        took, by_since, cpu = [], [], []
        for _ in range(reps):
            t, s, c = el.handover()
            took.append(t)
            cpu.append(c)
            if s is not None:
                by_since.append(s)
    finally:
        el.stop()
    out = {"summary": benchlib.summary_ms(took),
           "cpu_per_candidate_us": benchlib.percentile(cpu, 50) * 1e6,
           "file": str(rec.samples(f"{pass_name}-handover-{kind}-{n}", took))}
    if by_since:
        out["since_summary"] = benchlib.summary_ms(by_since)
    out["histogram"] = report.histogram([t * 1000 for t in took])
    return out


def bare_scale(rec, etcd, args, pass_name, n, work):
    """The yardstick for n candidates: bare candidates, every follower
    watching, at the handovers' pace."""
    took = floor.bare_handovers(etcd, args.bare, work / f"bare{n}", args.scale_reps,
                                pause=args.min_age, bystanders=n - 2)
    return {"summary": benchlib.summary_ms(took),
            "file": str(rec.samples(f"{pass_name}-handover-bare-{n}", took))}


def crash_failovers(etcd, args, work):
    el = candidates.Election("kingsmootd", 2, etcd, work, "crash", binary=args.kingsmootd,
                             ttl=args.crash_ttl, margin=1.0, request_timeout=0.25).start()
    beyond, from_kill = [], []
    try:
        for _ in range(args.crash_reps):
            b, k, _ = el.crash()
            beyond.append(b)
            from_kill.append(k)
    finally:
        el.stop()
    lease_floor = floor.expiry(etcd, args.crash_reps, args.crash_ttl)
    return {"ttl": args.crash_ttl, "margin": 1.0, "beyond_expiry": benchlib.summary_ms(beyond),
            "from_kill": benchlib.summary_ms(from_kill),
            "expiry_floor": benchlib.summary_ms(lease_floor)}


def run_pass(rec, args, pass_name, data_dir, stages, candidates_dir):
    """candidates_dir (state files, configurations, logs) is on tmpfs in
    every pass, so that only etcd's data directory moves between them."""
    work = candidates_dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    etcd = benchlib.Etcd(data_dir, rec.work / f"{pass_name}-etcd.log").start()
    res = {"etcd_data_dir": str(data_dir)}
    label = lambda s: f"{pass_name}/{s}"    # noqa: E731
    try:
        if "floor" in stages:
            def run_floor():
                lat, rt = floor.measure(etcd, args.floor_reps)
                paced, _ = floor.measure(etcd, args.paced_reps, pause=args.min_age)
                bare = floor.bare_handovers(etcd, args.bare, work / "bare", args.paced_reps,
                                            pause=args.min_age)
                return {"summary": benchlib.summary_ms(lat),
                        "revoke_round_trip": benchlib.summary_ms(rt),
                        "paced": benchlib.summary_ms(paced),
                        "bare": benchlib.summary_ms(bare),
                        "file": str(rec.samples(f"{pass_name}-floor", lat)),
                        "bare_file": str(rec.samples(f"{pass_name}-bare", bare))}
            res["floor"] = rec.stage(label("floor"), run_floor)
        if "handover" in stages:
            res["handover"] = {k: rec.stage(label(f"handover {k} x{args.reps}"),
                                            lambda k=k: handovers(rec, etcd, args, pass_name,
                                                                  k, 2, args.reps, work))
                               for k in ("kingsmootd", "etcdctl")}
        if "crash" in stages:
            res["crash"] = rec.stage(label("crash"), lambda: crash_failovers(etcd, args, work))
        if "scale" in stages:
            res["scale"] = {}
            for n in ints(args.scale):
                res["scale"][n] = {k: rec.stage(label(f"scale {k} n={n}"),
                                                lambda k=k, n=n: handovers(
                                                    rec, etcd, args, pass_name, k, n,
                                                    args.scale_reps, work))
                                   for k in ("kingsmootd", "etcdctl")}
                res["scale"][n]["bare"] = rec.stage(label(f"scale bare n={n}"),
                                                    lambda n=n: bare_scale(
                                                        rec, etcd, args, pass_name, n, work))
        if "idle" in stages:
            binaries = {"bare": args.bare, "bare-curl": args.bare_curl}
            res["idle"] = {k: rec.stage(label(f"idle {k}"), lambda k=k: footprint.idle(
                etcd, k, work, binaries.get(k, args.kingsmootd), args.idle_seconds,
                args.idle_windows))
                for k in ("kingsmootd", "etcdctl", "bare", "bare-curl")}
        if "many" in stages:
            res["many"] = []
            for kind, counts in (("kingsmootd", args.many), ("etcdctl", args.many_etcdctl)):
                for n in ints(counts):
                    res["many"].append(rec.stage(label(f"many {kind} x{n}"), lambda k=kind, n=n:
                                                 footprint.many(etcd, k, n, work / f"many{n}",
                                                                args.kingsmootd,
                                                                args.many_seconds)))
    finally:
        etcd.stop()
    return res


def tmpfs_dir(work):
    """A tmpfs for etcd's data: mounted under work when root, else /dev/shm."""
    mnt = work / "tmpfs"
    mnt.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        if subprocess.run(["mountpoint", "-q", str(mnt)]).returncode == 0 or \
                subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0700",
                                "tmpfs", str(mnt)]).returncode == 0:
            return mnt, True
    shm = Path(f"/dev/shm/kingsmoot-bench-{os.getpid()}")
    shm.mkdir(mode=0o700)
    return shm, False


def main(argv):
    args = parse_args(argv)
    args.kingsmootd = str(Path(args.kingsmootd).resolve())
    args.bare = str(Path(args.bare).resolve())
    args.bare_curl = str(Path(args.bare_curl).resolve())
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    candidates.QUIET, candidates.MIN_AGE = args.quiet, args.min_age
    rec = Recorder(work)
    results = {"meta": versions(args.kingsmootd), "params": vars(args), "passes": {}}
    results["meta"]["load_start"] = benchlib.loadavg()
    mnt, mounted = tmpfs_dir(work)
    try:
        for pass_name in args.passes.split(","):
            if pass_name == "tmpfs":
                data_dir, stages = mnt / "etcd", args.tmpfs_stages.split(",")
            else:
                data_dir, stages = work / "disk-etcd", args.disk_stages.split(",")
            results["passes"][pass_name] = run_pass(rec, args, pass_name, data_dir, stages,
                                                    mnt / f"{pass_name}-candidates")
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)])
        else:
            shutil.rmtree(mnt, ignore_errors=True)
    results["meta"]["load_end"] = benchlib.loadavg()
    results["load"] = rec.load
    (work / "results.json").write_text(json.dumps(results, indent=1))
    report.write(results, work, Path(args.out))
    print(f"results: {work / 'results.json'}; report: {Path(args.out) / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
