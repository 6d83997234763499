#!/usr/bin/env python3
"""A real MCP client (the official `mcp` package) for the integration tests.

    python3 mcp_client.py CALLS_JSON SERVER_COMMAND [ARGS...]

Starts the server over stdio, initializes, lists the tools, makes each call in CALLS_JSON
(a JSON list of {"tool": name, "arguments": {...}}) in order, and prints one JSON object:
{"server": {...}, "tools": [...], "results": [{"is_error", "structured", "text", "seconds"}, ...]}.
A call with "background": true is started without waiting for it, and the next calls are
made meanwhile; its result is taken at the end, in its place in the list. "seconds" is when
the call's answer came, counted from the first call.
Any protocol failure ends the client with a non-zero exit code.
"""
import asyncio
import json
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(calls, command, args):
    params = StdioServerParameters(command=command, args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            listed = await session.list_tools()
            start = time.monotonic()

            async def call_one(call):
                r = await session.call_tool(call["tool"], call.get("arguments") or {})
                return {
                    "is_error": bool(r.is_error),
                    "structured": r.structured_content,
                    "text": "".join(getattr(c, "text", "") for c in r.content),
                    "seconds": time.monotonic() - start,
                }

            pending = []
            for call in calls:
                if call.get("background"):
                    pending.append(asyncio.create_task(call_one(call)))
                else:
                    pending.append(await call_one(call))
            results = [await p if isinstance(p, asyncio.Task) else p for p in pending]
            return {
                "server": {
                    "name": init.server_info.name,
                    "version": init.server_info.version,
                    "protocol_version": str(init.protocol_version),
                },
                "tools": [
                    {"name": t.name, "input_schema": t.input_schema} for t in listed.tools
                ],
                "results": results,
            }


if __name__ == "__main__":
    out = asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:]))
    print(json.dumps(out))
