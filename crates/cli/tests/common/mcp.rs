//! Real MCP client sessions for the tests: the official Python `mcp` package and the
//! official TypeScript SDK, over stdio, against the real binary (`tests/mcp_client.py` says
//! what the calls may be).

use std::process::{Command, Stdio};
use std::sync::Once;

use serde_json::Value;

/// One of the official MCP clients; both take the same calls and print the same object
/// (`tests/mcp_client.py` says what).
#[derive(Clone, Copy, Debug)]
pub enum Client {
    Python,
    TypeScript,
}

pub const BOTH: [Client; 2] = [Client::Python, Client::TypeScript];

/// The Python client, installed the way `.ci/run` installs it when it is missing.
pub fn ensure_python_client() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let present = Command::new("python3")
            .args(["-c", "import mcp"])
            .status()
            .expect("python3 is needed to run the MCP client");
        if !present.success() {
            let installed = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "mcp"])
                .status()
                .expect("python3 -m pip");
            assert!(
                installed.success(),
                "could not install the Python mcp package"
            );
        }
    });
}

/// Where the TypeScript client and its `package.json` are.
const TS_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_ts");

/// The TypeScript SDK, installed from the lock file the way `.ci/run` installs it when it
/// is missing.
pub fn ensure_ts_client() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let sdk = format!("{TS_CLIENT}/node_modules/@modelcontextprotocol/sdk/package.json");
        if std::path::Path::new(&sdk).exists() {
            return;
        }
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(TS_CLIENT)
            .status()
            .expect("npm (node 20 or later) is needed to run the TypeScript MCP client");
        assert!(installed.success(), "could not install the TypeScript SDK");
    });
}

/// Starts `tollgate mcp` with `server_args` under `client`, makes `calls`, returns what
/// the client saw.
pub fn session_with(client: Client, server_args: &[String], calls: &Value) -> Value {
    let mut command = match client {
        Client::Python => {
            ensure_python_client();
            let mut c = Command::new("python3");
            c.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py"));
            c
        }
        Client::TypeScript => {
            ensure_ts_client();
            let mut c = Command::new("node");
            c.arg(format!("{TS_CLIENT}/client.mjs"));
            c
        }
    };
    let out = command
        .arg(calls.to_string())
        .arg(super::binary())
        .arg("mcp")
        .args(server_args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the MCP session of the {client:?} client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// [`session_with`] the Python client.
pub fn session(server_args: &[String], calls: Value) -> Value {
    session_with(Client::Python, server_args, &calls)
}
