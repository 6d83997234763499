#!/usr/bin/env python3
"""Taint and lineage figures (bench/RESULTS.md, "Where the data went").

    python3 bench/lineage.py --baseline OLD_TOLLGATE [--records N] [--quick]

1. Taint: the per-call cost of `cat` and `write`, for an unlabelled and for a labelled file
   (whose read taints the run, so every later request carries it and every write records its
   sources), with this build (TOLLGATE_BIN, default target/release/tollgate) and a build
   from before taint tracking (--baseline), interleaved, median of several runs; per call =
   (loop of N calls - empty loop) / N.
2. Lineage: an audit log of about --records records (default 1,000,000) made by real runs
   that read a labelled file and write in a loop (each write a sink that names its source),
   then `tollgate audit lineage PATH` and `--to SINK` over it, timed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

TOLLGATE = os.environ.get("TOLLGATE_BIN", "target/release/tollgate")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def timed(cmd, env=None):
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stdout.decode()}{out.stderr.decode()}")
    return took


def medians(cmds, runs):
    times = [[] for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            times[i].append(timed(c))
    return [statistics.median(t) for t in times]


def run_cmd(binary, script, policy, config, audit):
    cmd = [binary, "run", script, "--policy", policy, "--config", config]
    return cmd + (["--audit-log", audit] if audit else ["--no-audit"])


def bench_taint(work, baseline, runs, calls):
    data = os.path.join(work, "data")
    os.makedirs(os.path.join(data, "plain"))
    os.makedirs(os.path.join(data, "crm"))
    write(os.path.join(data, "plain", "a.txt"), "hello\n")
    write(os.path.join(data, "crm", "a.txt"), "alice@example.com\n")
    labels = write(os.path.join(work, "labels.json"),
                   '{"rules": [{"paths": ["%s/crm"], "classification": "confidential", '
                   '"categories": ["pii"], "jurisdiction": "EU"}]}' % data)
    config = write(os.path.join(work, "config.json"), '{"labels": "%s"}' % labels)
    policy = write(os.path.join(work, "policy.cedar"),
                   'permit(principal, action in file_system::Action::"SafeIO", '
                   'resource in file_system::Dir::"%s");\n' % data)
    out_plain = os.path.join(data, "plain", "out.txt")
    scripts = {
        "empty": f"for i in 0..{calls} {{ }}",
        "cat, unlabelled": f'for i in 0..{calls} {{ cat("{data}/plain/a.txt"); }}',
        "cat, labelled (tainted)": f'for i in 0..{calls} {{ cat("{data}/crm/a.txt"); }}',
        "write, untainted run": f'for i in 0..{calls} {{ write("{out_plain}", "x"); }}',
        "write, tainted run": f'cat("{data}/crm/a.txt"); '
                              f'for i in 0..{calls} {{ write("{out_plain}", "x"); }}',
    }
    paths = {k: write(os.path.join(work, f"s{i}.rhai"), v) for i, (k, v) in enumerate(scripts.items())}
    if calls == 0:
        return data, policy, config
    print("## Taint tracking, per call, side by side with the build before it\n")
    for audited in (False, True):
        rows = []
        for n, name in enumerate(list(scripts)[1:]):
            # A log of its own per row: a deleted log's key stays beside it, and refuses a
            # new log there.
            a_new = os.path.join(work, f"audit-new-{n}") if audited else None
            a_old = os.path.join(work, f"audit-old-{n}") if audited else None
            cmds = [run_cmd(TOLLGATE, paths["empty"], policy, config, a_new),
                    run_cmd(TOLLGATE, paths[name], policy, config, a_new),
                    run_cmd(baseline, paths["empty"], policy, config, a_old),
                    run_cmd(baseline, paths[name], policy, config, a_old)]
            m = medians(cmds, runs)
            new = (m[1] - m[0]) / calls * 1e6
            old = (m[3] - m[2]) / calls * 1e6
            rows.append((name, new, old))
        print(f"{'audited' if audited else '`--no-audit`'}, {calls} calls, median of {runs}:\n")
        print("| call | with taint | before | ratio |\n|---|---|---|---|")
        for name, new, old in rows:
            print(f"| {name} | {new:.2f} µs | {old:.2f} µs | {new / old:.2f}× |")
        print()
    return data, policy, config


def bench_lineage(work, data, policy, config, records):
    audit = os.path.join(work, "audit-lineage")
    sink = os.path.join(data, "plain", "export.txt")
    # Each write is 4 decisions (open on the directory, open, create, write), three of them
    # sinks naming the labelled source; a run of `per_run` writes, repeated.
    per_run = 50000
    script = write(os.path.join(work, "flows.rhai"),
                   f'cat("{data}/crm/a.txt"); for i in 0..{per_run} {{ write("{sink}", "x"); }}')
    made = time.perf_counter()
    while True:
        timed(run_cmd(TOLLGATE, script, policy, config, audit) + ["--timeout", "10m"])
        count = sum(1 for seg in os.listdir(os.path.join(audit, "segments"))
                    for _ in open(os.path.join(audit, "segments", seg)))
        if count >= records:
            break
    made = time.perf_counter() - made
    print(f"## `audit lineage` over {count:,} records (made by real runs in {made:.0f} s)\n")
    print("| query | time | flows |\n|---|---|---|")
    for label, args in [("PATH (the labelled file)", [f"{data}/crm/a.txt"]),
                        ("PATH (its directory)", [f"{data}/crm"]),
                        ("--to SINK", ["--to", sink]),
                        ("PATH, `--output dot`", [f"{data}/crm/a.txt", "--output", "dot"])]:
        cmd = [TOLLGATE, "audit", "lineage", "--audit-log", audit] + args
        if "--output" not in args:
            cmd += ["--output", "json"]
        best = None
        for _ in range(3):
            start = time.perf_counter()
            out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
            took = time.perf_counter() - start
            best = took if best is None else min(best, took)
        flows = out.stdout.count(b'"source"') if "dot" not in args else out.stdout.count(b"->")
        print(f"| {label} | {best:.2f} s | {flows:,} |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="a tollgate build from before taint tracking")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["taint", "lineage"])
    a = ap.parse_args()
    runs = 3 if a.quick else 7
    calls = 20000 if a.quick else 50000
    work = os.path.realpath(tempfile.mkdtemp(prefix="tollgate-lineage-"))
    try:
        print(f"Machine: {os.cpu_count()} cores; command: python3 bench/lineage.py --baseline "
              f"{a.baseline} --records {a.records}" + (" --quick" if a.quick else "")
              + (f" --only {a.only}" if a.only else "") + "\n")
        data, policy, config = bench_taint(work, a.baseline, runs,
                                           calls if a.only != "lineage" else 0)
        if a.only != "taint":
            bench_lineage(work, data, policy, config, a.records)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
