#!/usr/bin/env node
// A real MCP client (the official TypeScript SDK, @modelcontextprotocol/sdk) for the
// integration tests: the same program as ../mcp_client.py, on the other official SDK.
//
//     node client.mjs CALLS_JSON SERVER_COMMAND [ARGS...]
//
// It takes the same calls and steps and prints the same object; see mcp_client.py for
// them. The SDK checks each result that has structured content against its tool's output
// schema (error results too); one that does not fit is a protocol failure, as is any other,
// and ends the client with a non-zero exit code.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";

const [callsJson, command, ...args] = process.argv.slice(2);
const calls = JSON.parse(callsJson);

// Longer than any run a test starts: the SDK's default of 60 s would end a call itself.
const CALL_TIMEOUT_MS = 600_000;

/** Pids of the live processes whose command line contains every one of `parts`, this
 * client's aside: its own has them in CALLS_JSON. */
function matchingProcesses(parts) {
  const pids = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`).toString().replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (parts.every((p) => cmdline.includes(p))) pids.push(Number(pid));
  }
  return pids;
}

function textIn(root, text) {
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const e of entries) {
    const path = join(root, e.name);
    if (e.isDirectory()) {
      if (textIn(path, text)) return true;
    } else {
      try {
        if (readFileSync(path).includes(text)) return true;
      } catch {
        continue;
      }
    }
  }
  return false;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `found()` until it is truthy or `within` seconds have passed. */
async function waitUntil(found, within) {
  const start = performance.now();
  for (;;) {
    const value = found();
    const waited = (performance.now() - start) / 1000;
    if (value || waited >= within) return [value, waited];
    await sleep(20);
  }
}

async function main() {
  const transport = new StdioClientTransport({ command, args, stderr: "inherit" });
  const client = new Client({ name: "tollgate-tests", version: "0" });
  await client.connect(transport);
  const listed = await client.listTools();
  const start = performance.now();
  const seconds = () => (performance.now() - start) / 1000;

  async function callOne(call, signal) {
    const progress = [];
    const options = { signal, timeout: CALL_TIMEOUT_MS, resetTimeoutOnProgress: true };
    if (call.progress) {
      options.onprogress = (p) => progress.push({ progress: p.progress, message: p.message ?? null });
    }
    let r;
    try {
      r = await client.callTool(
        { name: call.tool, arguments: call.arguments ?? undefined },
        undefined,
        options,
      );
    } catch (e) {
      if (call.expect_error && e instanceof McpError && !signal?.aborted) {
        return { error: { code: e.code, message: e.message }, seconds: seconds() };
      }
      throw e;
    }
    const out = {
      is_error: Boolean(r.isError),
      structured: r.structuredContent ?? null,
      text: (r.content ?? []).map((c) => c.text ?? "").join(""),
      seconds: seconds(),
    };
    if (call.progress) out.progress = progress;
    return out;
  }

  const pending = [];
  for (const call of calls) {
    if ("cancel" in call) {
      pending[call.cancel].abort.abort("cancelled by the test");
      pending.push({ cancelled: call.cancel });
    } else if ("processes" in call) {
      const [, waited] = await waitUntil(
        () => (matchingProcesses(call.processes).length > 0) === call.present,
        call.within,
      );
      const pids = matchingProcesses(call.processes);
      pending.push({ ok: (pids.length > 0) === call.present, pids, seconds: waited });
    } else if ("text_in" in call) {
      const [ok, waited] = await waitUntil(() => textIn(call.text_in, call.text), call.within);
      pending.push({ ok: Boolean(ok), seconds: waited });
    } else if (call.ping) {
      await client.ping();
      pending.push({ ok: true, seconds: seconds() });
    } else if (call.background) {
      const abort = new AbortController();
      const promise = callOne(call, abort.signal).catch((e) => {
        if (abort.signal.aborted) return { cancelled: true };
        throw e;
      });
      pending.push({ abort, promise });
    } else {
      pending.push(await callOne(call));
    }
  }
  const results = [];
  for (const p of pending) results.push(p && p.promise ? await p.promise : p);
  const server = client.getServerVersion();
  await client.close();
  return {
    server: { name: server.name, version: server.version, protocol_version: null },
    tools: listed.tools.map((t) => ({
      name: t.name,
      input_schema: t.inputSchema,
      output_schema: t.outputSchema ?? null,
      annotations: t.annotations ?? null,
    })),
    results,
  };
}

main().then(
  // Exit once the output is written: a pipe takes it in pieces.
  (out) => process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0)),
  (e) => {
    process.stderr.write(`the MCP session failed: ${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
