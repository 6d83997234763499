//! Rex's handle API (`DirConfig`, `OpenFileOptions`, `RcFileHandle`, `RcDirHandle`,
//! `RcSymlinkHandle`, `DirEntry`, `Metadata`): each call does what Rex's does, on the
//! descriptor the handle holds, and only under the Cedar action Rex checks for it.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;
use serde_json::Value;

const ALL: &str = r#"permit(principal, action, resource in file_system::Dir::"{ROOT}");"#;

/// `let d = ...` opening the sandbox directory `rel`.
fn open(rel: &str) -> String {
    format!(r#"let d = DirConfig().path("{{ROOT}}/{rel}").build().open(OpenDirOptions().build());"#)
}

fn output(r: &Run) -> Value {
    assert_eq!(r.code, 0, "run failed: {:#}", r.json);
    // The output is the result as JSON text.
    let text = r.json["output"].as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The run was denied `action` (as Rex names it).
fn assert_denied(r: &Run, action: &str) {
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(r.error_type(), "ACCESS_DENIED_EXCEPTION", "{:#}", r.json);
    assert!(
        r.message().contains(&format!(r#"Action::"{action}""#)),
        "expected a denial of {action}: {}",
        r.message()
    );
}

#[test]
fn list_entries_gives_dir_entries_with_rex_types_getters_and_maps() {
    let s = Sandbox::new();
    s.write("d/a.txt", "hello\n");
    std::fs::create_dir(s.root().join("d/sub")).unwrap();
    std::os::unix::fs::symlink("a.txt", s.root().join("d/link")).unwrap();
    let inode = std::fs::metadata(s.root().join("d/a.txt")).unwrap().ino();
    let script = format!(
        r#"{}
        let es = d.list_entries();
        let e = es["a.txt"];
        let m = e.metadata();
        #{{
            keys: es.keys(),
            handle: type_of(d),
            entry: type_of(e),
            meta: type_of(m),
            map: e.to_map(),
            inode: e.inode,
            name: e.name,
            is_file: e.type() == EntryType::FILE,
            type_name: e.type().to_string(),
            sub_is_dir: es["sub"].type() == EntryType::DIR,
            link_type: es["link"].type().to_string(),
            size: m.file_size(),
            perms: m.permissions(),
            links: m.num_hardlinks(),
            owner: type_of(m.owner),
            link_target: es["link"].metadata().symlink_target(),
            file_target: m.symlink_target(),
            meta_map: m.to_map(),
            printed: e.to_string(),
        }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["keys"], serde_json::json!(["a.txt", "link", "sub"]));
    assert_eq!(out["handle"], "rust_safe_io::dir::common::RcDirHandle");
    assert_eq!(out["entry"], "rust_safe_io::dir_entry::DirEntry");
    assert_eq!(out["meta"], "rust_safe_io::dir_entry::Metadata");
    assert_eq!(
        out["map"],
        serde_json::json!({"inode": inode, "name": "a.txt", "type": "File"})
    );
    assert_eq!(out["inode"], inode);
    assert_eq!(out["name"], "a.txt");
    assert_eq!(out["is_file"], true);
    assert_eq!(out["type_name"], "File");
    assert_eq!(out["sub_is_dir"], true);
    assert_eq!(out["link_type"], "Symlink");
    assert_eq!(out["size"], 6);
    // The whole st_mode, as Rex gives it.
    let mode = std::fs::metadata(s.root().join("d/a.txt")).unwrap().mode();
    assert_eq!(out["perms"], mode);
    assert_eq!(out["links"], 1);
    assert_eq!(out["owner"], "rust_safe_io::Ownership");
    assert_eq!(out["link_target"], "a.txt");
    assert_eq!(out["file_target"], Value::Null);
    assert_eq!(out["printed"], "rust_safe_io::dir_entry::DirEntry");
    let map = out["meta_map"].as_object().unwrap();
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "allocated_size",
            "file_size",
            "last_modified_time",
            "num_hardlinks",
            "owner_group",
            "owner_user",
            "permissions",
            "symlink_target",
            "type"
        ]
    );
    assert_eq!(map["type"], "File");
    assert_eq!(map["file_size"], 6);
}

#[test]
fn list_entries_needs_read_on_the_directory() {
    let s = Sandbox::new();
    s.write("d/a.txt", "x");
    let policy = r#"permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");"#;
    let r = s.run(policy, &format!("{} d.list_entries()", open("d")));
    assert_denied(&r, "read");
}

#[test]
fn an_entry_opens_as_file_or_dir_and_reads() {
    let s = Sandbox::new();
    s.write("d/a.txt", "one\ntwo\n");
    s.write("d/sub/b.txt", "b\n");
    let script = format!(
        r#"{}
        let es = d.list_entries();
        let f = es["a.txt"].open_as_file(OpenFileOptions().read(true).build());
        let sub = es["sub"].open_as_dir(OpenDirOptions().build());
        #{{ text: f.read(), inner: sub.list_entries().keys(), kind: type_of(f) }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["text"], "one\ntwo\n");
    assert_eq!(out["inner"], serde_json::json!(["b.txt"]));
    assert_eq!(out["kind"], "rust_safe_io::file::common::RcFileHandle");
}

#[test]
fn read_lines_read_page_search_and_counts_select_as_rex_does() {
    let s = Sandbox::new();
    s.write("d/five.txt", "l1\nl2\nl3\nl4\nl5\n");
    let script = format!(
        r#"{}
        let f = d.open_file("five.txt", OpenFileOptions().read(true).build());
        let found = f.search("l[24]");
        let c = f.counts();
        #{{
            first2: f.read_lines(ReadLinesOptions().count(2).build()),
            from4: f.read_lines(ReadLinesOptions().start(4).build()),
            last2: f.read_lines(ReadLinesOptions().count(-2).build()),
            ending3: f.read_lines(ReadLinesOptions().count(-2).start(3).build()),
            two_from2: f.read_lines(ReadLinesOptions().count(2).start(2).build()),
            p1: f.read_page(ReadPageOptions().num_lines(2).build()),
            p2: f.read_page(ReadPageOptions().num_lines(2).build()),
            p3: f.read_page(ReadPageOptions().num_lines(2).build()),
            p4: f.read_page(ReadPageOptions().num_lines(2).build()),
            match_type: type_of(found[0]),
            matches: found.map(|m| [m.line_number, m.line_content]),
            count_type: type_of(c),
            counts: c.to_map(),
            lines: c.line_count,
        }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["first2"], serde_json::json!(["l1", "l2"]));
    assert_eq!(out["from4"], serde_json::json!(["l4", "l5"]));
    assert_eq!(out["last2"], serde_json::json!(["l4", "l5"]));
    assert_eq!(out["ending3"], serde_json::json!(["l2", "l3"]));
    assert_eq!(out["two_from2"], serde_json::json!(["l2", "l3"]));
    assert_eq!(out["p1"], serde_json::json!(["l1", "l2"]));
    assert_eq!(out["p2"], serde_json::json!(["l3", "l4"]));
    assert_eq!(out["p3"], serde_json::json!(["l5"]));
    assert_eq!(out["p4"], serde_json::json!([]));
    assert_eq!(out["match_type"], "rust_safe_io::file::search::Match");
    assert_eq!(out["matches"], serde_json::json!([[2, "l2"], [4, "l4"]]));
    assert_eq!(out["count_type"], "rust_safe_io::file::counts::WordCount");
    assert_eq!(
        out["counts"],
        serde_json::json!({"byte_count": 15, "line_count": 5, "word_count": 5})
    );
    assert_eq!(out["lines"], 5);
}

#[test]
fn read_lines_without_count_or_start_is_an_invalid_argument() {
    let s = Sandbox::new();
    s.write("d/a.txt", "x\n");
    let script = format!(
        r#"{} let f = d.open_file("a.txt", OpenFileOptions().read(true).build());
        let out = ""; try {{ f.read_lines(ReadLinesOptions().build()); out = "no error" }} catch (e) {{ out = e.message }}; out"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert!(out.as_str().unwrap().contains("count"), "{out}");
}

#[test]
fn open_file_creates_with_the_given_permissions_and_writes_in_place() {
    let s = Sandbox::new();
    std::fs::create_dir(s.root().join("d")).unwrap();
    let script = format!(
        r#"{}
        let f = d.open_file("new.txt", OpenFileOptions().create(true).write(true).read(true).permissions(0o600).build());
        let back = f.write("first version, long\n");
        f.write("second\n");
        let r = d.open_file("new.txt", OpenFileOptions().read(true).build());
        #{{ same: type_of(back), text: r.read() }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["same"], "rust_safe_io::file::common::RcFileHandle");
    // The second write replaced the content: nothing of the longer first one is left.
    assert_eq!(out["text"], "second\n");
    let mode = std::fs::metadata(s.root().join("d/new.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn write_options_preserve_ownership_false_is_honoured_or_refused_never_ignored() {
    let s = Sandbox::new();
    s.write("w/own.txt", "old\n");
    let theirs = s.write("w/theirs.txt", "old\n");
    // Another owner's file (the tests run as root, which may give it away).
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let script = format!(
        r#"{}
        let rw = OpenFileOptions().read(true).write(true).build();
        let own = d.open_file("own.txt", rw);
        own.write("mine\n", WriteOptions().preserve_ownership(false).build());
        let theirs = d.open_file("theirs.txt", rw);
        let refused = "written";
        try {{ theirs.write("lost\n", WriteOptions().preserve_ownership(false).build()); }}
        catch (e) {{ refused = `${{e.kind}}: ${{e.message}}`; }}
        let after_refusal = theirs.read();
        theirs.write("kept\n", WriteOptions().build());
        #{{ own: own.read(), refused: refused, after_refusal: after_refusal, theirs: theirs.read() }}"#,
        open("w")
    );
    let out = output(&s.run(ALL, &script));
    // The runner's own file: in place is what Rex's new file would be.
    assert_eq!(out["own"], "mine\n");
    let refused = out["refused"].as_str().unwrap();
    assert!(
        refused.starts_with("InvalidArguments") && refused.contains("preserve_ownership(false)"),
        "{refused}"
    );
    assert_eq!(out["after_refusal"], "old\n", "nothing was written");
    // The default keeps the owner, as Rex's does.
    assert_eq!(out["theirs"], "kept\n");
    let m = std::fs::metadata(&theirs).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
}

#[test]
fn a_file_disk_usage_is_one_entry_whatever_the_walk_options_and_sized_by_apparent_size() {
    let s = Sandbox::new();
    s.write("u/a.txt", "hello world\n");
    let script = format!(
        r#"{}
        let f = d.open_file("a.txt", OpenFileOptions().read(true).build());
        let bad = "accepted";
        try {{ f.disk_usage(DiskUsageOptions().max_depth(-1).build()); }}
        catch (e) {{ bad = `${{e.kind}}: ${{e.message}}`; }}
        #{{ plain: f.disk_usage(DiskUsageOptions().build()).to_map(),
            walk: f.disk_usage(DiskUsageOptions().summarize(true).max_depth(0).count_hard_links(true)
                .one_file_system(true).track_largest_subdir(true).build()).to_map(),
            all_files: f.disk_usage(DiskUsageOptions().all_files(true).build()).to_map(),
            apparent: f.disk_usage(DiskUsageOptions().apparent_size(true).build()).to_map(),
            bad: bad }}"#,
        open("u")
    );
    let out = output(&s.run(ALL, &script));
    let m = std::fs::metadata(s.root().join("u/a.txt")).unwrap();
    let path = s.path("u/a.txt");
    // As Rex (and `du FILE`): the file itself, its blocks, one inode.
    let on_disk =
        serde_json::json!({"path": path, "size_bytes": m.blocks() * 512, "inode_count": 1});
    assert_eq!(out["plain"], on_disk);
    assert_eq!(out["walk"], on_disk);
    assert_eq!(out["all_files"], on_disk);
    assert_eq!(
        out["apparent"],
        serde_json::json!({"path": path, "size_bytes": 12, "inode_count": 1})
    );
    let bad = out["bad"].as_str().unwrap();
    assert!(
        bad.starts_with("InvalidArguments") && bad.contains("max_depth must be 0 or more"),
        "{bad}"
    );
}

#[test]
fn an_entry_refuses_to_follow_a_symlink_rather_than_ignore_follow_symlinks() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.root().join("e/real")).unwrap();
    std::os::unix::fs::symlink("real", s.root().join("e/link")).unwrap();
    let script = format!(
        r#"{}
        let entries = d.list_entries();
        let follow = "opened";
        try {{ entries["link"].open_as_dir(OpenDirOptions().follow_symlinks(true).build()); }}
        catch (e) {{ follow = `${{e.kind}}: ${{e.message}}`; }}
        // A directory entry: the options have nothing to do, and it opens.
        let real = entries["real"].open_as_dir(OpenDirOptions().create(true).recursive(true).follow_symlinks(true).build());
        #{{ follow: follow, real: type_of(real) }}"#,
        open("e")
    );
    let out = output(&s.run(ALL, &script));
    let follow = out["follow"].as_str().unwrap();
    assert!(
        follow.starts_with("InvalidArguments")
            && follow.contains("follow_symlinks(true) is not supported"),
        "{follow}"
    );
    assert_eq!(out["real"], "rust_safe_io::dir::common::RcDirHandle");
}

#[test]
fn an_selinux_context_part_may_not_hold_the_separator() {
    let s = Sandbox::new();
    s.write("x/a.txt", "a\n");
    let script = format!(
        r#"{}
        let f = d.open_file("a.txt", OpenFileOptions().write(true).build());
        let o = SetXAttrOptions().name("security.selinux").selinux_user("system_u").selinux_role("object_r")
            .selinux_type("tmp_t:s0:extra").selinux_level("s0").build();
        let r = "set";
        try {{ f.set_extended_attr(o); }} catch (e) {{ r = `${{e.kind}}: ${{e.message}}`; }}
        r"#,
        open("x")
    );
    let r = s.run(ALL, &script);
    let out = r.ok();
    assert!(
        out.starts_with("InvalidArguments") && out.contains("':'"),
        "{out}"
    );
}

#[test]
fn creating_a_file_needs_create_and_writing_needs_write() {
    let s = Sandbox::new();
    s.write("d/a.txt", "keep\n");
    let no_create = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"write"], resource in file_system::Dir::"{ROOT}");"#;
    let script = format!(
        r#"{} d.open_file("new.txt", OpenFileOptions().create(true).write(true).build())"#,
        open("d")
    );
    assert_denied(&s.run(no_create, &script), "create");
    assert!(!s.root().join("d/new.txt").exists());

    let no_write = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}");"#;
    let script = format!(
        r#"{} d.open_file("a.txt", OpenFileOptions().write(true).build()).write("gone")"#,
        open("d")
    );
    assert_denied(&s.run(no_write, &script), "write");
    assert_eq!(
        std::fs::read_to_string(s.root().join("d/a.txt")).unwrap(),
        "keep\n"
    );
}

#[test]
fn a_handle_opened_without_write_cannot_write() {
    let s = Sandbox::new();
    s.write("d/a.txt", "keep\n");
    let script = format!(
        r#"{} let f = d.open_file("a.txt", OpenFileOptions().read(true).build());
        let out = ""; try {{ f.write("gone"); out = "written" }} catch (e) {{ out = e.message }}; out"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert!(out.as_str().unwrap().contains("write(true)"), "{out}");
    assert_eq!(
        std::fs::read_to_string(s.root().join("d/a.txt")).unwrap(),
        "keep\n"
    );
}

#[test]
fn truncate_fallocate_chmod_and_metadata_act_on_the_held_file() {
    let s = Sandbox::new();
    s.write("d/a.txt", "0123456789");
    let script = format!(
        r#"{}
        let f = d.open_file("a.txt", OpenFileOptions().read(true).write(true).build());
        f.truncate(TruncateOptions().size(4).build());
        let after_truncate = f.read();
        f.fallocate(FallocateOptions().length(1).format(SizeUnit::KIBIBYTES).build());
        f.chmod(0o640);
        let m = f.metadata();
        #{{ text: after_truncate, size: m.file_size(), perms: m.permissions() % 0o1000,
           nanos: f.get_last_modified_time() > 0, owner: f.get_ownership().user == m.owner.user,
           blocks: m.blocks() * 512 == m.allocated_size() }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["text"], "0123");
    assert_eq!(out["size"], 1024);
    assert_eq!(out["perms"], 0o640);
    assert_eq!(out["nanos"], true);
    assert_eq!(out["owner"], true);
    assert_eq!(out["blocks"], true);
}

#[test]
fn chmod_and_truncate_are_denied_without_their_actions() {
    let s = Sandbox::new();
    s.write("d/a.txt", "0123456789");
    let policy = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"write"], resource in file_system::Dir::"{ROOT}");"#;
    let chmod = format!(
        r#"{} d.open_file("a.txt", OpenFileOptions().read(true).build()).chmod(0o777)"#,
        open("d")
    );
    assert_denied(&s.run(policy, &chmod), "chmod");
    let stat = format!(
        r#"{} d.open_file("a.txt", OpenFileOptions().read(true).build()).metadata()"#,
        open("d")
    );
    assert_denied(&s.run(policy, &stat), "stat");
    let mode = std::fs::metadata(s.root().join("d/a.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o777, 0o777);
}

#[test]
fn copy_move_and_delete_go_through_the_handles() {
    let s = Sandbox::new();
    s.write("d/src.txt", "payload\n");
    s.write("d/full.txt", "occupied\n");
    std::fs::create_dir(s.root().join("e")).unwrap();
    let script = format!(
        r#"{}
        let e = DirConfig().path("{{ROOT}}/e").build().open(OpenDirOptions().build());
        let src = d.open_file("src.txt", OpenFileOptions().read(true).build());
        let dst = e.open_file("copy.txt", OpenFileOptions().create(true).write(true).build());
        src.copy(dst, CopyFileOptions().build());
        let full = d.open_file("full.txt", OpenFileOptions().write(true).build());
        let refused = ""; try {{ src.copy(full, CopyFileOptions().build()); refused = "copied" }} catch (err) {{ refused = "refused" }};
        let moved = src.move(e, "moved.txt", MoveOptions().build());
        full.delete(DeleteFileOptions().build());
        #{{ refused: refused, moved: type_of(moved) }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["refused"], "refused");
    assert_eq!(out["moved"], "rust_safe_io::file::common::RcFileHandle");
    let root = s.root();
    assert_eq!(
        std::fs::read_to_string(root.join("e/copy.txt")).unwrap(),
        "payload\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("e/moved.txt")).unwrap(),
        "payload\n"
    );
    assert!(!root.join("d/src.txt").exists());
    assert!(!root.join("d/full.txt").exists());
}

#[test]
fn move_needs_move_on_the_file_and_delete_needs_delete() {
    let s = Sandbox::new();
    s.write("d/a.txt", "x");
    let policy = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"create"], resource in file_system::Dir::"{ROOT}");"#;
    let mv = format!(
        r#"{} d.open_file("a.txt", OpenFileOptions().read(true).build()).move(d, "b.txt", MoveOptions().build())"#,
        open("d")
    );
    assert_denied(&s.run(policy, &mv), "move");
    let rm = format!(
        r#"{} d.open_file("a.txt", OpenFileOptions().read(true).build()).delete(DeleteFileOptions().build())"#,
        open("d")
    );
    assert_denied(&s.run(policy, &rm), "delete");
    assert!(s.root().join("d/a.txt").exists());
}

#[test]
fn a_file_handle_deletes_only_the_file_it_holds() {
    let s = Sandbox::new();
    s.write("d/a.txt", "original");
    let script = format!(
        r#"{} let f = d.open_file("a.txt", OpenFileOptions().read(true).build());
        d.open_file("a.txt", OpenFileOptions().read(true).build()).move(d, "kept.txt", MoveOptions().build());
        d.open_file("a.txt", OpenFileOptions().create(true).write(true).build());
        let out = ""; try {{ f.delete(DeleteFileOptions().build()); out = "deleted" }} catch (e) {{ out = "refused" }}; out"#,
        open("d")
    );
    assert_eq!(output(&s.run(ALL, &script)), "refused");
    assert!(s.root().join("d/a.txt").exists());
    assert!(s.root().join("d/kept.txt").exists());
}

#[test]
fn symlinks_are_made_read_and_followed_only_when_asked_and_permitted() {
    let s = Sandbox::new();
    s.write("d/target.txt", "through the link\n");
    s.write("secret/s.txt", "secret\n");
    std::os::unix::fs::symlink(s.path("secret/s.txt"), s.root().join("d/out")).unwrap();
    let script = format!(
        r#"{}
        d.create_symlink("target.txt", "link", CreateSymlinkOptions().build());
        let sl = d.open_symlink("link");
        let m = sl.metadata();
        let unfollowed = ""; try {{ d.open_file("link", OpenFileOptions().read(true).build()); unfollowed = "opened" }} catch (e) {{ unfollowed = "refused" }};
        let followed = d.open_file("link", OpenFileOptions().read(true).follow_symlinks(true).build()).read();
        #{{ target: d.read_link_target("link"), kind: type_of(sl), meta_target: m.symlink_target(),
           is_link: m.type() == EntryType::SYMLINK, unfollowed: unfollowed, followed: followed }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["target"], "target.txt");
    assert_eq!(
        out["kind"],
        "rust_safe_io::symlink::common::RcSymlinkHandle"
    );
    assert_eq!(out["meta_target"], "target.txt");
    assert_eq!(out["is_link"], true);
    assert_eq!(out["unfollowed"], "refused");
    assert_eq!(out["followed"], "through the link\n");

    // The link is permitted, its target is not: following it is denied.
    let policy = r#"permit(principal, action, resource in file_system::Dir::"{ROOT}/d");"#;
    let script = format!(
        r#"{} d.open_file("out", OpenFileOptions().read(true).follow_symlinks(true).build()).read()"#,
        open("d")
    );
    let r = s.run(policy, &script);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("secret"), "{}", r.message());
}

#[test]
fn create_symlink_needs_create() {
    let s = Sandbox::new();
    std::fs::create_dir(s.root().join("d")).unwrap();
    let policy = r#"permit(principal, action == file_system::Action::"open", resource in file_system::Dir::"{ROOT}");"#;
    let script = format!(
        r#"{} d.create_symlink("/etc/passwd", "l", CreateSymlinkOptions().build())"#,
        open("d")
    );
    assert_denied(&s.run(policy, &script), "create");
    assert!(std::fs::symlink_metadata(s.root().join("d/l")).is_err());
}

#[test]
fn open_dir_with_create_makes_it_and_delete_removes_it() {
    let s = Sandbox::new();
    let script = r#"
        let d = DirConfig().path("{ROOT}/a/b").build().open(OpenDirOptions().create(true).recursive(true).build());
        let m = d.metadata();
        let kind = m.type().to_string();
        d.open_file("f", OpenFileOptions().create(true).write(true).build());
        let refused = ""; try { d.delete(DeleteDirOptions().build()); refused = "deleted" } catch (e) { refused = "refused" };
        d.delete(DeleteDirOptions().recursive(true).build());
        #{ kind: kind, refused: refused }"#;
    let out = output(&s.run(ALL, script));
    assert_eq!(out["kind"], "Dir");
    assert_eq!(out["refused"], "refused");
    assert!(!s.root().join("a/b").exists());
    assert!(s.root().join("a").exists());
}

#[test]
fn a_recursive_dir_delete_checks_every_entry_before_removing_any() {
    let s = Sandbox::new();
    s.write("d/keep/protected.txt", "x");
    s.write("d/other.txt", "y");
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"delete", resource == file_system::File::"{ROOT}/d/keep/protected.txt");
"#;
    let script = format!(
        "{} d.delete(DeleteDirOptions().recursive(true).build())",
        open("d")
    );
    assert_denied(&s.run(policy, &script), "delete");
    assert!(s.root().join("d/keep/protected.txt").exists());
    assert!(s.root().join("d/other.txt").exists());
}

#[test]
fn dir_chmod_recursive_changes_every_entry_under_chmod() {
    let s = Sandbox::new();
    s.write("d/sub/f.txt", "x");
    let script = format!(
        "{} d.chmod(ChmodDirOptions().permissions(0o750).recursive(true).build())",
        open("d")
    );
    output(&s.run(ALL, &script));
    for rel in ["d", "d/sub", "d/sub/f.txt"] {
        let mode = std::fs::metadata(s.root().join(rel))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750, "{rel}");
    }
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"chmod", resource == file_system::File::"{ROOT}/d/sub/f.txt");
"#;
    let script = format!(
        "{} d.chmod(ChmodDirOptions().permissions(0o700).recursive(true).build())",
        open("d")
    );
    assert_denied(&s.run(policy, &script), "chmod");
}

#[test]
fn set_ownership_to_the_current_owner_needs_chown() {
    let s = Sandbox::new();
    s.write("d/a.txt", "x");
    let script = format!(
        r#"{} let f = d.open_file("a.txt", OpenFileOptions().read(true).build());
        let me = f.get_ownership();
        f.set_ownership(SetOwnershipOptions().user(me.user).group(me.group).build());
        me.user"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert!(out.as_str().is_some_and(|u| !u.is_empty()), "{out}");
    let policy = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat"], resource in file_system::Dir::"{ROOT}");"#;
    assert_denied(&s.run(policy, &script), "chown");
}

#[test]
fn find_calls_back_with_each_selected_entry() {
    let s = Sandbox::new();
    s.write("d/a.log", "1");
    s.write("d/b.txt", "22");
    s.write("d/sub/c.log", "333");
    let script = format!(
        r#"{} let found = [];
        d.find(FindOptions().name("*.log").build(), |e| found.push(e.name));
        let big = [];
        d.find(FindOptions().size_range(SizeRange::min_only(2, SizeUnit::BYTES)).build(), |e| if e.type() == EntryType::FILE {{ big.push(e.name) }});
        #{{ logs: found, big: big }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["logs"], serde_json::json!(["a.log", "sub/c.log"]));
    assert_eq!(out["big"], serde_json::json!(["b.txt", "sub/c.log"]));
}

#[test]
fn replace_text_replaces_the_first_or_every_match() {
    let s = Sandbox::new();
    let script = r#"#{
        first: replace_text("a-a-a", "a", "b", ReplacementOptions().build()),
        all: replace_text("a-a-a", "a", "b", ReplacementOptions().replace_all(true).build()),
        regex: replace_text("x1 y22", "[0-9]+", "N", ReplacementOptions().is_regex(true).replace_all(true).build()),
    }"#;
    let out = output(&s.run(ALL, script));
    assert_eq!(out["first"], "b-a-a");
    assert_eq!(out["all"], "b-b-b");
    assert_eq!(out["regex"], "xN yN");
}

#[test]
fn builders_carry_rex_type_names() {
    let s = Sandbox::new();
    let script = r#"[type_of(OpenFileOptions()), type_of(OpenFileOptions().build()),
        type_of(DirConfig()), type_of(DirConfig().path("/").build()),
        type_of(FallocateOptions()), type_of(TruncateOptions().build()), type_of(SizeUnit::BYTES)]"#;
    let out = output(&s.run(ALL, script));
    assert_eq!(
        out,
        serde_json::json!([
            "rust_safe_io::options::OpenFileOptionsBuilder",
            "rust_safe_io::options::OpenFileOptions",
            "rust_safe_io::dir::open_dir::DirConfigBuilder",
            "rust_safe_io::dir::open_dir::DirConfig",
            "rust_safe_io::options::DiskAllocationOptionsBuilder",
            "rust_safe_io::file::unix::linux::truncate::TruncateOptions",
            "rust_safe_io::options::SizeUnit"
        ])
    );
}

/// The apparent size (`st_size`) of a path in the sandbox, as `apparent_size(true)` counts it.
fn apparent(s: &Sandbox, rel: &str) -> i64 {
    std::fs::symlink_metadata(s.root().join(rel)).unwrap().len() as i64
}

/// `d/a/f1`, `d/a/b/f2`, `d/c/f3`, and `d/c/hard`, a second link to `d/a/f1`.
fn du_tree(s: &Sandbox) {
    s.write("d/a/f1", &"x".repeat(10_000));
    s.write("d/a/b/f2", &"y".repeat(50_000));
    s.write("d/c/f3", "hi\n");
    std::fs::hard_link(s.root().join("d/a/f1"), s.root().join("d/c/hard")).unwrap();
}

#[test]
fn dir_disk_usage_gives_a_disk_usage_result_with_entries_and_the_largest_subdir() {
    let s = Sandbox::new();
    du_tree(&s);
    let script = format!(
        r#"{}
        let r = d.disk_usage(DiskUsageOptions().all_files(true).apparent_size(true).track_largest_subdir(true).build());
        let e = r.entries[0];
        let big = r.largest_subdir_handle;
        #{{
            result: type_of(r),
            printed: r.to_string(),
            entry: type_of(e),
            entries: r.entries.map(|e| [e.path, e.size_bytes, e.inode_count]),
            map: r.to_map().entries,
            largest: type_of(big),
            largest_holds: big.list_entries().keys(),
        }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    let t = "rust_safe_io::dir::unix::disk_usage::";
    assert_eq!(out["result"], format!("{t}DiskUsageResult"));
    assert_eq!(out["printed"], format!("{t}DiskUsageResult"));
    assert_eq!(out["entry"], format!("{t}DiskUsageEntry"));
    let root = s.root().display().to_string();
    let size = |rel: &str| apparent(&s, rel);
    let b = size("d/a/b") + 50_000;
    let a = size("d/a") + 10_000 + b;
    // The second link to f1 is counted once, where it is met first (under a), and not listed.
    let c = size("d/c") + 3;
    let d = size("d") + a + c;
    let expected = serde_json::json!([
        [format!("{root}/d/a/b/f2"), 50_000, 1],
        [format!("{root}/d/a/b"), b, 2],
        [format!("{root}/d/a/f1"), 10_000, 1],
        [format!("{root}/d/a"), a, 4],
        [format!("{root}/d/c/f3"), 3, 1],
        [format!("{root}/d/c"), c, 2],
        [format!("{root}/d"), d, 7],
    ]);
    assert_eq!(out["entries"], expected);
    assert_eq!(
        out["map"][1],
        serde_json::json!({"path": format!("{root}/d/a/b"), "size_bytes": b, "inode_count": 2})
    );
    assert_eq!(out["largest"], "rust_safe_io::dir::common::RcDirHandle");
    assert_eq!(out["largest_holds"], serde_json::json!(["b", "f1"]));
}

#[test]
fn dir_disk_usage_honours_summarize_max_depth_and_count_hard_links() {
    let s = Sandbox::new();
    du_tree(&s);
    let script = format!(
        r#"{}
        let o = || DiskUsageOptions().apparent_size(true);
        let paths = |r| r.entries.map(|e| e.path);
        let refused = ""; try {{ DiskUsageOptions().summarize(true).all_files(true).build(); }} catch (e) {{ refused = e.kind.to_string() }};
        let negative = ""; try {{ d.disk_usage(o.call().max_depth(-1).build()); }} catch (e) {{ negative = e.kind.to_string() }};
        let summary = d.disk_usage(o.call().summarize(true).track_largest_subdir(true).build());
        #{{
            summary: paths.call(summary),
            no_largest: type_of(summary.largest_subdir_handle),
            untracked: type_of(d.disk_usage(o.call().build()).largest_subdir_handle),
            depth1: paths.call(d.disk_usage(o.call().max_depth(1).build())),
            c_each_link: d.disk_usage(o.call().count_hard_links(true).max_depth(1).build()).entries[1].size_bytes,
            c_once: d.disk_usage(o.call().max_depth(1).build()).entries[1].size_bytes,
            same_fs: d.disk_usage(o.call().one_file_system(true).build()).entries.len(),
            refused: refused,
            negative: negative,
        }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    let root = s.root().display().to_string();
    assert_eq!(out["summary"], serde_json::json!([format!("{root}/d")]));
    assert_eq!(out["no_largest"], "()");
    assert_eq!(out["untracked"], "()");
    assert_eq!(
        out["depth1"],
        serde_json::json!([
            format!("{root}/d/a"),
            format!("{root}/d/c"),
            format!("{root}/d")
        ])
    );
    assert_eq!(
        out["c_each_link"].as_i64().unwrap() - out["c_once"].as_i64().unwrap(),
        10_000
    );
    // All of the tree is on one file system: nothing is left out.
    assert_eq!(out["same_fs"], 4);
    assert_eq!(out["refused"], "InvalidArguments");
    assert_eq!(out["negative"], "InvalidArguments");
}

#[test]
fn dir_disk_usage_needs_read_on_each_directory_it_walks() {
    let s = Sandbox::new();
    du_tree(&s);
    let policy = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"read", resource == file_system::Dir::"{ROOT}/d/c");
"#;
    let script = format!("{} d.disk_usage(DiskUsageOptions().build())", open("d"));
    assert_denied(&s.run(policy, &script), "read");
    let stat = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"{ROOT}");"#;
    assert_denied(&s.run(stat, &script), "stat");
}

/// `p`, `src` (`p/src`, holding `sub/f`) and `dest` opened.
fn move_handles() -> String {
    format!(
        r#"{}
        let p = DirConfig().path("{{ROOT}}/p").build().open(OpenDirOptions().build());
        let src = DirConfig().path("{{ROOT}}/p/src").build().open(OpenDirOptions().build());
        let dest = DirConfig().path("{{ROOT}}/dest").build().open(OpenDirOptions().build());"#,
        open("")
    )
}

fn move_tree(s: &Sandbox) {
    s.write("p/src/sub/f", "payload");
    std::fs::create_dir(s.root().join("dest")).unwrap();
}

#[test]
fn dir_move_renames_the_held_directory_and_returns_it_opened_at_its_new_place() {
    let s = Sandbox::new();
    move_tree(&s);
    let script = format!(
        r#"{}
        let moved = p.move(src, dest, "new", MoveOptions().verbose(true).build());
        #{{ moved: type_of(moved), holds: moved.list_entries().keys() }}"#,
        move_handles()
    );
    let r = s.run(ALL, &script);
    let out = output(&r);
    assert_eq!(out["moved"], "rust_safe_io::dir::common::RcDirHandle");
    assert_eq!(out["holds"], serde_json::json!(["sub"]));
    let root = s.root();
    assert_eq!(
        std::fs::read_to_string(root.join("dest/new/sub/f")).unwrap(),
        "payload"
    );
    assert!(!root.join("p/src").exists());
    let logged = r.json["logs"].to_string();
    assert!(
        logged.contains(&format!(
            "Moved from '{}/p/src' to '{}/dest/new'",
            root.display(),
            root.display()
        )),
        "{logged}"
    );
}

#[test]
fn dir_move_replaces_an_empty_directory_and_moves_into_a_full_one_as_rex_does() {
    let s = Sandbox::new();
    move_tree(&s);
    s.write("p/other/g", "other");
    std::fs::create_dir(s.root().join("dest/empty")).unwrap();
    s.write("dest/full/x", "x");
    let script = format!(
        r#"{}
        p.move(src, dest, "empty", MoveOptions().build());
        let other = DirConfig().path("{{ROOT}}/p/other").build().open(OpenDirOptions().build());
        p.move(other, dest, "full", MoveOptions().build()).list_entries().keys()"#,
        move_handles()
    );
    assert_eq!(output(&s.run(ALL, &script)), serde_json::json!(["g"]));
    let root = s.root();
    assert!(root.join("dest/empty/sub/f").exists());
    assert!(root.join("dest/full/other/g").exists());
    assert!(root.join("dest/full/x").exists());
}

#[test]
fn dir_move_needs_move_on_every_entry_below_it_and_create_at_the_destination() {
    let s = Sandbox::new();
    move_tree(&s);
    let script = format!(
        r#"{} p.move(src, dest, "new", MoveOptions().build())"#,
        move_handles()
    );
    let below = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"move", resource == file_system::File::"{ROOT}/p/src/sub/f");
"#;
    assert_denied(&s.run(below, &script), "move");
    let elsewhere = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"move", resource)
  when { context.destination.parent_path == "{ROOT}/dest" && context.destination.name == "new" };
"#;
    assert_denied(&s.run(elsewhere, &script), "move");
    let no_create = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"create", resource == file_system::Dir::"{ROOT}/dest/new");
"#;
    assert_denied(&s.run(no_create, &script), "create");
    assert!(s.root().join("p/src/sub/f").exists());
    assert!(!s.root().join("dest/new").exists());
}

#[test]
fn dir_move_refuses_when_the_name_no_longer_holds_the_opened_directory() {
    let s = Sandbox::new();
    move_tree(&s);
    let script = format!(
        r#"{}
        p.move(src, p, "renamed", MoveOptions().build());
        DirConfig().path("{{ROOT}}/p/src").build().open(OpenDirOptions().create(true).build());
        let out = ""; try {{ p.move(src, dest, "new", MoveOptions().build()); out = "moved" }} catch (e) {{ out = e.kind.to_string() }}; out"#,
        move_handles()
    );
    assert_eq!(output(&s.run(ALL, &script)), "InvalidArguments");
    assert!(s.root().join("p/renamed/sub/f").exists());
    assert!(s.root().join("p/src").exists());
    assert!(!s.root().join("dest/new").exists());
}

#[test]
fn move_with_backup_keeps_what_was_at_the_destination_as_name_tilde() {
    let s = Sandbox::new();
    s.write("d/a.txt", "new");
    s.write("d/b.txt", "old");
    s.write("d/c.txt", "c");
    let script = format!(
        r#"{}
        let f = d.open_file("a.txt", OpenFileOptions().read(true).build());
        let moved = f.move(d, "b.txt", MoveOptions().backup(true).build());
        let g = d.open_file("c.txt", OpenFileOptions().read(true).build());
        let refused = ""; try {{ g.move(d, "b.txt", MoveOptions().build()); }} catch (e) {{ refused = e.kind.to_string() }};
        #{{ read: moved.read(), refused: refused }}"#,
        open("d")
    );
    let out = output(&s.run(ALL, &script));
    assert_eq!(out["read"], "new");
    assert_eq!(out["refused"], "InvalidArguments");
    let root = s.root();
    assert_eq!(
        std::fs::read_to_string(root.join("d/b.txt")).unwrap(),
        "new"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("d/b.txt~")).unwrap(),
        "old"
    );
    assert!(!root.join("d/a.txt").exists());
    assert!(root.join("d/c.txt").exists());
    let deny_backup = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"create", resource == file_system::File::"{ROOT}/d/b.txt~");
"#;
    std::fs::remove_file(root.join("d/b.txt~")).unwrap();
    let again = format!(
        r#"{} d.open_file("c.txt", OpenFileOptions().read(true).build()).move(d, "b.txt", MoveOptions().backup(true).build())"#,
        open("d")
    );
    assert_denied(&s.run(deny_backup, &again), "create");
    assert_eq!(
        std::fs::read_to_string(root.join("d/b.txt")).unwrap(),
        "new"
    );
}

/// `let names = []; d.find(OPTIONS, |e| names.push(e.name));` and `names`, as JSON text.
fn find_names(options: &str) -> String {
    format!(r#"let names = []; d.find({options}, |e| names.push(e.name)); names"#)
}

#[test]
fn find_walks_the_directory_the_handle_holds_not_what_is_at_its_path_now() {
    let s = Sandbox::new();
    s.write("d/held.txt", "h");
    s.write("d/sub/deep.txt", "dd");
    let script = format!(
        r#"{}
        let top = DirConfig().path("{{ROOT}}").build().open(OpenDirOptions().build());
        let again = DirConfig().path("{{ROOT}}/d").build().open(OpenDirOptions().build());
        top.move(again, top, "moved", MoveOptions().build());
        mkdir("{{ROOT}}/d");
        mkdir("{{ROOT}}/d/sub");
        write("{{ROOT}}/d/impostor.txt", "i");
        write("{{ROOT}}/d/sub/impostor.txt", "i");
        {}"#,
        open("d"),
        find_names("FindOptions().build()")
    );
    let out = output(&s.run(ALL, &script));
    // The opened directory (now at `moved`), with the subdirectory below it, not the one
    // that took its name.
    assert_eq!(out, serde_json::json!(["held.txt", "sub", "sub/deep.txt"]));
    assert!(s.root().join("d/impostor.txt").exists());
    assert!(s.root().join("moved/sub/deep.txt").exists());
}

#[test]
fn find_with_a_size_filter_asks_stat_of_each_entry() {
    let s = Sandbox::new();
    s.write("d/a.log", "1");
    s.write("d/b.txt", "22");
    let no_stat_on_b = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"stat", resource == file_system::File::"{ROOT}/d/b.txt");
"#;
    let sized = format!(
        "{} {}",
        open("d"),
        find_names("FindOptions().size_range(SizeRange::min_only(1, SizeUnit::BYTES)).build()")
    );
    assert_denied(&s.run(no_stat_on_b, &sized), "stat");
    // As in Rex, every entry is measured when a size or time filter is set, whatever its
    // name: a name filter that b.txt fails does not spare its stat.
    let named = format!(
        "{} {}",
        open("d"),
        find_names(
            r#"FindOptions().name("*.log").max_modification_time(DateTime(9999, 12, 31, 23, 59, 59, 0)).build()"#
        )
    );
    assert_denied(&s.run(no_stat_on_b, &named), "stat");
    // Without a size or time filter nothing is asked of an entry.
    let plain = format!("{} {}", open("d"), find_names("FindOptions().build()"));
    assert_eq!(
        output(&s.run(no_stat_on_b, &plain)),
        serde_json::json!(["a.log", "b.txt"])
    );
    // The size read under the permit: only b.txt has 2 bytes or more.
    let big = format!(
        "{} {}",
        open("d"),
        find_names("FindOptions().size_range(SizeRange::min_only(2, SizeUnit::BYTES)).build()")
    );
    assert_eq!(output(&s.run(ALL, &big)), serde_json::json!(["b.txt"]));
}

/// `DateTime(y, m, d, h, mi, s, nanos)` of `seconds` after the epoch (UTC).
fn date_time(seconds: i64, nanos: u32) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "DateTime({year}, {month}, {day}, {}, {}, {}, {nanos})",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The second of a file's inode change time (`st_ctime`), which Rex's "creation time"
/// filters compare.
fn change_second(path: &std::path::Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ctime()
}

#[test]
fn find_selects_by_creation_time_inclusively_in_whole_seconds() {
    let s = Sandbox::new();
    s.write("d/older.txt", "o");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.write("d/newer.txt", "n");
    let older = change_second(&s.root().join("d/older.txt"));
    let newer = change_second(&s.root().join("d/newer.txt"));
    assert!(older < newer);
    let find = |options: String| {
        let script = format!("{} {}", open("d"), find_names(&options));
        output(&s.run(ALL, &script))
    };
    let between = |min: String, max: String| {
        format!("FindOptions().min_creation_time({min}).max_creation_time({max}).build()")
    };
    // Both bounds are inclusive, to the second.
    assert_eq!(
        find(between(date_time(older, 0), date_time(newer, 0))),
        serde_json::json!(["newer.txt", "older.txt"])
    );
    assert_eq!(
        find(format!(
            "FindOptions().min_creation_time({}).build()",
            date_time(newer, 0)
        )),
        serde_json::json!(["newer.txt"])
    );
    assert_eq!(
        find(format!(
            "FindOptions().max_creation_time({}).build()",
            date_time(older, 0)
        )),
        serde_json::json!(["older.txt"])
    );
    // As in Rex, an entry's time is its whole second: a lower bound part-way through the
    // second older.txt was made in leaves it out.
    assert_eq!(
        find(between(date_time(older, 1), date_time(newer, 999_999_999))),
        serde_json::json!(["newer.txt"])
    );
}

#[test]
fn find_creation_time_is_the_inode_change_time_as_in_rex() {
    // Rex's "creation time" is st_ctime: a file made long ago whose mode changed now is
    // "created" now, for both engines.
    let s = Sandbox::new();
    s.write("d/old.txt", "o");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let changed_from = change_second(&s.root().join("d/old.txt")) + 1;
    std::fs::set_permissions(
        s.root().join("d/old.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    assert!(change_second(&s.root().join("d/old.txt")) >= changed_from);
    let script = format!(
        "{} {}",
        open("d"),
        find_names(&format!(
            "FindOptions().min_creation_time({}).build()",
            date_time(changed_from, 0)
        ))
    );
    assert_eq!(output(&s.run(ALL, &script)), serde_json::json!(["old.txt"]));
}

#[test]
fn find_does_not_read_directories_deeper_than_max_depth() {
    let s = Sandbox::new();
    s.write("d/a/b/c/deep.txt", "x");
    s.write("d/top.txt", "t");
    let no_read_of_b = r#"
permit(principal, action, resource in file_system::Dir::"{ROOT}");
forbid(principal, action == file_system::Action::"read", resource == file_system::Dir::"{ROOT}/d/a/b");
"#;
    // `a/b` is at depth 2: reported, not entered, so its forbidden read is never asked.
    let shallow = format!(
        "{} {}",
        open("d"),
        find_names("FindOptions().max_depth(2).build()")
    );
    assert_eq!(
        output(&s.run(no_read_of_b, &shallow)),
        serde_json::json!(["a", "a/b", "top.txt"])
    );
    let deep = format!("{} {}", open("d"), find_names("FindOptions().build()"));
    assert_denied(&s.run(no_read_of_b, &deep), "read");
    // As in Rex, the directory's own entries are always read: max_depth 0 acts as 1; and
    // min_depth leaves out what is above it, walking through it.
    let none_deep = format!(
        "{} {}",
        open("d"),
        find_names("FindOptions().max_depth(0).build()")
    );
    assert_eq!(
        output(&s.run(no_read_of_b, &none_deep)),
        serde_json::json!(["a", "top.txt"])
    );
    let below = format!(
        "{} {}",
        open("d"),
        find_names("FindOptions().min_depth(3).build()")
    );
    assert_eq!(
        output(&s.run(ALL, &below)),
        serde_json::json!(["a/b/c", "a/b/c/deep.txt"])
    );
    let negative = format!(
        r#"{} let out = ""; try {{ d.find(FindOptions().max_depth(-1).build(), |e| {{}}) }} catch (e) {{ out = e.kind.to_string() }}; out"#,
        open("d")
    );
    assert_eq!(output(&s.run(ALL, &negative)), "InvalidArguments");
}
