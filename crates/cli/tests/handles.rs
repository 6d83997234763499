//! Rex's read-file sample runs unchanged: the handle API.

mod common;

use common::*;

const REX_SAMPLE: &str = r#"let dir_handle = DirConfig()
    .path(directory_path)
    .build()
    .open(OpenDirOptions().build());

let file_handle = dir_handle.open_file(
    file_name,
    OpenFileOptions().read(true).build(),
);

let content = file_handle.read();
info("Read " + content.len() + " bytes");
content
"#;

fn args(s: &Sandbox) -> String {
    s.write(
        "args.json",
        &format!(
            r#"{{"directory_path": {{"stringValue": "{}"}}, "file_name": {{"stringValue": "ascii"}}}}"#,
            s.path("misc")
        ),
    )
}

#[test]
fn rex_read_file_sample_runs_unchanged() {
    let s = Sandbox::new();
    s.write("misc/ascii", "abc\n");
    let policy = r#"
permit(principal, action in [file_system::Action::"open"], resource == file_system::Dir::"{ROOT}/misc");
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource == file_system::File::"{ROOT}/misc/ascii");
"#;
    let a = args(&s);
    let r = s.run_with(policy, REX_SAMPLE, &["--args", &a]);
    assert_eq!(r.ok(), "abc\n");
    assert_eq!(r.json["logs"][0]["attributes"]["message"], "Read 4 bytes");
}

#[test]
fn handle_api_is_gated_like_the_commands() {
    let s = Sandbox::new();
    s.write("misc/ascii", "abc\n");
    let policy = r#"permit(principal, action in [file_system::Action::"open"], resource in file_system::Dir::"{ROOT}/misc");"#;
    let a = args(&s);
    let r = s.run_with(policy, REX_SAMPLE, &["--args", &a]);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains(r#"Action::"read""#), "{}", r.message());
}
