#!/usr/bin/env python3
"""Differential harness: the same script, fixtures and Cedar policy on AWS Rex and on Tollgate.

Each case (bench/differential/cases/*.json) is run twice, each time in a freshly made fixture
tree at the same path, once on Rex's engine (through the `rexscratch --json` driver) and once
on `tollgate run`, and the two outcomes are compared by value. See README.md.

Standard library only.
"""

import argparse
import http.server
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")

# Named policies a case may use instead of writing its own text. {ROOT} is the case's fixture root.
POLICIES = {
    "all": 'permit(principal, action, resource);',
    "fs_root": 'permit(principal, action, resource in file_system::Dir::"{ROOT}");',
    # Reading in ROOT only: open, read, stat.
    "read_only": (
        'permit(principal, action in [file_system::Action::"open", file_system::Action::"read", '
        'file_system::Action::"stat"], resource in file_system::Dir::"{ROOT}");'
    ),
    # Opening but not reading: every reading command must be denied at `read`.
    "open_only": (
        'permit(principal, action == file_system::Action::"open", '
        'resource in file_system::Dir::"{ROOT}");'
    ),
    # Something harmless is permitted so that the policy set is not empty; nothing else is.
    "nothing": 'permit(principal, action == sysctl::Action::"load", resource);',
    # Everything except the network.
    "no_network": (
        'permit(principal, action, resource);\n'
        'forbid(principal, action in [network::Action::"GET", network::Action::"connect"], resource);'
    ),
}

# A Rust type path as Rex's type_of() reports it ("rust_safe_io::dir_entry::Metadata"):
# compared by its last segment, which is the name Tollgate gives the type.
RUST_PATH = re.compile(r"^[a-z_][a-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)+$")
ACTION_RE = re.compile(r'([a-z_]+::Action::"[^"]+")')
RESOURCE_RE = re.compile(r'(?:for|on) ([a-z_]+::[A-Za-z_]+)::"?([^"\s]+?)"?(?:[\s:,;]|$)')


# ---------------------------------------------------------------------------- fixtures & servers

def make_fixtures(root, fixtures):
    """Create `fixtures` under `root`. Each key is a relative path; each value is the file's text,
    null or {"dir": true} for a directory, {"symlink": target}, or {"content": text, "mode": int}."""
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    for rel, spec in (fixtures or {}).items():
        path = os.path.join(root, rel.replace("{ROOT}", root).lstrip("/"))
        if rel.endswith("/") or spec is None or (isinstance(spec, dict) and spec.get("dir")):
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(spec, dict) and "symlink" in spec:
            os.symlink(spec["symlink"].replace("{ROOT}", root), path)
            continue
        content = spec["content"] if isinstance(spec, dict) else spec
        with open(path, "w") as f:
            f.write(content)
        if isinstance(spec, dict) and "mode" in spec:
            os.chmod(path, spec["mode"])


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def start_http(directory):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "hello.txt"), "w") as f:
        f.write("hello from the differential harness\n")
    with open(os.path.join(directory, "data.json"), "w") as f:
        f.write('{"name": "tollgate", "n": 3}')
    handler = lambda *a, **k: QuietHandler(*a, directory=directory, **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------------------- running both sides

def substitute(text, env):
    for k, v in env.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def run_rex(rex, policy_file, script_file, args_file, timeout):
    cmd = [rex, "--json", policy_file, script_file]
    if args_file:
        cmd += ["--args", args_file]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"kind": "error", "category": "timeout", "message": "timed out"}
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        out = json.loads(line)
    except ValueError:
        return {"kind": "error", "category": "crash",
                "message": (p.stdout + p.stderr).strip()[-400:]}
    if out.get("status") == "SUCCESS":
        return {"kind": "ok", "value": out.get("value")}
    err = out.get("error", {})
    msg = err.get("message", "")
    kind = "denied" if err.get("error_type") == "ACCESS_DENIED_EXCEPTION" else "error"
    return {"kind": kind, "message": msg, "error_type": err.get("error_type")}


def run_tollgate(tollgate, policy_file, script_file, args_file, timeout):
    cmd = [tollgate, "run", script_file, "--policy", policy_file, "--no-audit"]
    if args_file:
        cmd += ["--args", args_file]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"kind": "error", "category": "timeout", "message": "timed out"}
    try:
        out = json.loads(p.stdout)
    except ValueError:
        return {"kind": "error", "category": "crash",
                "message": (p.stdout + p.stderr).strip()[-400:]}
    if out.get("status") == "SUCCESS":
        return {"kind": "ok", "text": out.get("output", "")}
    err = out.get("error", {})
    et = err.get("error_type", "")
    kind = "denied" if et == "ACCESS_DENIED_EXCEPTION" else "error"
    return {"kind": kind, "message": err.get("message", ""), "error_type": et}


# ---------------------------------------------------------------------------- normalisation

def walk(v, f):
    if isinstance(v, list):
        return f([walk(x, f) for x in v])
    if isinstance(v, dict):
        return f({k: walk(x, f) for k, x in v.items()})
    return f(v)


def normalise(v, rules, root):
    def base(x):
        if isinstance(x, str):
            if RUST_PATH.match(x):
                return x.rsplit("::", 1)[1]
        return x
    v = walk(v, base)
    for rule in rules or []:
        name, _, arg = rule.partition(":")
        if name == "sort":
            v = walk(v, lambda x: sorted(x, key=lambda y: json.dumps(y, sort_keys=True))
                     if isinstance(x, list) else x)
        elif name == "ignore":
            keys = set(arg.split(","))
            v = walk(v, lambda x: {k: y for k, y in x.items() if k not in keys}
                     if isinstance(x, dict) else x)
        elif name == "keys":
            v = walk(v, lambda x: sorted(x.keys()) if isinstance(x, dict) else x)
        elif name == "types":
            v = walk(v, lambda x: x if isinstance(x, (list, dict)) else type_name(x))
        elif name == "strip":
            v = walk(v, lambda x: x.strip() if isinstance(x, str) else x)
        elif name == "lower":
            v = walk(v, lambda x: x.lower() if isinstance(x, str) else x)
    return v


def type_name(x):
    if x is None:
        return "()"
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "i64"
    if isinstance(x, float):
        return "f64"
    if isinstance(x, str):
        return "string"
    return type(x).__name__


def same(a, b, tol):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if type(a) is not type(b):  # i64 vs f64 is a real difference in a script
            return False
        if isinstance(a, float):
            return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], tol) for k in a)
    return a == b


def tollgate_value(text, rex_value):
    """Tollgate prints a string result as-is and anything else as JSON."""
    if isinstance(rex_value, str):
        return text
    if rex_value is None and text in ("", "()", "null"):
        return None
    try:
        return json.loads(text, object_pairs_hook=OrderedDict)
    except ValueError:
        return text


def denial_parts(msg):
    a = ACTION_RE.search(msg or "")
    r = RESOURCE_RE.search(msg or "")
    return (a.group(1) if a else None, (r.group(1), r.group(2).rstrip("/")) if r else None)


MISSING = ("Function not found", "Unknown property", "Property not found", "Variable not found",
           "Module not found", "Undefined module", "Unknown operator", "does not compile",
           "Syntax error", "Non-pure method")


def compare(case, rex, tg, root):
    """(agree, reason)."""
    rules = case.get("normalise", [])
    tol = float(next((r.split(":")[1] for r in rules if r.startswith("float_tol:")), 1e-9))
    if rex["kind"] == "ok" and tg["kind"] == "ok":
        tv = tollgate_value(tg["text"], rex["value"])
        a = normalise(rex["value"], rules, root)
        b = normalise(tv, rules, root)
        if same(a, b, tol):
            return True, ""
        # A caught "Function not found" shows up as a value: still a missing callable.
        if any(m in tg["text"] for m in MISSING) and not any(m in json.dumps(rex["value"]) for m in MISSING):
            return False, "missing-in-tollgate"
        return False, "value"
    if rex["kind"] == "error" and any(m in rex["message"] for m in MISSING):
        return False, "case-invalid-on-rex"
    if tg["kind"] == "error" and any(m in tg["message"] for m in MISSING):
        return False, "missing-in-tollgate"
    if rex["kind"] != tg["kind"]:
        return False, "outcome"
    if rex["kind"] == "denied":
        ra, rr = denial_parts(rex["message"])
        ta, tr = denial_parts(tg["message"])
        if ra != ta:
            return False, "denied-action"
        if case.get("compare_resource", True) and rr and tr and rr != tr:
            return False, "denied-resource"
        return True, ""
    # Both errors: the same category, unless one side merely lacks the callable.
    rm = any(m in rex["message"] for m in MISSING)
    tm = any(m in tg["message"] for m in MISSING)
    if tm and not rm:
        return False, "missing-in-tollgate"
    if rm:
        # Rex, the reference, cannot run the script: the case is wrong, whatever Tollgate did.
        return False, "case-invalid-on-rex"
    return True, ""


def show(res):
    """One line: a value as JSON (Tollgate's output text quoted as it was printed)."""
    if res["kind"] == "ok":
        if "value" in res:
            return "ok " + json.dumps(res["value"], ensure_ascii=False)
        return "ok output=" + json.dumps(res["text"], ensure_ascii=False)
    return "%s %s" % (res["kind"], res.get("message", "").replace("\n", " "))


# ---------------------------------------------------------------------------- main

def load_cases():
    cases = []
    for fn in sorted(os.listdir(CASES_DIR)):
        if fn.endswith(".json"):
            with open(os.path.join(CASES_DIR, fn)) as f:
                for c in json.load(f):
                    c.setdefault("area", fn[:-5])
                    cases.append(c)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rex", default="/tmp/rexscratch/target/release/rexscratch")
    ap.add_argument("--tollgate", default="target/debug/tollgate")
    ap.add_argument("--area", action="append", help="only this area (repeatable)")
    ap.add_argument("--case", action="append", help="only this case name or substring (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    ap.add_argument("--report", help="also write the disagreement list to this file")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--width", type=int, default=300, help="truncate shown values to this width")
    opts = ap.parse_args()

    cases = load_cases()
    names = [c["name"] for c in cases]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        sys.exit("duplicate case names: %s" % ", ".join(sorted(dups)))
    if opts.area:
        cases = [c for c in cases if c["area"] in opts.area]
    if opts.case:
        cases = [c for c in cases if any(s == c["name"] or s in c["name"] for s in opts.case)]
    if not cases:
        sys.exit("no cases selected")
    tollgate = os.path.abspath(opts.tollgate)
    rex = os.path.abspath(opts.rex)

    work = tempfile.mkdtemp(prefix="tgdiff-")
    server = start_http(os.path.join(work, "www"))
    sleeper = subprocess.Popen(["sleep", "3600"])
    env = {"HTTP": "http://127.0.0.1:%d" % server.server_address[1],
           "SLEEP_PID": sleeper.pid, "HARNESS_PID": os.getpid()}

    per_area = defaultdict(lambda: [0, 0])
    disagreements = []
    try:
        for case in cases:
            root = os.path.join(work, "root-" + re.sub(r"[^A-Za-z0-9_.-]", "_", case["name"]))
            cenv = dict(env, ROOT=root)
            policy = POLICIES.get(case.get("policy", "all"), case.get("policy"))
            pf = os.path.join(work, "policy.cedar")
            sf = os.path.join(work, "script.rhai")
            with open(pf, "w") as f:
                f.write(substitute(policy, cenv))
            with open(sf, "w") as f:
                f.write(substitute(case["script"], cenv))
            af = None
            if case.get("args"):
                af = os.path.join(work, "args.json")
                with open(af, "w") as f:
                    f.write(substitute(json.dumps(case["args"]), cenv))
            make_fixtures(root, case.get("fixtures"))
            r = run_rex(rex, pf, sf, af, opts.timeout)
            make_fixtures(root, case.get("fixtures"))
            t = run_tollgate(tollgate, pf, sf, af, opts.timeout)
            ok, why = compare(case, r, t, root)
            area = case["area"]
            per_area[area][1] += 1
            if ok:
                per_area[area][0] += 1
            else:
                disagreements.append((case, why, r, t))
            if opts.verbose or not ok:
                mark = "agree   " if ok else "DISAGREE"
                print("%s %-10s %-34s %s" % (mark, area, case["name"], why))
                if opts.verbose or not ok:
                    print("    rex:      " + show(r)[: opts.width])
                    print("    tollgate: " + show(t)[: opts.width])
    finally:
        sleeper.kill()
        sleeper.wait()
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    lines = ["", "per area:"]
    total_ok = total = 0
    for area in sorted(per_area):
        a, n = per_area[area]
        total_ok += a
        total += n
        lines.append("  %-12s %3d / %3d (%5.1f%%)" % (area, a, n, 100.0 * a / n))
    lines.append("agree %d / %d (%.1f%%)" % (total_ok, total, 100.0 * total_ok / total))
    print("\n".join(lines))

    if opts.report:
        with open(opts.report, "w") as f:
            f.write("Differential run: Rex (%s) vs Tollgate (%s)\n" % (rex, tollgate))
            f.write("\n".join(lines) + "\n\nDisagreements by area:\n")
            by_area = defaultdict(list)
            for d in disagreements:
                by_area[d[0]["area"]].append(d)
            for area in sorted(by_area):
                f.write("\n== %s (%d)\n" % (area, len(by_area[area])))
                for case, why, r, t in by_area[area]:
                    f.write("- %s [%s]\n    rex:      %s\n    tollgate: %s\n" % (
                        case["name"], why, show(r)[: opts.width], show(t)[: opts.width]))
    return 0 if total_ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
