#!/usr/bin/env bash
# Builds Tollgate and runs the bundled examples against a copy of examples/logs in
# /tmp/tollgate-example: a read-only summary of the logs, then the same write script under a
# read-only policy (denied, exit code 4) and under a read-write policy (permitted).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf /tmp/tollgate-example /tmp/tollgate-example-audit
mkdir -p /tmp/tollgate-example
cp -r examples/logs /tmp/tollgate-example/logs
cargo build --release --quiet
tg() { target/release/tollgate "$@"; }
audit=/tmp/tollgate-example-audit

echo "== read-logs.rhai under read-only.cedar"
tg run examples/read-logs.rhai --policy examples/read-only.cedar --args examples/read-logs.json --output human --audit-log $audit

echo
echo "== write-note.rhai under read-only.cedar (expected: denied, exit code 4)"
set +e
tg run examples/write-note.rhai --policy examples/read-only.cedar --args examples/write-note.json --output human --audit-log $audit
echo "exit code: $?"
set -e

echo
echo "== write-note.rhai under read-write.cedar"
tg run examples/write-note.rhai --policy examples/read-write.cedar --args examples/write-note.json --output human --audit-log $audit

echo
echo "== the audit trail: denials, then verification"
tg audit show --dir $audit --decision deny
tg audit verify --dir $audit
