#!/usr/bin/env python3
"""Fleet runs over OpenSSH: 40 sshd instances on loopback, each with its own host key and a
forced command that pins a policy, timed host by host and then as one `tollgate fleet` run,
alternated with the same ssh commands fanned out by `xargs -P` (what a user would pick
instead).

    python3 bench/fleet.py [--tollgate PATH] [--hosts 40] [--parallel 16] [--ssh-option K=V ...]

Builds nothing: run `cargo build --release` first (the binary defaults to $TOLLGATE_BIN, else
target/release/tollgate). Needs root (sshd), /usr/sbin/sshd and the ssh client. Prints a
Markdown report; the fleet figure in bench/RESULTS.md comes from this script.

Besides wall times it reports the CPU time the fleet run costs, on both sides of every
connection: the fleet process and its ssh clients (from this script's reaped children), and
the sshd sessions with the forced tollgate under them (from each sshd's reaped children, in
/proc/PID/stat), so a run bound by the machine's cores shows as such.
"""
import argparse
import json
import os
import resource
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSHD = "/usr/sbin/sshd"
# A script with some work in it: read and count a log, as an operations check would.
SCRIPT = 'let lines = grep("error", path); #{errors: lines.len(), tail: tail(path)}'


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    with open(path + ".pub") as f:
        return f.read().strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_banner(port, proc, deadline):
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"sshd on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(4) == b"SSH-":
                    return
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit(f"sshd on port {port} did not start")


def start_sshd(work, name, client_pub, forced):
    """sshd whose one key runs `forced` (`{dir}` is the host's own directory)."""
    d = os.path.join(work, name)
    os.makedirs(d)
    key = os.path.join(d, "host_key")
    host_pub = keygen(key)
    forced = forced.replace("{dir}", d)
    write(os.path.join(d, "authorized_keys"), f'command="{forced}",restrict {client_pub}\n')
    port = free_port()
    config = write(os.path.join(d, "sshd_config"), "\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {key}",
        f"AuthorizedKeysFile {d}/authorized_keys", "StrictModes no", "UsePAM no",
        f"PidFile {d}/sshd.pid", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        "LogLevel ERROR", "MaxStartups 100", ""]))
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port, host_pub


def children_cpu(pids):
    """CPU seconds of this process's reaped children plus those of the given processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the name: state is field 3; cutime and cstime are fields 16 and 17.
        total += (int(fields[13]) + int(fields[14])) / tick
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tollgate", default=os.environ.get(
        "TOLLGATE_BIN", os.path.join(ROOT, "target", "release", "tollgate")))
    ap.add_argument("--hosts", type=int, default=40)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--ssh-option", action="append", default=[],
                    help="an extra ssh client option for every connection, e.g. "
                         "KexAlgorithms=curve25519-sha256")
    opts = ap.parse_args()
    tollgate = os.path.abspath(opts.tollgate)
    if not os.access(tollgate, os.X_OK):
        sys.exit(f"no tollgate binary at {tollgate}; run cargo build --release or pass --tollgate")
    os.makedirs("/run/sshd", exist_ok=True)

    procs = []
    with tempfile.TemporaryDirectory() as work:
        try:
            logs = os.path.join(work, "logs")
            os.makedirs(logs)
            log = write(os.path.join(logs, "app.log"), "".join(
                f"2026-11-20T08:00:{i % 60:02d}Z {'error' if i % 50 == 0 else 'info'} "
                f"request {i} served\n" for i in range(20000)))
            policy = write(os.path.join(work, "ops-read.cedar"),
                           'permit(principal, action in [file_system::Action::"open", '
                           'file_system::Action::"read"], '
                           f'resource in file_system::Dir::"{logs}");\n')
            args = write(os.path.join(work, "args.json"),
                         json.dumps({"path": {"stringValue": log}}))
            script = write(os.path.join(work, "check.rhai"), SCRIPT)
            client_key = os.path.join(work, "client_key")
            client_pub = keygen(client_key)

            forced = (f"{tollgate} run - --policy {policy} --audit-log {{dir}}/audit "
                      "--args-from-ssh-command")
            hosts = []
            for i in range(opts.hosts):
                proc, port, host_pub = start_sshd(work, f"host{i}", client_pub, forced)
                procs.append(proc)
                hosts.append((port, host_pub))
            # One more whose forced command does nothing: the connection setup alone.
            proc, bare_port, bare_pub = start_sshd(work, "bare", client_pub, "true")
            procs.append(proc)
            deadline = time.time() + 30
            for proc, (port, _) in zip(procs, hosts + [(bare_port, bare_pub)]):
                wait_for_banner(port, proc, deadline)
            known = write(os.path.join(work, "known_hosts"), "".join(
                f"[127.0.0.1]:{port} {pub}\n" for port, pub in hosts + [(bare_port, bare_pub)]))
            hosts_file = write(os.path.join(work, "hosts"), "".join(
                f"127.0.0.1:{port}\n" for port, _ in hosts))
            ssh_options = [f"IdentityFile={client_key}", "IdentitiesOnly=yes",
                           f"UserKnownHostsFile={known}", "GlobalKnownHostsFile=/dev/null",
                           "StrictHostKeyChecking=yes"] + opts.ssh_option

            def fleet(hosts_path, parallel):
                cmd = [tollgate, "fleet", "--hosts", hosts_path, script, "--args", args,
                       "--parallel", str(parallel), "--output", "json"]
                for o in ssh_options:
                    cmd += ["--ssh-option", o]
                start = time.perf_counter()
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                took = time.perf_counter() - start
                results = [json.loads(line) for line in p.stdout.decode().splitlines()]
                bad = [r for r in results if r["status"] != "SUCCESS"]
                if p.returncode != 0 or bad or len(results) != len(open(hosts_path).readlines()):
                    sys.exit(f"fleet run failed ({p.returncode}): {bad[:3]} {p.stderr[:500]!r}")
                return took, results

            # Each host alone: the same fleet command with a one-line hosts file, so it is
            # ssh + tollgate run + fleet's own start, as the fleet run pays it.
            singles = []
            for port, _ in hosts:
                one = write(os.path.join(work, f"one-{port}"), f"127.0.0.1:{port}\n")
                singles.append(fleet(one, 1)[0])
            # Connection setup alone: ssh to the host whose forced command is `true`.
            connect = []
            for _ in range(10):
                cmd = ["ssh", "-T", "-o", "BatchMode=yes"] + sum(
                    (["-o", o] for o in ssh_options), []) + [
                    "-p", str(bare_port), "--", "127.0.0.1", "{}"]
                start = time.perf_counter()
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
                connect.append(time.perf_counter() - start)
                if p.returncode != 0:
                    sys.exit(f"bare ssh run failed ({p.returncode}): {p.stdout!r}")

            # Tollgate's share: the same run without ssh, as the forced command makes it.
            local = [tollgate, "run", script, "--policy", policy, "--args", args,
                     "--audit-log", os.path.join(work, "local-audit")]
            local_wall = []
            before = children_cpu([])
            for _ in range(10):
                start = time.perf_counter()
                subprocess.run(local, stdout=subprocess.DEVNULL, check=True)
                local_wall.append(time.perf_counter() - start)
            local_cpu = (children_cpu([]) - before) / 10

            # What a user would pick instead: the same ssh commands (options, script on
            # stdin, arguments as the remote command) fanned out by `xargs -P`, each host's
            # output kept in a file of its own.
            remote = shlex.quote(json.dumps({"path": {"stringValue": log}}, separators=(",", ":")))
            ssh_words = " ".join(["ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
                                 + sum((["-o", shlex.quote(o)] for o in ssh_options), []))
            outs = os.path.join(work, "xargs-out")
            os.makedirs(outs, exist_ok=True)
            ports = write(os.path.join(work, "ports"), "".join(f"{port}\n" for port, _ in hosts))
            one_host = (f"{ssh_words} -p \"$0\" -- 127.0.0.1 {shlex.quote(remote)} "
                        f"< {shlex.quote(script)} > {shlex.quote(outs)}/\"$0\"")
            bare_fanout = ["xargs", "-P", str(opts.parallel), "-n", "1", "-a", ports,
                           "sh", "-c", one_host]

            def xargs_run():
                start = time.perf_counter()
                p = subprocess.run(bare_fanout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                took = time.perf_counter() - start
                done = [json.loads(open(os.path.join(outs, f)).read()) for f in os.listdir(outs)]
                bad = [r for r in done if r.get("status") != "SUCCESS"]
                if p.returncode != 0 or bad or len(done) != len(hosts):
                    sys.exit(f"xargs fan-out failed ({p.returncode}): {bad[:3]} {p.stderr[:500]!r}")
                return took

            fleet_times = []
            fleet_cpu = []
            xargs_times = []
            sshd_pids = [p.pid for p in procs]
            # Alternated, so that both see the same load.
            for _ in range(5):
                before = children_cpu(sshd_pids)
                took, _ = fleet(hosts_file, opts.parallel)
                fleet_times.append(took)
                fleet_cpu.append(children_cpu(sshd_pids) - before)
                for f in os.listdir(outs):
                    os.unlink(os.path.join(outs, f))
                xargs_times.append(xargs_run())

            slowest = max(singles)
            handshake = statistics.median(connect)
            fleet_wall = statistics.median(fleet_times)
            bound = 2 * slowest + handshake
            print(f"## Fleet: {opts.hosts} sshd instances on loopback, "
                  f"`--parallel {opts.parallel}`\n")
            print("| measurement | time |\n|---|---|")
            print(f"| one host alone, `tollgate fleet` (ssh + tollgate run), median of "
                  f"{len(singles)} | {statistics.median(singles)*1000:.0f} ms |")
            print(f"| one host alone, slowest of {len(singles)} | {slowest*1000:.0f} ms |")
            print(f"| connection setup: ssh to a forced `true`, median of 10 | "
                  f"{handshake*1000:.0f} ms |")
            print(f"| `tollgate run` alone, no ssh, median of 10 | "
                  f"{statistics.median(local_wall)*1000:.0f} ms ({local_cpu*1000:.0f} ms CPU) |")
            print(f"| fleet of {opts.hosts}, median of {len(fleet_times)} ({', '.join(f'{t:.2f}' for t in fleet_times)} s) | "
                  f"{fleet_wall*1000:.0f} ms |")
            print(f"| bound: 2 × slowest single + setup | {bound*1000:.0f} ms |")
            xargs_wall = statistics.median(xargs_times)
            print(f"| the same ssh commands by `xargs -P {opts.parallel}`, median of "
                  f"{len(xargs_times)} ({', '.join(f'{t:.2f}' for t in xargs_times)} s) | "
                  f"{xargs_wall*1000:.0f} ms |")
            print(f"| fleet / xargs | {fleet_wall / xargs_wall:.2f}× |")
            cpu = statistics.median(fleet_cpu)
            cores = os.cpu_count()
            print(f"| CPU time of one fleet run, both sides of every connection, median of {len(fleet_cpu)} | "
                  f"{cpu:.2f} s ({cpu / opts.hosts * 1000:.0f} ms a host) |")
            print(f"| floor on {cores} cores: that CPU time / {cores} | {cpu / cores * 1000:.0f} ms |")
            with open("/proc/loadavg") as f:
                print(f"| load average when done | {' '.join(f.read().split()[:3])} |")
            print()
            verdict = "met" if fleet_wall <= 1.1 * xargs_wall else "NOT met"
            print(f"Target (fleet ≤ 1.1 × the same ssh fan-out by xargs -P {opts.parallel}): "
                  f"{verdict}, {fleet_wall / xargs_wall:.2f}×.")
            verdict = "met" if fleet_wall <= bound else "NOT met"
            print(f"Target (fleet ≤ 2 × slowest single-host run + connection setup): {verdict}, "
                  f"{fleet_wall / slowest:.2f} × the slowest single-host run.")
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
