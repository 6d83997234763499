#!/usr/bin/env python3
"""A real MCP client (the official `mcp` package) for the integration tests.

    python3 mcp_client.py CALLS_JSON SERVER_COMMAND [ARGS...]

Starts the server over stdio, initializes, lists the tools, makes each call in CALLS_JSON
(a JSON list of {"tool": name, "arguments": {...}}) in order, and prints one JSON object:
{"server": {...}, "tools": [{name, input_schema, output_schema, annotations}, ...],
 "results": [{"is_error", "structured", "text", "seconds"}, ...]}.
The SDK checks each successful result against its tool's output schema; a result that does
not fit is a protocol failure.
A call with "background": true is started without waiting for it, and the next calls are
made meanwhile; its result is taken at the end, in its place in the list. "seconds" is when
the call's answer came, counted from the first call. A call with "progress": true gives a
progress callback (so a progressToken), and its result has "progress": [{progress,
message}, ...] as they came. A call with "expect_error": true may fail with a JSON-RPC error;
its result is then {"error": {"code", "message"}}.
Steps that are not tool calls:
- {"cancel": I}: cancels the background call at index I the way an application does, by
  cancelling its task (the SDK then sends `notifications/cancelled`); that call's result is
  {"cancelled": true}, and this step's is {"cancelled": I}.
- {"processes": [S, ...], "present": BOOL, "within": SECONDS}: waits until some process
  whose command line contains every S is (or, with false, no such process is) running;
  the result is {"ok": BOOL, "pids": [...], "seconds": ...}, "seconds" waited from the
  step's start.
- {"text_in": DIR, "text": T, "within": SECONDS}: waits until a file below DIR contains T
  (e.g. a record kind in the audit log); the result is {"ok": BOOL, "seconds": waited}.
- {"ping": true}: a ping; the result is {"ok": true, "seconds": ...}.
Any other protocol failure ends the client with a non-zero exit code.
mcp_ts/client.mjs is the same client on the official TypeScript SDK.
"""
import asyncio
import json
import os
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

try:
    from mcp import MCPError
except ImportError:  # the 1.x releases named it so
    from mcp.shared.exceptions import McpError as MCPError


def matching_processes(parts):
    """Pids of the live processes whose command line contains every one of `parts` (a
    zombie's command line is empty), this client's aside: its own has them in CALLS_JSON."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(p in cmdline for p in parts):
            pids.append(int(pid))
    return pids


def text_in(root, text):
    needle = text.encode()
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                with open(os.path.join(dirpath, name), "rb") as f:
                    if needle in f.read():
                        return True
            except OSError:
                continue
    return False


async def wait_until(found, within):
    """Polls `found()` until it is truthy or `within` seconds have passed."""
    start = time.monotonic()
    while True:
        value = found()
        waited = time.monotonic() - start
        if value or waited >= within:
            return value, waited
        await asyncio.sleep(0.02)


async def wait_for_processes(parts, present, within):
    _, waited = await wait_until(
        lambda: bool(matching_processes(parts)) == present, within
    )
    pids = matching_processes(parts)
    return {"ok": bool(pids) == present, "pids": pids, "seconds": waited}


async def main(calls, command, args):
    params = StdioServerParameters(command=command, args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            listed = await session.list_tools()
            start = time.monotonic()

            async def call_one(call):
                progress = []

                async def on_progress(value, total, message):
                    progress.append({"progress": value, "message": message})

                try:
                    r = await session.call_tool(
                        call["tool"],
                        call.get("arguments"),
                        progress_callback=on_progress if call.get("progress") else None,
                    )
                except MCPError as e:
                    if not call.get("expect_error"):
                        raise
                    return {
                        "error": {"code": e.error.code, "message": e.error.message},
                        "seconds": time.monotonic() - start,
                    }
                out = {
                    "is_error": bool(r.is_error),
                    "structured": r.structured_content,
                    "text": "".join(getattr(c, "text", "") for c in r.content),
                    "seconds": time.monotonic() - start,
                }
                if call.get("progress"):
                    out["progress"] = progress
                return out

            async def taken(p):
                if not isinstance(p, asyncio.Task):
                    return p
                try:
                    return await p
                except asyncio.CancelledError:
                    return {"cancelled": True}

            pending = []
            for call in calls:
                if "cancel" in call:
                    pending[call["cancel"]].cancel()
                    pending.append({"cancelled": call["cancel"]})
                elif "processes" in call:
                    pending.append(
                        await wait_for_processes(
                            call["processes"], call["present"], call["within"]
                        )
                    )
                elif "text_in" in call:
                    ok, waited = await wait_until(
                        lambda: text_in(call["text_in"], call["text"]), call["within"]
                    )
                    pending.append({"ok": ok, "seconds": waited})
                elif call.get("ping"):
                    await session.send_ping()
                    pending.append({"ok": True, "seconds": time.monotonic() - start})
                elif call.get("background"):
                    pending.append(asyncio.create_task(call_one(call)))
                else:
                    pending.append(await call_one(call))
            results = [await taken(p) for p in pending]
            return {
                "server": {
                    "name": init.server_info.name,
                    "version": init.server_info.version,
                    "protocol_version": str(init.protocol_version),
                },
                "tools": [
                    {
                        "name": t.name,
                        "input_schema": t.input_schema,
                        "output_schema": t.output_schema,
                        "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True)
                        if t.annotations
                        else None,
                    }
                    for t in listed.tools
                ],
                "results": results,
            }


if __name__ == "__main__":
    out = asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:]))
    print(json.dumps(out))
