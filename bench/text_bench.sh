#!/usr/bin/env bash
# Times tollgate-host's streaming text readers (crates/host/src/fs/text.rs) on a generated log
# against GNU grep, GNU wc and a plain 256 KiB read loop, and reports each one's peak RSS.
#
#   bench/text_bench.sh [size_mb]        (default 200)
#
# The readers are driven by a throwaway binary crate built outside the workspace (in $WORK,
# default /tmp/tollgate-text-bench) that depends on tollgate-host by path ($HOST_CRATE, default
# crates/host), so that no manifest in the repository changes. Needs python3, GNU grep and wc, and /usr/bin/time for peak RSS.
# Output of every command goes to a file, not /dev/null: GNU grep stops at the first match
# when it sees its output is /dev/null, which would make it look impossibly fast.
set -euo pipefail

size_mb=${1:-200}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-/tmp/tollgate-text-bench}
host_crate=${HOST_CRATE:-$repo/crates/host}
runs=${RUNS:-11}
log="$work/log${size_mb}.txt"
out="$work/out.txt"
mkdir -p "$work/src"

if [[ ! -s $log ]]; then
    echo "generating a ${size_mb} MB log in $log" >&2
    python3 - "$log" "$size_mb" <<'EOF'
import random, sys
path, size = sys.argv[1], int(sys.argv[2]) * 1000 * 1000
rnd = random.Random(7)
levels = ["INFO"] * 80 + ["DEBUG"] * 12 + ["WARN"] * 6 + ["ERROR"] * 2
paths = ["/api/v1/items", "/api/v1/users", "/health", "/api/v2/orders", "/static/app.js", "/login"]
methods = ["GET"] * 7 + ["POST"] * 2 + ["DELETE"]
with open(path, "w") as f:
    written, i, batch = 0, 0, []
    while written < size:
        i += 1
        line = "2024-03-%02dT%02d:%02d:%02d.%03dZ %s [worker-%d] %s %s status=%d duration=%dms req=%08x\n" % (
            1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000, rnd.choice(levels), i % 16,
            rnd.choice(methods), rnd.choice(paths), rnd.choice([200, 200, 200, 201, 404, 500]),
            rnd.randint(1, 900), rnd.getrandbits(32))
        batch.append(line)
        written += len(line)
        if len(batch) >= 10000:
            f.write("".join(batch))
            batch = []
    f.write("".join(batch))
EOF
fi

cat >"$work/Cargo.toml" <<EOF
[package]
name = "tollgate-text-bench"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tollgate-host = { path = "$host_crate" }

[profile.release]
lto = "thin"
codegen-units = 4

[workspace]
EOF
cp "$repo/Cargo.lock" "$work/Cargo.lock"
cat >"$work/src/main.rs" <<'EOF'
//! `tollgate-text-bench <op> <file> [pattern]`: runs one text reader and prints its result.
use std::error::Error;
use std::fs::File;
use std::io::Read;

use tollgate_host::fs::text::{self, GrepOptions, TailRange, TextCtx};
use tollgate_host::{Interrupt, Limits};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, op, path, rest @ ..] = args.as_slice() else {
        return Err("usage: tollgate-text-bench <op> <file> [pattern]".into());
    };
    let pattern = rest.first().map_or("ERROR", String::as_str);
    let mut file = File::open(path)?;
    let interrupt = Interrupt::new();
    let ctx = TextCtx { limits: Limits::default(), interrupt: &interrupt };
    match op.as_str() {
        "read" => {
            let mut buf = vec![0u8; 256 << 10];
            let mut total = 0u64;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
            println!("{total}");
        }
        "wc" => println!("{:?}", text::wc(&mut file, &ctx)?),
        "grep-c" => {
            let opts = GrepOptions { count: true, ..Default::default() };
            println!("{:?}", text::grep(&mut file, pattern, &opts, &ctx)?);
        }
        "tail" => println!("{}", text::tail(&mut file, TailRange::Last(1000), &ctx)?.len()),
        "awk_sum" => println!("{}", text::awk_sum(&mut file, 1, " ", &ctx)?),
        other => return Err(format!("unknown op {other}").into()),
    }
    Ok(())
}
EOF
echo "building the bench binary (first run compiles tollgate-host in release)" >&2
CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --manifest-path "$work/Cargo.toml"
bin="$work/target/release/tollgate-text-bench"

# best and median wall time over $runs runs, in ms, and the command's output
timed() {
    local label=$1 times
    shift
    times=$(for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        "$@" >"$out"
        end=$(date +%s%N)
        echo $(((end - start) / 1000))
    done | sort -n)
    awk -v label="$label" -v result="$(head -c 80 "$out" | tr '\n' ' ')" \
        '{ t[NR] = $1 } END { printf "%-30s best %7.1f ms  median %7.1f ms  -> %s\n", label, t[1] / 1000, t[int((NR + 1) / 2)] / 1000, result }' \
        <<<"$times"
}

peak_rss() {
    local label=$1
    shift
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f "%M" -o "$work/rss.txt" "$@" >"$out"
        printf "%-30s peak RSS %6d KiB\n" "$label" "$(cat "$work/rss.txt")"
    fi
}

cat "$log" >/dev/null # warm the page cache: every command below reads cached data
echo "== $(du -hL "$log" | cut -f1) log, $runs runs each, warm page cache"
timed "cat file > /dev/null" sh -c "cat '$log' >/dev/null"
timed "read loop, 256 KiB buffer" "$bin" read "$log"
timed "LC_ALL=C wc" env LC_ALL=C wc "$log"
timed "text::wc" "$bin" wc "$log"
for word in ERROR GET; do
    timed "LC_ALL=C grep -c $word" env LC_ALL=C grep -c "$word" "$log"
    timed "text::grep count $word" "$bin" grep-c "$log" "$word"
done
timed "text::tail Last(1000)" "$bin" tail "$log"
echo "== peak memory"
peak_rss "text::wc" "$bin" wc "$log"
peak_rss "text::grep count GET" "$bin" grep-c "$log" GET
peak_rss "text::tail Last(1000)" "$bin" tail "$log"
peak_rss "text::awk_sum" "$bin" awk_sum "$log"
