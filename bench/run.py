#!/usr/bin/env python3
"""Tollgate's benchmarks, side by side with AWS Rex when its binary is given.

    python3 bench/run.py [--rex PATH] [--baseline PATH] [--quick] [--only NAME]

Builds nothing: run `cargo build --release` first (or set TOLLGATE_BIN to the binary). Prints a Markdown report; the figures in
bench/RESULTS.md come from this script. Every comparison runs both sides in the same
invocation, interleaved, so machine noise hits both alike.
"""
import argparse
import getpass
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.environ.get("TOLLGATE_BIN") or os.path.join(ROOT, "target", "release", "tollgate")


def tollgate_cmd(script, policy, audit=None):
    """`audit`: None for no audit trail, else (log dir, sync mode)."""
    cmd = [TOLLGATE, "run", script, "--policy", policy, "--timeout", "10m",
           "--max-operations", "0"]
    if audit is None:
        return cmd + ["--no-audit"]
    return cmd + ["--audit-log", audit[0], "--audit-sync", audit[1]]


def rex_cmd(rex, script, policy):
    return [rex, "-s", script, "-p", policy]


def timed(cmd):
    start = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if p.returncode != 0 or b'"SUCCESS"' not in p.stdout[:20000] and b"SUCCESS" not in p.stdout[-20000:]:
        sys.exit(f"command failed: {' '.join(cmd)}\n{p.stdout[:2000]!r}\n{p.stderr[:2000]!r}")
    return took


def median_of(cmds, runs):
    """Runs each command `runs` times, interleaved; returns the median seconds of each."""
    samples = [[] for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            samples[i].append(timed(c))
    return [statistics.median(s) for s in samples]


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def policy_with(n_unrelated, root):
    """One statement that permits reading below root, plus n unrelated ones."""
    lines = [f'permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], '
             f'resource in file_system::Dir::"{root}");']
    for i in range(n_unrelated):
        lines.append(f'permit(principal, action == file_system::Action::"read", '
                     f'resource in file_system::Dir::"/srv/unrelated/d{i}");')
    return "\n".join(lines) + "\n"


def bench_startup(work, rex, runs):
    script = write(os.path.join(work, "trivial.rhai"), "1 + 1")
    policy = write(os.path.join(work, "one.cedar"), policy_with(0, work))
    log = os.path.join(work, "startup-audit")
    cmds = [tollgate_cmd(script, policy), tollgate_cmd(script, policy, (log, "batch"))]
    if rex:
        cmds.append(rex_cmd(rex, script, policy))
    meds = median_of(cmds, runs)
    print("## Whole process, trivial script (median of %d)\n" % runs)
    print("| runner | median |" + (" / rex-runner |" if rex else "") + "\n|---|---|"
          + ("---|" if rex else ""))
    for name, med in (("tollgate --no-audit", meds[0]), ("tollgate, audited", meds[1])):
        print(f"| {name} | {med*1000:.2f} ms |" + (f" {med / meds[2]:.2f}× |" if rex else ""))
    if rex:
        print(f"| rex-runner | {meds[2]*1000:.2f} ms | 1× |")
    print()


def cat_loops(work, calls):
    """1,000 small files, and the two `cat` loops of the Foundation figures over them."""
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    for i in range(1000):
        write(os.path.join(data, f"f{i}.txt"), "a small file\n")
    loops = {
        "same file": f'for i in 0..{calls} {{ cat("{data}/f0.txt"); }}',
        "1,000 distinct files": f'for i in 0..{calls} {{ cat(`{data}/f${{i % 1000}}.txt`); }}',
    }
    return data, loops


# The Foundation issue's per-call targets, by number of statements.
CAT_TARGET_US = {1: 10, 101: 15, 1001: 30}


def bench_cat(work, rex, runs, calls):
    data, loops = cat_loops(work, calls)
    base = write(os.path.join(work, "empty-loop.rhai"), f"for i in 0..{calls} {{ }}")
    print(f"## `cat` per call inside a script loop ({calls} calls, median of {runs} runs, "
          "minus the same loop without the call)\n")
    header = "| policy | loop | tollgate |" + (" rex-runner |" if rex else "")
    print(header)
    print("|---|---|---|" + ("---|" if rex else ""))
    for n in (0, 100, 1000):
        policy = write(os.path.join(work, f"p{n}.cedar"), policy_with(n, data))
        cat_rows(work, rex, f"p{n}", f"{n + 1} statements", policy, base, loops, calls,
                 max(calls // 20, 50), runs)
    print()


def cat_rows(work, rex, tag, label, policy, base, loops, calls, rex_calls, runs):
    """One table row per loop: the per-call cost of `cat` under `policy`, and Rex's beside it
    (with fewer calls: it is slower per call)."""
    for name, body in loops.items():
        script = write(os.path.join(work, f"cat-{tag}-{len(name)}.rhai"), body)
        cmds = [tollgate_cmd(base, policy), tollgate_cmd(script, policy)]
        if rex:
            rex_body = body.replace(f"0..{calls}", f"0..{rex_calls}")
            rex_script = write(os.path.join(work, f"rex-cat-{tag}-{len(name)}.rhai"), rex_body)
            rex_base = write(os.path.join(work, f"rex-empty-{rex_calls}.rhai"),
                             f"for i in 0..{rex_calls} {{ }}")
            cmds += [rex_cmd(rex, rex_base, policy), rex_cmd(rex, rex_script, policy)]
        meds = median_of(cmds, runs)
        row = f"| {label} | {name} | {(meds[1] - meds[0]) / calls * 1e6:.1f} µs |"
        if rex:
            row += f" {(meds[3] - meds[2]) / rex_calls * 1e6:.0f} µs |"
        print(row)


def when_policy(n_unrelated, root, tag=""):
    """Issue 13's when-style statements: the action in the scope, the resource in a condition;
    one permits reading below root, n are unrelated. `tag` makes the text unique."""
    stmt = ('permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], '
            'resource) when {{ resource in file_system::Dir::"{}" }};')
    lines = [f"// {tag}"] if tag else []
    lines.append(stmt.format(root))
    lines += [stmt.format(f"/srv/app{i}") for i in range(n_unrelated)]
    return "\n".join(lines) + "\n"


def bench_policies(work, rex, runs, calls):
    """Start-up and per-call cost with when-style policies, side by side with Rex."""
    data, loops = cat_loops(work, calls)
    empty = write(os.path.join(work, "empty.rhai"), "let x = 0; for i in 0..10 { x += i; } x")
    print(f"## When-style policies: start-up, empty loop (median of {runs})\n")
    print("Warm: the policy text was validated by an earlier run (root's validation cache); "
          "cold: a text never seen (a unique comment), so it is validated and parsed at start.\n")
    print("| statements | tollgate warm | tollgate cold | rex-runner | warm / rex |")
    print("|---|---|---|---|---|")
    for n in (1000, 10000):
        warm = write(os.path.join(work, f"when{n}.cedar"), when_policy(n, data))
        subprocess.run(tollgate_cmd(empty, warm), stdout=subprocess.DEVNULL)
        cold_runs = max(3, runs // 5) if n >= 10000 else runs
        samples = {"warm": [], "cold": [], "rex": []}
        for r in range(runs):
            samples["warm"].append(timed(tollgate_cmd(empty, warm)))
            if r < cold_runs:
                cold = write(os.path.join(work, f"cold{n}.cedar"),
                             when_policy(n, data, f"run {time.time_ns()}"))
                samples["cold"].append(timed(tollgate_cmd(empty, cold)))
            if rex:
                samples["rex"].append(timed(rex_cmd(rex, empty, warm)))
        med = {k: statistics.median(v) * 1000 if v else None for k, v in samples.items()}
        rex_text = f"{med['rex']:.1f} ms" if rex else "—"
        ratio = f"{med['warm'] / med['rex']:.2f}×" if rex else "—"
        print(f"| {n + 1:,} | {med['warm']:.1f} ms | {med['cold']:.0f} ms | {rex_text} | {ratio} |")
    print()
    base = write(os.path.join(work, "empty-loop.rhai"), f"for i in 0..{calls} {{ }}")
    print(f"## When-style policies: `cat` per call ({calls} calls, median of {runs} runs, "
          "minus the same loop without the call)\n")
    print("| statements | loop | tollgate |" + (" rex-runner |" if rex else ""))
    print("|---|---|---|" + ("---|" if rex else ""))
    for n in (100, 1000):
        policy = write(os.path.join(work, f"whencat{n}.cedar"), when_policy(n, data))
        cat_rows(work, rex, f"when{n}", f"{n + 1:,}", policy, base, loops, calls,
                 max(calls // 50, 50), max(3, runs // 4))
    print()


def run_wait4(cmd, stdin=None):
    """Runs `cmd`; returns (seconds, exit code, peak RSS of it and its descendants in KiB)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin:
        p.stdin.write(stdin.encode())
        p.stdin.close()
    _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - start
    return took, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def bench_supervisor(work, baseline, runs, calls):
    """The supervisor and worker against a single-process binary (`--baseline`), side by
    side, and how well the worker is held to --timeout and --max-memory."""
    print("## Supervisor and worker\n")
    script = write(os.path.join(work, "trivial.rhai"), "1 + 1")
    data, loops = cat_loops(work, calls)
    policy = write(os.path.join(work, "one.cedar"), policy_with(0, data))
    loop = write(os.path.join(work, "cat-same.rhai"), loops["same file"])
    base = write(os.path.join(work, "empty-loop.rhai"), f"for i in 0..{calls} {{ }}")
    if baseline:
        def on(binary, cmd):
            return [binary] + cmd[1:]
        cmds = [tollgate_cmd(script, policy), on(baseline, tollgate_cmd(script, policy))]
        meds = median_of(cmds, runs * 3)
        print(f"Trivial script, whole process, `--no-audit`, median of {runs * 3} interleaved:\n")
        print("| binary | median |\n|---|---|")
        print(f"| supervisor + worker | {meds[0]*1000:.2f} ms |")
        print(f"| single process (baseline) | {meds[1]*1000:.2f} ms |")
        print(f"| difference | {(meds[0]-meds[1])*1000:+.2f} ms |\n")
        for audited in (False, True):
            audit = (os.path.join(work, "audit-sup"), "batch") if audited else None
            audit_b = (os.path.join(work, "audit-base"), "batch") if audited else None
            cmds = [tollgate_cmd(base, policy, audit), tollgate_cmd(loop, policy, audit),
                    on(baseline, tollgate_cmd(base, policy, audit_b)),
                    on(baseline, tollgate_cmd(loop, policy, audit_b))]
            meds = median_of(cmds, max(runs // 3, 3))
            ours = (meds[1] - meds[0]) / calls * 1e6
            theirs = (meds[3] - meds[2]) / calls * 1e6
            print(f"`cat` per call, one statement, same file, {'audited' if audited else '--no-audit'}: "
                  f"supervisor + worker {ours:.2f} µs, single process {theirs:.2f} µs "
                  f"({ours / theirs:.2f}×)\n")
    print("Native calls that never return, `--timeout 1s` (time past the timeout, worst of "
          f"{runs}):\n")
    print("| script | worst past 1 s | exit code |\n|---|---|---|")
    for body in ["sleep(80000)", "loop { sleep(0.001); }", "loop {}"]:
        worst, code = 0.0, None
        for _ in range(runs):
            took, code, _ = run_wait4([TOLLGATE, "run", "-", "--policy", policy, "--no-audit",
                                       "--timeout", "1s", "--max-operations", "0"], body)
            worst = max(worst, took - 1.0)
        print(f"| `{body}` | {worst*1000:.0f} ms | {code} |")
    print()
    big = write(os.path.join(data, "one-line.txt"), "x" * (4 << 20))
    # As the issue states them (default limits: the array limit refuses the split before it
    # is made), then with the array limit out of the way, so that the memory bound alone holds.
    for label, extra in [("default limits", []),
                         ("`--max-array-size 100000000`", ["--max-array-size", "100000000"])]:
        print(f"Peak RSS of supervisor and worker (wait4), `--max-memory 32MiB`, {label}:\n")
        print("| script | peak RSS | exit code |\n|---|---|---|")
        for body in ['let s = "x"; for i in 0..22 { s += s; } s.split("").len()',
                     'let s = "x"; for i in 0..22 { s += s; } s.to_chars().len()',
                     f'grep("x", "{big}").len()',
                     'let s = "x"; for i in 0..24 { s += s; } let m = #{}; for i in 0..40 { m[`k${i}`] = s; } m.len()']:
            _, code, rss = run_wait4([TOLLGATE, "run", "-", "--policy", policy, "--no-audit",
                                      "--max-memory", "32MiB"] + extra, body)
            print(f"| `{body}` | {rss/1024:.1f} MiB | {code} |")
        print()


def bench_audit(work, runs, calls):
    """The Foundation `cat` loops with and without the audit trail, side by side, then the
    cost of `--audit-sync every`."""
    data, loops = cat_loops(work, calls)
    log = os.path.join(work, "audit-log")
    base = write(os.path.join(work, "audit-empty.rhai"), f"for i in 0..{calls} {{ }}")
    print(f"## Audit trail: `cat` per call with and without auditing ({calls} calls, "
          f"median of {runs}, interleaved; each cat makes 3 decisions written with one append)\n")
    print("| policy | loop | audit off | audit on (group commit) | per decision, over off "
          "| on / off | on / Foundation target |")
    print("|---|---|---|---|---|---|---|")
    for n in (0, 100, 1000):
        policy = write(os.path.join(work, f"audit-p{n}.cedar"), policy_with(n, data))
        for name, body in loops.items():
            script = write(os.path.join(work, f"audit-cat-{n}-{len(name)}.rhai"), body)
            m = median_of([
                tollgate_cmd(base, policy), tollgate_cmd(script, policy),
                tollgate_cmd(base, policy, (log, "batch")), tollgate_cmd(script, policy, (log, "batch")),
            ], runs)
            off = (m[1] - m[0]) / calls * 1e6
            on = (m[3] - m[2]) / calls * 1e6
            target = CAT_TARGET_US[n + 1]
            print(f"| {n + 1} statements | {name} | {off:.1f} µs | {on:.1f} µs | "
                  f"{(on - off) / 3:.1f} µs | {on / off:.2f}× | {on / target:.2f}× of {target} µs |")
    print()
    every_calls = max(calls // 50, 100)
    policy = write(os.path.join(work, "audit-p0.cedar"), policy_with(0, data))
    loop_every = write(os.path.join(work, "audit-cat-every.rhai"),
                       f'for i in 0..{every_calls} {{ cat("{data}/f0.txt"); }}')
    base_every = write(os.path.join(work, "audit-empty-every.rhai"), f"for i in 0..{every_calls} {{ }}")
    m = median_of([
        tollgate_cmd(base_every, policy), tollgate_cmd(loop_every, policy),
        tollgate_cmd(base_every, policy, (log, "every")), tollgate_cmd(loop_every, policy, (log, "every")),
    ], runs)
    off = (m[1] - m[0]) / every_calls * 1e6
    every = (m[3] - m[2]) / every_calls * 1e6
    print(f"`--audit-sync every` ({every_calls} calls, same file, 1 statement): {every:.1f} µs per cat "
          f"against {off:.1f} µs with audit off, {(every - off) / 3:.1f} µs per decision.\n")


def host_files(work, data, users, globs):
    """A host config naming a directory of `users` users (the running user among them) and a
    labels file of `globs` globs, one of which labels `data`: most are literal directories, one
    in ten has wildcards."""
    me = getpass.getuser()
    groups = {f"team{g}": {"groups": ["staff"]} for g in range(50)}
    groups["staff"] = {}
    people = {f"user{i}": {"groups": [f"team{i % 50}"], "attributes": {"clearance": "low"}}
              for i in range(users - 1)}
    people[me] = {"groups": ["team7"], "attributes": {"clearance": "high"}}
    rules = [{"paths": [data], "classification": "confidential", "categories": ["pii"],
              "jurisdiction": "EU"}]
    for i in range(globs - 1):
        path = (f"/srv/tenants/t{i}/**/*.key" if i % 10 == 0 else f"/srv/tenants/t{i}/data")
        rules.append({"paths": [path], "classification": "internal"})
    directory = write(os.path.join(work, "directory.json"), json.dumps({"users": people, "groups": groups}))
    labels = write(os.path.join(work, "labels.json"), json.dumps({"rules": rules}))
    return write(os.path.join(work, "host-config.json"),
                 json.dumps({"identity": {"directory": directory}, "labels": labels}))


def bench_labels(work, runs, calls):
    """The Foundation `cat` loops with a 1,000-user directory and a 10,000-glob labels file
    against the same without them, side by side; audit off, then on."""
    data, loops = cat_loops(work, calls)
    config = host_files(work, data, 1000, 10000)
    empty = write(os.path.join(work, "empty-config.json"), "{}")
    base = write(os.path.join(work, "labels-empty.rhai"), f"for i in 0..{calls} {{ }}")
    trivial = write(os.path.join(work, "labels-trivial.rhai"), "1 + 1")
    log = os.path.join(work, "labels-audit")
    print(f"## Host directory (1,000 users) and labels (10,000 globs): `cat` per call ({calls} calls, "
          f"median of {runs}, interleaved; the file read is labelled)\n")
    print("| policy | loop | audit | without | with | with / without |")
    print("|---|---|---|---|---|---|")
    for n in (0, 1000):
        policy = write(os.path.join(work, f"labels-p{n}.cedar"), policy_with(n, data))
        for name, body in loops.items():
            script = write(os.path.join(work, f"labels-cat-{n}-{len(name)}.rhai"), body)
            for audit in (None, (log, "batch")):
                cmds = [tollgate_cmd(s, policy, audit) + ["--config", c]
                        for c in (empty, config) for s in (base, script)]
                m = median_of(cmds, runs)
                without = (m[1] - m[0]) / calls * 1e6
                with_ = (m[3] - m[2]) / calls * 1e6
                print(f"| {n + 1} statements | {name} | {'on' if audit else 'off'} | {without:.1f} µs "
                      f"| {with_:.1f} µs | {with_ / without:.2f}× |")
    policy = write(os.path.join(work, "labels-p0.cedar"), policy_with(0, data))
    configs = [("an empty config", empty), ("the directory alone", directory_only(config, work)),
               ("the labels file alone", labels_only(config, work)), ("both", config)]
    m = median_of([tollgate_cmd(trivial, policy) + ["--config", c] for _, c in configs], runs * 3)
    print(f"\nStart-up of a trivial run (median of {runs * 3}, interleaved): "
          + ", ".join(f"{t * 1e3:.1f} ms with {name}" for (name, _), t in zip(configs, m)) + ".\n")


def directory_only(config, work):
    with open(config) as f:
        c = json.load(f)
    return write(os.path.join(work, "directory-config.json"), json.dumps({"identity": c["identity"]}))


def labels_only(config, work):
    with open(config) as f:
        c = json.load(f)
    return write(os.path.join(work, "labels-config.json"), json.dumps({"labels": c["labels"]}))


def peak_rss_kib(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return int(p.stderr.decode().strip().splitlines()[-1])


def bench_text(work, rex, runs, size_mb):
    log = os.path.join(work, "big.log")
    line = b"2026-11-20T08:00:01Z INFO  api     request served route=/v1/orders status=200 took=12ms\n"
    special = b"2026-11-20T08:00:02Z ERROR api     upstream timeout route=/v1/orders after=30s\n"
    with open(log, "wb") as f:
        block = (line * 99 + special) * 100
        written = 0
        while written < size_mb * 1_000_000:
            f.write(block)
            written += len(block)
    policy = write(os.path.join(work, "text.cedar"), policy_with(0, work))
    grep_script = write(os.path.join(work, "grep.rhai"), f'grep([grep::count], "timeout", "{log}")')
    wc_script = write(os.path.join(work, "wc.rhai"), f'wc("{log}")')
    empty = write(os.path.join(work, "empty.rhai"), "()")
    subprocess.run(["cat", log], stdout=subprocess.DEVNULL)  # warm the page cache
    cmds = [
        ["grep", "-c", "timeout", log],
        tollgate_cmd(grep_script, policy),
        # dd reads into a 256 KiB buffer: the cost of reading the file once.
        ["dd", f"if={log}", "of=/dev/null", "bs=256K"],
        tollgate_cmd(wc_script, policy),
        tollgate_cmd(empty, policy),
    ]
    samples = [[] for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            # Output goes to a pipe: GNU grep stops at the first match when stdout is
            # /dev/null, which would not be a fair comparison.
            start = time.perf_counter()
            subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            samples[i].append(time.perf_counter() - start)
    if rex:
        rex_samples = []
        for _ in range(max(runs // 2, 1)):
            start = time.perf_counter()
            subprocess.run(rex_cmd(rex, grep_script, policy), stdout=subprocess.PIPE)
            rex_samples.append(time.perf_counter() - start)
    m = [statistics.median(s) for s in samples]
    print(f"## Large file ({size_mb} MB log, page cache warm, median of {runs})\n")
    print("| measurement | time | ratio | peak RSS |\n|---|---|---|---|")
    print(f"| `grep -c timeout` (GNU grep) | {m[0]*1000:.0f} ms | 1.00 | |")
    print(f"| tollgate `grep([grep::count], ...)` | {m[1]*1000:.0f} ms | {m[1]/m[0]:.2f}× grep -c | "
          f"{peak_rss_kib(cmds[1])/1024:.1f} MiB |")
    if rex:
        r = statistics.median(rex_samples)
        print(f"| rex-runner same script | {r*1000:.0f} ms | {r/m[0]:.2f}× grep -c | "
              f"{peak_rss_kib(rex_cmd(rex, grep_script, policy))/1024:.1f} MiB |")
    print(f"| read the file once (`dd bs=256K of=/dev/null`) | {m[2]*1000:.0f} ms | 1.00 | |")
    print(f"| tollgate `wc(...)` | {m[3]*1000:.0f} ms | {m[3]/m[2]:.2f}× read | "
          f"{peak_rss_kib(cmds[3])/1024:.1f} MiB |")
    print(f"| tollgate `wc(...)` minus the empty script | {(m[3]-m[4])*1000:.0f} ms | "
          f"{(m[3]-m[4])/m[2]:.2f}× read | |")
    print(f"| tollgate empty script (process overhead) | {m[4]*1000:.1f} ms | | |")
    print()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a small body; HTTP/1.0, so each request is a new connection
    for either client."""

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def bare_curl_seconds(url, n):
    """Seconds for one `curl` process fetching `url` n times."""
    start = time.perf_counter()
    p = subprocess.run(["curl", "-sf", "--noproxy", "*"] + [url] * n,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"curl failed: {p.stderr[:2000]!r}")
    return took


def bench_http(work, runs, calls):
    if not shutil.which("curl"):
        sys.exit("needs curl (apt-get install curl)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/status"
    policy = write(os.path.join(work, "http.cedar"),
                   f'permit(principal, action == network::Action::"GET", '
                   f'resource == network::url::"{url}");\n')
    loop = write(os.path.join(work, "http-get.rhai"), f'for i in 0..{calls} {{ curl("{url}"); }}')
    base = write(os.path.join(work, "http-empty.rhai"), f"for i in 0..{calls} {{ }}")
    samples = [[] for _ in range(4)]
    try:
        for _ in range(runs):
            samples[0].append(timed(tollgate_cmd(base, policy)))
            samples[1].append(timed(tollgate_cmd(loop, policy)))
            samples[2].append(bare_curl_seconds(url, 1))
            samples[3].append(bare_curl_seconds(url, calls + 1))
    finally:
        server.shutdown()
    m = [statistics.median(s) for s in samples]
    ours = (m[1] - m[0]) / calls * 1000
    bare = (m[3] - m[2]) / calls * 1000
    print(f"## HTTP GET to a loopback server ({calls} GETs per run, median of {runs}, "
          "interleaved)\n")
    print("| client | per GET |\n|---|---|")
    print(f"| tollgate `curl(url)` in a script loop, gate included (minus the empty loop) | {ours:.3f} ms |")
    print(f"| `curl` CLI, {calls + 1} URLs in one process (minus one URL) | {bare:.3f} ms |")
    print(f"| tollgate over bare curl | {ours - bare:+.3f} ms |")
    print()


def bench_mcp(work, runs):
    """One long-lived `tollgate mcp` under the official Python client, beside spawning
    `tollgate run` for each script; the same policy, limits and audit choice on both sides."""
    import asyncio
    try:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
    except ImportError:
        sys.exit("needs the Python mcp package (python3 -m pip install mcp)")
    script_text = "1 + 1"
    script = write(os.path.join(work, "mcp-trivial.rhai"), script_text)
    policy = write(os.path.join(work, "mcp.cedar"), policy_with(0, work))
    audit = os.path.join(work, "mcp-audit")

    async def measure(audited):
        cli = tollgate_cmd(script, policy, (audit, "batch") if audited else None)
        server_args = cli[2:]
        server_args.remove(script)
        params = StdioServerParameters(command=TOLLGATE, args=["mcp"] + server_args)
        cli_s, mcp_s = [], []
        async with stdio_client(params) as (read, write_):
            async with ClientSession(read, write_) as session:
                await session.initialize()
                for i in range(runs + 3):
                    t = timed(cli)
                    start = time.perf_counter()
                    r = await session.call_tool("run_script", {"script": script_text})
                    took = time.perf_counter() - start
                    if r.is_error or (r.structured_content or {}).get("output") != "2":
                        sys.exit(f"run_script failed: {r}")
                    if i >= 3:  # the first calls warm up the session
                        cli_s.append(t)
                        mcp_s.append(took)
        return statistics.median(cli_s), statistics.median(mcp_s)

    print(f"## MCP `run_script` round trip beside `tollgate run`, trivial script "
          f"(`{script_text}`), median of {runs}, interleaved\n")
    print("| audit | `tollgate run` process | MCP `run_script` call | MCP minus CLI |")
    print("|---|---|---|---|")
    for audited in (False, True):
        cli_m, mcp_m = asyncio.run(measure(audited))
        print(f"| {'batch' if audited else 'off'} | {cli_m*1000:.2f} ms | {mcp_m*1000:.2f} ms "
              f"| {(mcp_m - cli_m)*1000:+.2f} ms |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rex", help="path to rex-runner, to measure it side by side")
    ap.add_argument("--quick", action="store_true", help="fewer runs, smaller files")
    ap.add_argument("--only", choices=["startup", "cat", "text", "audit", "labels", "http", "mcp",
                                       "supervisor", "policies"])
    ap.add_argument("--baseline", help="a single-process tollgate binary, for the supervisor figures")
    a = ap.parse_args()
    if not os.path.exists(TOLLGATE):
        sys.exit("build first: cargo build --release (or set TOLLGATE_BIN)")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("needs /usr/bin/time (apt-get install time)")
    runs = 5 if a.quick else 21
    work = tempfile.mkdtemp(prefix="tollgate-bench-")
    work = os.path.realpath(work)
    try:
        print(f"Machine: {os.cpu_count()} cores; command: python3 bench/run.py"
              + (" --rex " + a.rex if a.rex else "") + (" --quick" if a.quick else "")
              + (" --only " + a.only if a.only else "")
              + (" --baseline " + a.baseline if a.baseline else "") + "\n")
        if a.only in (None, "startup"):
            bench_startup(work, a.rex, runs * 3)
        if a.only in (None, "cat"):
            bench_cat(work, a.rex, max(runs // 3, 3), 20000 if a.quick else 100000)
        if a.only in (None, "policies"):
            bench_policies(work, a.rex, runs, 20000 if a.quick else 100000)
        if a.only in (None, "audit"):
            bench_audit(work, max(runs // 3, 3), 20000 if a.quick else 100000)
        if a.only in (None, "labels"):
            bench_labels(work, max(runs // 3, 3), 20000 if a.quick else 100000)
        if a.only in (None, "http"):
            bench_http(work, max(runs // 3, 3), 200 if a.quick else 1000)
        if a.only in (None, "mcp"):
            bench_mcp(work, runs * 3)
        if a.only in (None, "supervisor"):
            bench_supervisor(work, a.baseline, runs, 20000 if a.quick else 100000)
        if a.only in (None, "text"):
            bench_text(work, a.rex, max(runs // 3, 3), 50 if a.quick else 200)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
