#!/usr/bin/env bash
# Builds Tollgate and runs the bundled examples against a copy of examples/logs in
# /tmp/tollgate-example: a read-only summary of the logs, then the same write script under a
# read-only policy (denied, exit code 4) and under a read-write policy (permitted); then the
# data layer: an agent acting for an on-call engineer reads a labelled application log
# (personal data redacted) and is denied files under legal hold, as the audit trail shows.
set -euo pipefail
cd "$(dirname "$0")/.."
# The log keeps its signing key beside it: a fresh log needs a fresh key.
rm -rf /tmp/tollgate-example /tmp/tollgate-example-audit /tmp/tollgate-example-audit.key /tmp/tollgate-example-host
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
tg audit show --audit-log $audit --decision deny
tg audit verify --audit-log $audit

echo
echo "== the data layer: an agent for the on-call engineer, during an incident"
# The host owner's files (issuer keys, directory, labels, config) live outside what any
# policy here opens; the data is labelled by examples/data-layer/labels.json.
host=/tmp/tollgate-example-host
rm -rf $host && mkdir -p $host
cp examples/data-layer/{issuer.jwks,directory.json,labels.json,config.json} $host/
cp -r examples/data-layer/data/app examples/data-layer/data/legal /tmp/tollgate-example/
tg run examples/data-layer/incident.rhai --policy examples/data-layer/incident.cedar \
    --token @examples/data-layer/oncall.jwt --config $host/config.json --audit-log $audit --output human
echo
echo "== what the audit trail says alice's agent did for the incident"
tg audit show --audit-log $audit --on-behalf-of alice --purpose incident-response

echo
echo "== the data layer: a support agent reads an EU customer record for a ticket"
cp examples/data-layer/config-redacting.json $host/
cp -r examples/data-layer/data/crm /tmp/tollgate-example/
set +e
tg run examples/data-layer/support.rhai --policy examples/data-layer/support.cedar \
    --token @examples/data-layer/support.jwt --config $host/config.json --audit-log $audit --output human
echo "exit code: $? (the answer holds personal data and the host does not redact answers)"
set -e
tg run examples/data-layer/support.rhai --policy examples/data-layer/support.cedar \
    --token @examples/data-layer/support.jwt --config $host/config-redacting.json --audit-log $audit --output human
echo
echo "== where the customer record's data went"
tg audit lineage --audit-log $audit /tmp/tollgate-example/crm

