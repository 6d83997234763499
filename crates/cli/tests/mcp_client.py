#!/usr/bin/env python3
"""A real MCP client (the official `mcp` package) for the integration tests.

    python3 mcp_client.py CALLS_JSON SERVER_COMMAND [ARGS...]

Starts the server over stdio, initializes, lists the tools, makes each call in CALLS_JSON
(a JSON list of {"tool": name, "arguments": {...}}) in order, and prints one JSON object:
{"server": {...}, "tools": [...], "results": [{"is_error", "structured", "text"}, ...]}.
Any protocol failure ends the client with a non-zero exit code.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(calls, command, args):
    params = StdioServerParameters(command=command, args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            listed = await session.list_tools()
            results = []
            for call in calls:
                r = await session.call_tool(call["tool"], call.get("arguments") or {})
                results.append({
                    "is_error": bool(r.is_error),
                    "structured": r.structured_content,
                    "text": "".join(getattr(c, "text", "") for c in r.content),
                })
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
