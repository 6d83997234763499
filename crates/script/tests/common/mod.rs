//! What the SDK tests share: a server on localhost and the files made once per test run.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::OnceLock;

/// A server on localhost that answers every request with 200, or with a redirect to `/` for
/// `/moved`; its port.
pub fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let response: &[u8] = if request.starts_with(b"GET /moved ") {
                b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            };
            let _ = stream.write_all(response);
        }
    });
    port
}

/// The files of the format readers that `made` makes once and `fixture` copies: a.txt
/// gzipped, a tar of `x.txt` and `newdir/y.txt`, and certificates: `leaf.pem` signed by
/// `root.pem`, `leaf2.pem` by `inter.pem`, an intermediate signed by `root.pem`.
pub const MADE_FILES: &[&str] = &[
    "a.txt.gz",
    "archive.tar",
    "archive.tar.gz",
    "root.pem",
    "inter.pem",
    "leaf.pem",
    "leaf2.pem",
];

/// What is made once for every call: the files of `MADE_FILES`, and a core dump of
/// `/usr/bin/sleep` where gcore can make one.
pub struct Made {
    pub dir: tempfile::TempDir,
    pub core_dump: Option<String>,
}

pub fn made() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let sh = |script: &str| {
            let out = Command::new("sh")
                .arg("-ec")
                .arg(script)
                .current_dir(p)
                .output()
                .unwrap();
            assert!(out.status.success(), "{script}: {out:?}");
        };
        sh("printf 'gamma,1\ngamma,2\nalpha beta,3\n' | gzip -c > a.txt.gz");
        sh("mkdir -p src/newdir && echo x > src/x.txt && echo y > src/newdir/y.txt \
            && tar -cf archive.tar -C src x.txt newdir && gzip -k archive.tar");
        sh("printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign\n' > ca.ext \
            && printf 'basicConstraints=CA:false\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n' > leaf.ext \
            && key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1.key 2>/dev/null; } \
            && csr() { key $1 && openssl req -new -key $1.key -subj /CN=$1 -out $1.csr; } \
            && sign() { openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -days 2 -extfile $3 -out $1.pem 2>/dev/null; } \
            && key root && openssl req -x509 -new -key root.key -subj /CN=root -days 2 \
                -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign -out root.pem \
            && csr inter && sign inter root ca.ext \
            && csr leaf && sign leaf root leaf.ext \
            && csr leaf2 && sign leaf2 inter leaf.ext");
        let mut sleeper = Command::new("/usr/bin/sleep").arg("60").spawn().unwrap();
        let core = p.join("core");
        let gcore = Command::new("gcore")
            .arg("-o")
            .arg(&core)
            .arg(sleeper.id().to_string())
            .output();
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        let dumped = p.join(format!("core.{}", sleeper.id()));
        let core_dump = match gcore {
            Ok(out) if out.status.success() && std::fs::rename(&dumped, &core).is_ok() => {
                Some(core.to_str().unwrap().to_owned())
            }
            _ => None,
        };
        Made { dir, core_dump }
    })
}

/// The core dump the calls that read one are given: gcore's, or without one a file that is
/// not a core dump.
pub fn core_or_stand_in() -> String {
    match &made().core_dump {
        Some(core) => core.clone(),
        None => {
            let fake = made().dir.path().join("not-a-core");
            std::fs::write(&fake, "not a core dump\n").unwrap();
            fake.to_str().unwrap().to_owned()
        }
    }
}

/// Copies the files of `MADE_FILES` into `dir`.
pub fn copy_made(dir: &std::path::Path) {
    for name in MADE_FILES {
        std::fs::copy(made().dir.path().join(name), dir.join(name)).unwrap();
    }
}
