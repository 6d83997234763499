#!/usr/bin/env python3
"""`tollgate policy prove` and `tollgate policy diff` on policies of a realistic shape.

    python3 bench/prove.py [--tollgate PATH] [--repeat 7] [--generate]

Times the release binary (the default is $TOLLGATE_BIN, else target/release/tollgate; build it
with `cargo build --release -p tollgate` first) on the inputs under bench/prove/:

- policy.cedar: 100 statements, as a host owner writes them: reads and writes on application
  directories, logs and home directories, for users, groups and agents acting for users,
  conditions on data labels (classification, categories, legal hold), on the purpose and the
  ticket and on path patterns; services, URLs and processes; forbids for secrets, system
  directories, personal health data and agents deleting.
- invariants.cedar: five invariants the policy satisfies (so every request environment is
  searched, the slowest case): no write, create, delete or move at or below /etc; no read of
  a file labelled `phi` unless the purpose is `treatment`; forbid `no-secrets` is never
  overridden; ops can always read /var/log/app (but for
  personal health data); agents never delete.
- policy-new.cedar: policy.cedar with six statements changed (one widened, one removed, one
  added, one condition loosened, one forbid narrowed, one principal changed), for `diff`.

`--generate` writes those three files again (deterministically) before timing. Prints a
Markdown report with the median, the fastest and the slowest of the runs, and each command's
exit code (prove: 0, every invariant proved; diff: 1, the policies differ).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUTS = os.path.join(ROOT, "bench", "prove")

APPS = ["billing", "search", "auth", "ingest", "reports", "web", "queue", "mailer"]
USERS = ["alice", "bob", "carol", "dave", "erin"]
GROUPS = ["ops", "dev", "sre", "audit"]
READ = '[file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat"]'
WRITE = '[file_system::Action::"open", file_system::Action::"write", file_system::Action::"create"]'


def action(name, ns="file_system"):
    return f'{ns}::Action::"{name}"'


def statements():
    """The 100 statements of policy.cedar, each as (id, text)."""
    out = []

    def add(sid, body):
        out.append((sid, f'@id("{sid}")\n{body}'))

    # Logs: ops and sre read every application's logs; developers read their app's, unless
    # the data is restricted.
    add("ops-read-logs", f'permit(principal in Group::"ops", action in {READ}, resource in file_system::Dir::"/var/log");')
    add("sre-read-logs", f'permit(principal in Group::"sre", action in {READ}, resource in file_system::Dir::"/var/log");')
    for i, app in enumerate(APPS):
        add(f"dev-read-{app}-logs",
            f'permit(principal in Group::"dev", action in {READ}, resource in file_system::Dir::"/var/log/{app}")\n'
            f'when {{ resource.labels.classification != "restricted" }};')
        add(f"agent-read-{app}-logs",
            f'permit(principal is Agent, action in {READ}, resource in file_system::Dir::"/var/log/{app}")\n'
            f'when {{ principal.on_behalf_of in Group::"ops" && resource.path like "*.log" }};')
    # Application data: the app's operators write, anyone in dev reads non-personal data.
    for i, app in enumerate(APPS):
        user = USERS[i % len(USERS)]
        add(f"{app}-owner-writes",
            f'permit(principal == User::"{user}", action in {WRITE}, resource in file_system::Dir::"/srv/{app}/data");')
        add(f"{app}-dev-reads",
            f'permit(principal in Group::"dev", action in {READ}, resource in file_system::Dir::"/srv/{app}/data")\n'
            f'when {{ !resource.labels.categories.contains("pii") || context.purpose == "incident" }};')
        add(f"{app}-rotate",
            f'permit(principal in Group::"ops", action in [file_system::Action::"move", file_system::Action::"delete"], resource in file_system::Dir::"/var/log/{app}")\n'
            f'when {{ resource.path like "*.gz" && !resource.labels.legal_hold }};')
        add(f"{app}-tickets",
            f'permit(principal in Group::"sre", action == file_system::Action::"write", resource in file_system::Dir::"/srv/{app}/config")\n'
            f'when {{ context.ticket like "CHG-*" }};')
    # Home directories and scratch space.
    for user in USERS:
        add(f"home-{user}",
            f'permit(principal == User::"{user}", action in file_system::Action::"SafeIO", resource in file_system::Dir::"/home/{user}");')
        add(f"scratch-{user}",
            f'permit(principal == User::"{user}", action in {WRITE}, resource in file_system::Dir::"/tmp/{user}");')
    # Records: read by clinicians for treatment; the forbid below enforces the purpose.
    add("clinicians-read-records",
        'permit(principal in Group::"audit", action == file_system::Action::"read", resource in file_system::Dir::"/srv/records");')
    add("records-by-agents",
        'permit(principal is Agent, action == file_system::Action::"read", resource in file_system::Dir::"/srv/records")\n'
        'when { context.purpose == "treatment" && context.ticket != "" };')
    # Services, URLs, processes, system information.
    for app in APPS:
        add(f"restart-{app}",
            f'permit(principal in Group::"ops", action in [{action("restart", "systemd")}, {action("status", "systemd")}], resource == systemd::Service::"{app}.service");')
    add("status-anything", f'permit(principal in Group::"sre", action == {action("status", "systemd")}, resource);')
    for app in APPS[:4]:
        add(f"fetch-{app}-health",
            f'permit(principal, action == {action("GET", "network")}, resource)\n'
            f'when {{ resource.url like "https://{app}.internal:443/health*" }};')
    add("list-processes", f'permit(principal in Group::"ops", action == {action("list", "process_system")}, resource);')
    add("kill-own", f'permit(principal, action == {action("kill", "process_system")}, resource)\n'
                    'when { principal is User && resource.username == "app" && context.ticket like "INC-*" };')
    add("sysinfo", f'permit(principal, action == {action("list", "sysinfo")}, resource);')
    add("resolve", f'permit(principal, action == {action("resolve_hostname", "sysinfo")}, resource)\n'
                   'when { resource.hostname like "*.internal" };')
    # Execute: a few binaries with argument conditions.
    for binary in ["/usr/bin/journalctl", "/usr/bin/df", "/usr/bin/uptime"]:
        add(f"run-{binary.rsplit('/', 1)[1]}",
            f'permit(principal in Group::"ops", action == file_system::Action::"execute", resource == file_system::File::"{binary}")\n'
            'when { context.user.uid != 0 && !(context.arguments.flags.contains("--rotate")) };')
    # Forbids.
    add("no-secrets",
        'forbid(principal, action, resource)\n'
        'when { resource has path && (resource.path like "/srv/*/secrets/*" || resource.path like "/home/*/.ssh/*") };')
    add("no-system-writes",
        'forbid(principal, action in [file_system::Action::"write", file_system::Action::"create", file_system::Action::"delete", file_system::Action::"move", file_system::Action::"chmod", file_system::Action::"chown"],\n'
        '       resource in file_system::Dir::"/etc");')
    add("no-usr-writes",
        'forbid(principal, action in [file_system::Action::"write", file_system::Action::"create", file_system::Action::"delete", file_system::Action::"move"],\n'
        '       resource in file_system::Dir::"/usr");')
    add("phi-for-treatment-only",
        'forbid(principal, action in [file_system::Action::"read", file_system::Action::"redacted_read"], resource)\n'
        'unless { !resource.labels.categories.contains("phi") || context.purpose == "treatment" };')
    add("restricted-for-audit",
        'forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"/srv")\n'
        'when { resource.labels.classification == "restricted" && context.purpose != "audit" };')
    add("legal-hold",
        'forbid(principal, action in [file_system::Action::"delete", file_system::Action::"write"], resource)\n'
        'when { resource.labels.legal_hold };')
    add("agents-never-delete",
        'forbid(principal is Agent, action == file_system::Action::"delete", resource);')
    add("no-root-exec",
        'forbid(principal, action == file_system::Action::"execute", resource)\n'
        'when { context.user.uid == 0 };')
    add("no-shadow-read",
        'forbid(principal, action, resource == file_system::File::"/etc/shadow");')
    add("eu-data-stays",
        'forbid(principal is Agent, action == file_system::Action::"move", resource)\n'
        'when { resource.labels.jurisdiction == "EU" && context.destination.labels.jurisdiction != "EU" };')
    add("no-kill-system",
        f'forbid(principal, action == {action("kill", "process_system")}, resource)\n'
        'when { resource.username == "root" };')
    add("no-stop-auth",
        f'forbid(principal, action == {action("stop", "systemd")}, resource == systemd::Service::"auth.service");')
    # Fill up to 100 with per-team report directories.
    n = 0
    while len(out) < 100:
        group = GROUPS[n % len(GROUPS)]
        app = APPS[n % len(APPS)]
        add(f"reports-{group}-{n}",
            f'permit(principal in Group::"{group}", action in {READ}, resource in file_system::Dir::"/srv/reports/{app}/{n}")\n'
            f'when {{ context.purpose like "report*" }};')
        n += 1
    assert len(out) == 100, len(out)
    return out


INVARIANTS = """\
@id("no-writes-under-etc") @invariant("never")
permit(principal, action in [file_system::Action::"write", file_system::Action::"create",
                             file_system::Action::"delete", file_system::Action::"move"],
       resource in file_system::Dir::"/etc");

@id("phi-only-for-treatment") @invariant("never")
permit(principal, action == file_system::Action::"read", resource)
when { resource.labels.categories.contains("phi") && context.purpose != "treatment" };

@id("secrets-stay-forbidden") @invariant("holds") @policy("no-secrets")
forbid(principal, action, resource);

@id("ops-read-app-logs") @invariant("always")
permit(principal in Group::"ops", action == file_system::Action::"read",
       resource in file_system::Dir::"/var/log/app")
when { !resource.labels.categories.contains("phi") };

@id("agents-never-delete") @invariant("never")
permit(principal is Agent, action == file_system::Action::"delete", resource);
"""


def changed(stmts):
    """policy-new.cedar: six changes a review would want to see."""
    new = dict(stmts)
    order = [sid for sid, _ in stmts]
    new["dev-read-search-logs"] = new["dev-read-search-logs"].replace('"/var/log/search"', '"/var/log"')
    del new["scratch-erin"]
    order.remove("scratch-erin")
    new["queue-dev-reads"] = new["queue-dev-reads"].replace('context.purpose == "incident"', 'context.purpose like "inc*"')
    new["no-usr-writes"] = new["no-usr-writes"].replace('file_system::Action::"delete", ', "")
    new["billing-owner-writes"] = new["billing-owner-writes"].replace('User::"alice"', 'User::"bob"')
    new["mailer-spool"] = ('@id("mailer-spool")\npermit(principal == User::"dave", action in '
                           f'{WRITE}, resource in file_system::Dir::"/var/spool/mailer");')
    order.append("mailer-spool")
    return [(sid, new[sid]) for sid in order]


def write(name, text):
    os.makedirs(INPUTS, exist_ok=True)
    with open(os.path.join(INPUTS, name), "w") as f:
        f.write(text)


def generate():
    stmts = statements()
    header = "// Generated by bench/prove.py --generate: 100 statements of a realistic shape.\n\n"
    write("policy.cedar", header + "\n\n".join(t for _, t in stmts) + "\n")
    new = changed(stmts)
    write("policy-new.cedar", header.replace("100 statements", "policy.cedar with six changes")
          + "\n\n".join(t for _, t in new) + "\n")
    write("invariants.cedar", "// Generated by bench/prove.py --generate.\n\n" + INVARIANTS)


def timed(cmd, repeat):
    times, codes, last = [], set(), None
    for _ in range(repeat):
        t = time.perf_counter()
        last = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        codes.add(last.returncode)
    return times, codes, last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tollgate", default=os.environ.get("TOLLGATE_BIN", os.path.join(ROOT, "target", "release", "tollgate")))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--generate", action="store_true")
    args = ap.parse_args()
    if args.generate or not os.path.exists(os.path.join(INPUTS, "policy.cedar")):
        generate()
    if not os.access(args.tollgate, os.X_OK):
        sys.exit(f"{args.tollgate}: not found; run `cargo build --release -p tollgate` first")
    p = lambda n: os.path.join(INPUTS, n)
    cvc5 = subprocess.run(["cvc5", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    print(f"`tollgate policy prove` and `policy diff`, {args.repeat} runs each, solver {cvc5[0] if cvc5 else '?'}\n")
    print("| command | median | fastest | slowest | exit |")
    print("|---|---|---|---|---|")
    runs = [
        ("prove: 5 invariants over 100 statements",
         [args.tollgate, "policy", "prove", p("policy.cedar"), "--invariants", p("invariants.cedar")]),
        ("diff: two 100-statement policies, 6 changes",
         [args.tollgate, "policy", "diff", p("policy.cedar"), p("policy-new.cedar")]),
        ("diff: a 100-statement policy with itself",
         [args.tollgate, "policy", "diff", p("policy.cedar"), p("policy.cedar")]),
        ("check: 100 statements (lints and never-applying permits)",
         [args.tollgate, "policy", "check", p("policy.cedar")]),
    ]
    outputs = []
    for name, cmd in runs:
        times, codes, last = timed(cmd, args.repeat)
        print(f"| {name} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s | {', '.join(map(str, sorted(codes)))} |")
        outputs.append((name, last))
    for name, last in outputs:
        print(f"\n{name}, last run's output:\n\n```text\n{last.stdout.strip()}\n{last.stderr.strip()}\n```")


if __name__ == "__main__":
    main()
