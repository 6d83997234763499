#!/usr/bin/env python3
"""A scripted agent on the official `mcp` client, for the integration tests: the task
"count the ERROR messages per log file under ROOT", done the way an agent that follows
list_permissions would do it.

    python3 mcp_agent.py ROOT SERVER_COMMAND [ARGS...]

1. list_permissions: the directories at or below ROOT it may open and read, and the
   directories the forbids that cut into them keep it out of.
2. describe_sdk (allowed_only): that ls and grep are among the functions it can call.
3. check_access of ls on each directory it will start from: permitted, or it stops.
4. run_script: walks those directories (skipping the forbidden ones), counting the lines
   with ERROR in each *.log file.

Prints {"calls": [tool names, in order], "counts": {path: count}, "results": [structured,
...]}. A step whose answer does not let it go on ends it with a non-zero exit code.
"""
import asyncio
import json
import re
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

DIR_SCOPE = re.compile(r'^resource in file_system::Dir::"(.*)"$')
OPEN = 'file_system::Action::"open"'
READ = 'file_system::Action::"read"'

WALK = """
let counts = #{};
let stack = roots;
while stack.len() > 0 {
    let dir = stack.pop();
    for entry in ls(dir).values() {
        let path = dir + "/" + entry.name;
        if entry.type().to_string() == "Dir" {
            if !skip.contains(path) { stack.push(path); }
        } else if entry.name.ends_with(".log") {
            counts[path] = grep("ERROR", path).len();
        }
    }
}
counts
"""


def within(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def typed_strings(items):
    return {"listValue": [{"stringValue": s} for s in items]}


async def main(root, command, args):
    calls = []
    results = []

    async def call(session, tool, arguments):
        calls.append(tool)
        r = await session.call_tool(tool, arguments)
        results.append(r.structured_content)
        if r.is_error:
            raise SystemExit(f"{tool} failed: {json.dumps(r.structured_content)}")
        return r.structured_content

    params = StdioServerParameters(command=command, args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            permissions = await call(session, "list_permissions", {})
            roots = []
            for p in permissions["permitted"]:
                scope = DIR_SCOPE.match(p["resource"])
                if not (scope and OPEN in p["actions"] and READ in p["actions"]):
                    continue
                if p["condition"] is not None:
                    continue
                d = scope.group(1)
                if within(d, root):
                    roots.append(d)
                elif within(root, d):
                    roots.append(root)
            skip = []
            for f in permissions["forbidden"]:
                scope = DIR_SCOPE.match(f["resource"])
                if scope and (READ in f["actions"] or OPEN in f["actions"]):
                    skip.append(scope.group(1))
            if not roots:
                raise SystemExit(f"nothing under {root} may be read: {json.dumps(permissions)}")

            sdk = await call(session, "describe_sdk", {"allowed_only": True})
            names = {f["name"] for f in sdk["functions"]}
            if not {"ls", "grep"} <= names:
                raise SystemExit(f"ls and grep are not both allowed: {sorted(names)}")

            for d in roots:
                answer = await call(session, "check_access", {"command": "ls", "args": [d]})
                if answer["decision"] != "permit":
                    raise SystemExit(f"ls {d} would be denied: {json.dumps(answer)}")

            run = await call(
                session,
                "run_script",
                {
                    "script": WALK,
                    "args": {"roots": typed_strings(roots), "skip": typed_strings(skip)},
                },
            )
            return {"calls": calls, "counts": run["output"], "results": results}


if __name__ == "__main__":
    out = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
    print(json.dumps(out))
