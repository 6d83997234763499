//! Rex's file-format methods of the handle API: gzip, tar archives, ELF binaries, strings,
//! certificate chains and core dumps, each on real files made here with the real tools, each
//! gated by the action Rex checks, each bounded by the run's limits.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Everything below the sandbox, and nothing else.
const ALL_BELOW: &str = r#"permit(principal, action, resource in file_system::Dir::"{ROOT}");"#;

/// Everything below the sandbox but `read` of `.gz` files, which are opened under
/// `redacted_read` instead: formats are never read redacted, so each method's own `read`
/// check is what denies.
const NO_GZ_READ: &str = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"read", resource in file_system::Dir::"{ROOT}")
    when { resource.path like "*.gz" };
"#;

/// A script prelude: `d` is the sandbox opened as a directory, `open(name)` a file in it.
const PRELUDE: &str = r#"
let d = DirConfig().path("{ROOT}").build().open(OpenDirOptions().build());
fn open(d, name) { d.open_file(name, OpenFileOptions().read(true).build()) }
fn attempt(f) { try { f.call(); return "ok"; } catch (e) { return `${e.kind}: ${e.message}`; } }
"#;

fn script(body: &str) -> String {
    format!("{PRELUDE}\n{body}")
}

fn sh(dir: &Path, command: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
}

/// `app.log.gz`: 1000 numbered lines, every tenth an ERROR, every hundredth also DEBUG.
fn gzip_fixture(s: &Sandbox) {
    let mut text = String::new();
    for i in 1..=1000 {
        let level = match (i % 100, i % 10) {
            (0, _) => "ERROR DEBUG",
            (_, 0) => "ERROR",
            _ => "info",
        };
        text.push_str(&format!("line {i} {level}\n"));
    }
    s.write("app.log", &text);
    sh(&s.root(), "gzip -k app.log");
}

#[test]
fn gzip_info_reads_the_sizes_from_the_file_and_its_trailer() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    let compressed = std::fs::metadata(s.path("app.log.gz")).unwrap().len();
    let plain = std::fs::metadata(s.path("app.log")).unwrap().len();
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"let i = open(d, "app.log.gz").gzip_info();
               #{ type: type_of(i), text: i.to_string(), map: i.to_map(),
                  c: i.compressed_size_bytes, u: i.uncompressed_size_bytes, r: i.compression_ratio }"#,
        ),
    );
    r.ok();
    let out: serde_json::Value = serde_json::from_str(r.output()).unwrap();
    assert_eq!(out["type"], "rust_safe_io::file::gzip::GzipInfo");
    assert_eq!(out["text"], "rust_safe_io::file::gzip::GzipInfo");
    assert_eq!(out["c"], compressed);
    assert_eq!(out["u"], plain);
    let ratio = out["r"].as_f64().unwrap();
    assert!((ratio - plain as f64 / compressed as f64).abs() < 1e-9);
    assert_eq!(out["map"]["compressed_size_bytes"], compressed);
    assert_eq!(out["map"]["uncompressed_size_bytes"], plain);
}

#[test]
fn read_gzip_lines_reads_head_tail_and_ranges_of_the_decompressed_text() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"let f = open(d, "app.log.gz");
               [f.read_gzip_lines(ReadLinesOptions().count(2).build()),
                f.read_gzip_lines(ReadLinesOptions().count(-2).build()),
                f.read_gzip_lines(ReadLinesOptions().count(2).start(5).build()),
                f.read_gzip_lines(ReadLinesOptions().count(-2).start(5).build()),
                f.read_gzip_lines(ReadLinesOptions().start(999).build())]"#,
        ),
    );
    let out: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out[0], serde_json::json!(["line 1 info", "line 2 info"]));
    assert_eq!(
        out[1],
        serde_json::json!(["line 999 info", "line 1000 ERROR DEBUG"])
    );
    assert_eq!(out[2], serde_json::json!(["line 5 info", "line 6 info"]));
    assert_eq!(out[3], serde_json::json!(["line 4 info", "line 5 info"]));
    assert_eq!(
        out[4],
        serde_json::json!(["line 999 info", "line 1000 ERROR DEBUG"])
    );
}

#[test]
fn read_gzip_lines_needs_count_or_start() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    let r = s.run(
        ALL_BELOW,
        &script(r#"attempt(|| open(d, "app.log.gz").read_gzip_lines(ReadLinesOptions().build()))"#),
    );
    assert!(r.ok().contains("count or start"), "{}", r.output());
}

#[test]
fn search_gzip_returns_matches_with_line_numbers_head_tail_and_exclusions() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"let f = open(d, "app.log.gz");
               let all = f.search_gzip("error", SearchGzipOptions().case_insensitive(true).build());
               let first = f.search_gzip("ERROR", SearchGzipOptions().max_results(2).build());
               let last = f.search_gzip("ERROR", SearchGzipOptions().max_results(-2).exclude_pattern("DEBUG").build());
               let none = f.search_gzip("error", SearchGzipOptions().build());
               #{ all: all.len(), type: type_of(all[0]),
                  first: first.map(|m| `${m.line_number}:${m.line_content}`),
                  last: last.map(|m| `${m.line_number}:${m.line_content}`),
                  none: none.len(),
                  exists: f.search_gzip_exists("line 500 ", SearchGzipOptions().build()),
                  missing: f.search_gzip_exists("line 1001", SearchGzipOptions().build()) }"#,
        ),
    );
    let out: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["all"], 100);
    assert_eq!(out["type"], "rust_safe_io::file::search::Match");
    assert_eq!(
        out["first"],
        serde_json::json!(["10:line 10 ERROR", "20:line 20 ERROR"])
    );
    assert_eq!(
        out["last"],
        serde_json::json!(["980:line 980 ERROR", "990:line 990 ERROR"])
    );
    assert_eq!(out["none"], 0);
    assert_eq!(out["exists"], true);
    assert_eq!(out["missing"], false);
}

#[test]
fn search_gzip_refuses_an_invalid_pattern() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"attempt(|| open(d, "app.log.gz").search_gzip("(", SearchGzipOptions().build()))"#,
        ),
    );
    assert!(
        r.ok().starts_with("InvalidArguments: invalid pattern"),
        "{}",
        r.output()
    );
}

#[test]
fn gzip_methods_are_denied_without_read_on_the_file() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    for call in [
        "gzip_info()",
        "read_gzip_lines(ReadLinesOptions().count(1).build())",
        r#"search_gzip("x", SearchGzipOptions().build())"#,
        r#"search_gzip_exists("x", SearchGzipOptions().build())"#,
    ] {
        let r = s.run(
            NO_GZ_READ,
            &script(&format!(r#"open(d, "app.log.gz").{call}"#)),
        );
        assert_eq!(
            r.error_type(),
            "ACCESS_DENIED_EXCEPTION",
            "{call}: {:#}",
            r.json
        );
        assert!(
            r.message().contains(r#"Action::"read""#),
            "{call}: {}",
            r.message()
        );
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_string_limit_without_using_its_size_in_memory() {
    let s = Sandbox::new();
    // 512 MiB of one unterminated line, a few hundred KiB on disk.
    sh(
        &s.root(),
        "head -c 536870912 /dev/zero | tr '\\0' a | gzip -1 > bomb.gz",
    );
    let r = s.run_with(
        ALL_BELOW,
        &script(r#"open(d, "bomb.gz").read_gzip_lines(ReadLinesOptions().count(-1).build())"#),
        &["--max-string-size", "1MiB", "--timeout", "60s"],
    );
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    assert!(r.message().contains("a line of"), "{}", r.message());
    assert!(r.max_rss_kib < 200 * 1024, "peak RSS {} KiB", r.max_rss_kib);
}

#[test]
fn compress_gzip_writes_a_gzip_of_the_source_that_gunzip_reads_back() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    s.write(
        "out.gz",
        &"stale content that must not survive\n".repeat(1000),
    );
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"let src = open(d, "app.log");
               let dst = d.open_file("out.gz", OpenFileOptions().write(true).create(true).build());
               src.compress_gzip(dst, CompressGzipOptions().level(9).build());
               let back = open(d, "out.gz");
               back.read_gzip_lines(ReadLinesOptions().count(1).build())"#,
        ),
    );
    assert_eq!(r.ok(), r#"["line 1 info"]"#);
    let out = Command::new("gzip")
        .args(["-dc", &s.path("out.gz")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(s.path("app.log")).unwrap());
}

#[test]
fn compress_gzip_checks_the_level_and_write_on_the_destination() {
    let s = Sandbox::new();
    gzip_fixture(&s);
    s.write("out.gz", "");
    let r = s.run(
        ALL_BELOW,
        &script(r#"attempt(|| CompressGzipOptions().level(10).build())"#),
    );
    assert!(r.ok().contains("from 1 to 9"), "{}", r.output());
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"write", resource == file_system::File::"{ROOT}/out.gz");
"#;
    let r = s.run(
        policy,
        &script(
            r#"let dst = d.open_file("out.gz", OpenFileOptions().read(true).build());
               open(d, "app.log").compress_gzip(dst, CompressGzipOptions().build())"#,
        ),
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(
        r.message().contains(r#"Action::"write""#),
        "{}",
        r.message()
    );
    assert_eq!(std::fs::metadata(s.path("out.gz")).unwrap().len(), 0);
}

/// `src/` with a file, a nested file and an empty directory, packed as `a.tar.gz`.
fn archive_fixture(s: &Sandbox) {
    s.write("src/top.txt", "top\n");
    s.write("src/sub/deep.txt", "deep\n");
    std::fs::create_dir_all(s.root().join("src/empty")).unwrap();
    sh(&s.root(), "chmod 600 src/top.txt && touch -d 2001-02-03T04:05:06Z src/sub/deep.txt && tar -C src -czf a.tar.gz top.txt sub empty");
    std::fs::create_dir_all(s.root().join("out")).unwrap();
}

const EXTRACT: &str = r#"
let out = DirConfig().path("{ROOT}/out").build().open(OpenDirOptions().build());
open(d, "ARCHIVE").extract_archive(out, ExtractArchiveOptions().build());
"done"
"#;

#[test]
fn extract_archive_unpacks_files_and_directories_with_their_modes_and_times() {
    let s = Sandbox::new();
    archive_fixture(&s);
    let r = s.run(ALL_BELOW, &script(&EXTRACT.replace("ARCHIVE", "a.tar.gz")));
    assert_eq!(r.ok(), "done");
    let out = s.root().join("out");
    assert_eq!(
        std::fs::read_to_string(out.join("top.txt")).unwrap(),
        "top\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sub/deep.txt")).unwrap(),
        "deep\n"
    );
    assert!(out.join("empty").is_dir());
    use std::os::unix::fs::MetadataExt;
    let top = std::fs::metadata(out.join("top.txt")).unwrap();
    assert_eq!(top.mode() & 0o777, 0o600);
    let deep = std::fs::metadata(out.join("sub/deep.txt")).unwrap();
    assert_eq!(deep.mtime(), 981173106);
}

#[test]
fn extract_archive_reads_an_uncompressed_tar_too() {
    let s = Sandbox::new();
    archive_fixture(&s);
    sh(&s.root(), "tar -C src -cf plain.tar top.txt");
    let r = s.run(ALL_BELOW, &script(&EXTRACT.replace("ARCHIVE", "plain.tar")));
    assert_eq!(r.ok(), "done");
    assert!(s.root().join("out/top.txt").is_file());
}

#[test]
fn extract_archive_asks_create_and_write_on_every_file_before_writing_any() {
    let s = Sandbox::new();
    archive_fixture(&s);
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"create", resource == file_system::File::"{ROOT}/out/sub/deep.txt");
"#;
    let r = s.run(policy, &script(&EXTRACT.replace("ARCHIVE", "a.tar.gz")));
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(
        r.message().contains(r#"Action::"create""#),
        "{}",
        r.message()
    );
    assert!(r.message().contains("out/sub/deep.txt"), "{}", r.message());
    // top.txt comes first in the archive, and was not written either.
    assert!(!s.root().join("out/top.txt").exists());
}

#[test]
fn extract_archive_needs_read_on_the_archive() {
    let s = Sandbox::new();
    archive_fixture(&s);
    let r = s.run(
        NO_GZ_READ,
        &script(
            r#"let out = DirConfig().path("{ROOT}/out").build().open(OpenDirOptions().build());
               let a = open(d, "a.tar.gz");
               a.extract_archive(out, ExtractArchiveOptions().build())"#,
        ),
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains(r#"Action::"read""#), "{}", r.message());
}

#[test]
fn extract_archive_refuses_entries_that_escape_the_destination() {
    let s = Sandbox::new();
    archive_fixture(&s);
    s.write("victim", "original\n");
    s.write("evil/payload", "pwned\n");
    let root = s.path("");
    // `../victim`, an absolute name, a symlink out, a hard link out.
    sh(
        &s.root(),
        &format!(
            "cd evil && tar -P --transform 's,^payload,../victim,' -cf ../dots.tar payload \
             && tar -P --transform 's,^payload,{root}/victim,' -cf ../abs.tar payload \
             && ln -s /etc/passwd link && tar -cf ../link.tar payload link \
             && tar -P --transform 's,^payload,../../victim,' -cf ../deeper.tar payload"
        ),
    );
    for archive in ["dots.tar", "abs.tar", "link.tar", "deeper.tar"] {
        let r = s.run(ALL_BELOW, &script(&EXTRACT.replace("ARCHIVE", archive)));
        assert_eq!(
            r.error_type(),
            "SCRIPT_EXCEPTION",
            "{archive}: {:#}",
            r.json
        );
        assert!(
            r.message().contains("refused"),
            "{archive}: {}",
            r.message()
        );
        assert_eq!(
            std::fs::read_to_string(s.path("victim")).unwrap(),
            "original\n"
        );
        assert!(
            !s.root().join("out/payload").exists(),
            "{archive}: nothing is written"
        );
    }
}

#[test]
fn extract_archive_does_not_write_through_a_symlink_in_the_destination() {
    let s = Sandbox::new();
    archive_fixture(&s);
    s.write("elsewhere/keep", "");
    std::os::unix::fs::symlink(s.root().join("elsewhere"), s.root().join("out/sub")).unwrap();
    let r = s.run(ALL_BELOW, &script(&EXTRACT.replace("ARCHIVE", "a.tar.gz")));
    assert!(r.message().contains("symlink"), "{:#}", r.json);
    assert!(!s.root().join("elsewhere/deep.txt").exists());
}

#[test]
fn extract_archive_refuses_a_bomb_beyond_its_expansion_limit() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.root().join("out")).unwrap();
    // 256 MiB of zeros (a sparse file: nothing on disk) compress about 1000 times.
    sh(
        &s.root(),
        "truncate -s 256M zeros && tar -cf - zeros | gzip -9 > bomb.tar.gz && rm zeros",
    );
    let r = s.run_with(
        ALL_BELOW,
        &script(&EXTRACT.replace("ARCHIVE", "bomb.tar.gz")),
        &["--timeout", "120s"],
    );
    assert!(r.message().contains("200 times"), "{}", r.message());
    assert_eq!(r.error_type(), "RESOURCE_LIMIT_EXCEEDED", "{:#}", r.json);
    assert!(!s.root().join("out/zeros").exists());
}

#[test]
fn elf_info_describes_a_dynamic_executable() {
    let s = Sandbox::new();
    let ls = std::fs::canonicalize("/bin/ls").unwrap();
    std::fs::copy(&ls, s.root().join("ls")).unwrap();
    s.write("text.txt", "not an elf\n");
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"let i = open(d, "ls").elf_info();
               let e = attempt(|| open(d, "text.txt").elf_info());
               #{ type: type_of(i), text: i.to_string(), is_64bit: i.is_64bit,
                  interpreter: i.interpreter, execfn: i.execfn, platform: i.platform,
                  map: i.to_map(), text_file: e }"#,
        ),
    );
    let out: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(
        out["type"],
        "rust_safe_io::file::unix::linux::elf_info::ElfInfo"
    );
    assert_eq!(
        out["text"],
        "rust_safe_io::file::unix::linux::elf_info::ElfInfo"
    );
    assert_eq!(out["is_64bit"], cfg!(target_pointer_width = "64"));
    let interp = out["interpreter"].as_str().unwrap();
    assert!(
        interp.contains("ld-linux") || interp.contains("ld-musl"),
        "{interp}"
    );
    assert_eq!(out["execfn"], serde_json::Value::Null);
    assert_eq!(out["platform"], serde_json::Value::Null);
    assert_eq!(out["map"]["interpreter"], interp);
    assert!(
        out["text_file"]
            .as_str()
            .unwrap()
            .starts_with("InvalidArguments: "),
        "{}",
        out["text_file"]
    );
}

#[test]
fn elf_info_and_extract_strings_need_read() {
    let s = Sandbox::new();
    std::fs::copy("/bin/ls", s.root().join("ls.gz")).unwrap();
    for call in ["elf_info()", "extract_strings()"] {
        let r = s.run(NO_GZ_READ, &script(&format!(r#"open(d, "ls.gz").{call}"#)));
        assert_eq!(
            r.error_type(),
            "ACCESS_DENIED_EXCEPTION",
            "{call}: {:#}",
            r.json
        );
        assert!(
            r.message().contains(r#"Action::"read""#),
            "{call}: {}",
            r.message()
        );
    }
}

#[test]
fn extract_strings_returns_printable_runs_of_four_or_more() {
    let s = Sandbox::new();
    std::fs::write(
        s.root().join("bin"),
        b"\x01abc\x02hello world\x00\x7f\tTAB\x03four\xffend",
    )
    .unwrap();
    let r = s.run(ALL_BELOW, &script(r#"open(d, "bin").extract_strings()"#));
    let out: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out, serde_json::json!(["hello world", "\tTAB", "four"]));
}

/// A root CA, an intermediate CA signed by it, a server certificate signed by the
/// intermediate, and an unrelated root, made with the openssl CLI.
fn cert_fixture(s: &Sandbox) {
    let ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
    s.write("ca.ext", ext);
    s.write(
        "leaf.ext",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:example.test\n",
    );
    sh(
        &s.root(),
        "set -e
         q() { \"$@\" >/dev/null 2>&1; }
         q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -days 30 -subj /CN=root -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
         q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -days 30 -subj /CN=other -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
         q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mid.key -out mid.csr -subj /CN=mid
         q openssl x509 -req -in mid.csr -CA root.pem -CAkey root.key -CAcreateserial -out mid.pem -days 30 -extfile ca.ext
         q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj /CN=example.test
         q openssl x509 -req -in leaf.csr -CA mid.pem -CAkey mid.key -CAcreateserial -out leaf.pem -days 30 -extfile leaf.ext
         q openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -out direct.pem -days 30 -extfile leaf.ext
         cat leaf.pem mid.pem > bundle.pem",
    );
}

#[test]
fn verify_cert_and_verify_cert_chain_accept_a_chain_to_the_root_and_refuse_others() {
    let s = Sandbox::new();
    cert_fixture(&s);
    let r = s.run(
        ALL_BELOW,
        &script(
            r#"fn check(f) { attempt(f).split(":")[0] }
               let root = open(d, "root.pem");
               #{
                 direct: check(|| open(d, "direct.pem").verify_cert(root)),
                 chain: check(|| open(d, "leaf.pem").verify_cert_chain(root, [open(d, "mid.pem")])),
                 bundle: check(|| open(d, "bundle.pem").verify_cert(root)),
                 missing_intermediate: check(|| open(d, "leaf.pem").verify_cert(root)),
                 wrong_root: check(|| open(d, "direct.pem").verify_cert(open(d, "other.pem"))),
                 not_pem: check(|| open(d, "ca.ext").verify_cert(root)),
                 result: open(d, "direct.pem").verify_cert(root),
               }"#,
        ),
    );
    let out: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(out["direct"], "ok");
    assert_eq!(out["chain"], "ok");
    assert_eq!(out["bundle"], "ok");
    assert_eq!(out["missing_intermediate"], "InvalidArguments");
    assert_eq!(out["wrong_root"], "InvalidArguments");
    assert_eq!(out["not_pem"], "InvalidArguments");
    assert_eq!(out["result"], serde_json::Value::Null);
}

#[test]
fn verify_cert_needs_read_on_each_certificate_file() {
    let s = Sandbox::new();
    cert_fixture(&s);
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"read", resource == file_system::File::"{ROOT}/mid.pem");
"#;
    let r = s.run(
        policy,
        &script(
            r#"let mid = open(d, "mid.pem");
               open(d, "leaf.pem").verify_cert_chain(open(d, "root.pem"), [mid])"#,
        ),
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains("mid.pem"), "{}", r.message());
}

/// A crashing program built with debug information, and its core dump, when the machine
/// has a compiler and lets a process dump core here; `None` otherwise.
fn core_fixture(s: &Sandbox) -> Option<()> {
    s.write(
        "crash.c",
        "int crash(int *p) { int local = 42; *p = local; return local; }\n\
         int main(void) { return crash(0); }\n",
    );
    sh(&s.root(), "cc -g -O0 -o crash crash.c");
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.starts_with('|') {
        return None;
    }
    let _ = Command::new("sh")
        .arg("-c")
        .arg("ulimit -c unlimited; ./crash; for c in core core.*; do [ -f \"$c\" ] && mv \"$c\" crash.core; done; true")
        .current_dir(s.root())
        .status();
    s.root().join("crash.core").is_file().then_some(())
}

const CORE_POLICY: &str = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
permit(principal, action in [file_system::Action::"open", file_system::Action::"execute"], resource in file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr");
"#;

#[test]
fn core_dump_backtrace_and_variables_come_from_gdb() {
    let s = Sandbox::new();
    if core_fixture(&s).is_none() || !Path::new("/usr/bin/gdb").exists() {
        // Without a dump or gdb, the same call must say what is missing, not crash.
        let r = s.run(
            CORE_POLICY,
            &script(r#"attempt(|| CoreDump("{ROOT}/crash", "{ROOT}/crash.core").backtrace())"#),
        );
        assert_ne!(r.ok(), "ok");
        return;
    }
    let r = s.run(
        CORE_POLICY,
        r#"let c = CoreDump("{ROOT}/crash", "{ROOT}/crash.core");
           let t = c.backtrace();
           let f = t.threads[0].frames;
           #{ type: type_of(t), thread_type: type_of(t.threads[0]), frame: type_of(f[0]),
              text: t.to_string(), dump: c.to_map(), pid: t.pid,
              names: f.map(|x| x.function_name), lines: f.map(|x| x.line_number),
              source: f[0].source, ip: f[1].instruction_ptr, number: f[1].frame_number,
              map: f[0].to_map(), id: t.threads[0].id,
              vars: c.get_variables(0, ["local", "nosuch", "p"]),
              in_thread: c.get_variables(1, 0, ["local"]) }"#,
    );
    let out: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(
        out["type"],
        "rust_safe_io::core_dump_analysis::TracedProcess"
    );
    assert_eq!(
        out["thread_type"],
        "rust_safe_io::core_dump_analysis::TracedThread"
    );
    assert_eq!(out["frame"], "rust_safe_io::core_dump_analysis::Frame");
    assert_eq!(
        out["text"],
        "rust_safe_io::core_dump_analysis::TracedProcess"
    );
    assert_eq!(out["dump"]["exe_path"], s.path("crash"));
    assert_eq!(out["dump"]["core_dump_path"], s.path("crash.core"));
    assert!(out["pid"].as_i64().unwrap() > 0, "{}", out["pid"]);
    assert_eq!(out["names"], serde_json::json!(["crash", "main"]));
    assert_eq!(out["lines"], serde_json::json!([1, 2]));
    assert_eq!(out["source"], "crash.c");
    assert!(out["ip"].as_str().unwrap().starts_with("0x"));
    assert_eq!(out["number"], 1);
    assert_eq!(out["map"]["function_name"], "crash");
    assert_eq!(out["id"], 1);
    assert_eq!(
        out["vars"],
        serde_json::json!({"local": "42", "p": "(int *) 0x0"})
    );
    assert_eq!(out["in_thread"], serde_json::json!({"local": "42"}));
}

#[test]
fn core_dump_needs_read_on_the_dump_and_execute_on_gdb_and_refuses_gdb_expressions() {
    let s = Sandbox::new();
    s.write("crash", "");
    s.write("crash.core", "");
    let no_core_read = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"read", resource == file_system::File::"{ROOT}/crash.core");
"#;
    let r = s.run(
        no_core_read,
        r#"CoreDump("{ROOT}/crash", "{ROOT}/crash.core").backtrace()"#,
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(r.message().contains(r#"Action::"read""#), "{}", r.message());
    let no_gdb = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"/usr");
"#;
    let r = s.run(
        no_gdb,
        r#"CoreDump("{ROOT}/crash", "{ROOT}/crash.core").backtrace()"#,
    );
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(
        r.message().contains(r#"Action::"execute""#),
        "{}",
        r.message()
    );
    assert!(
        r.message().contains(r#"File::"/usr/bin/gdb""#),
        "{}",
        r.message()
    );
    let r = s.run(
        CORE_POLICY,
        &script(r#"attempt(|| CoreDump("{ROOT}/crash", "{ROOT}/crash.core").get_variables(0, ["$_shell(\"id\")"]))"#),
    );
    assert!(r.ok().starts_with("InvalidArguments: "), "{}", r.output());
}
