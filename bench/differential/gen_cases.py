#!/usr/bin/env python3
"""Writes cases/<area>.json: the differential cases, written for Tollgate in our own words.

Each case exercises one behaviour of one Rex callable (as Rex's documentation describes it) and
returns a plain value (string, number, bool, array, map) so that both sides print comparable
JSON. Edit this file and rerun it; the JSON files are its output.

Case fields: name, area, policy (a name from run.py's POLICIES or Cedar text; {ROOT} is the
fixture root), fixtures ({relative path: text | null for a dir | {"symlink": target}}),
script ({ROOT}, {HTTP}, {SLEEP_PID} are substituted), normalise (optional list of rules:
sort, ignore:k1,k2, keys, types, strip, lower, float_tol:x), args (optional typed script
arguments).
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = []


def case(area, name, script, fixtures=None, policy="all", normalise=None, **extra):
    c = {"name": name, "area": area, "policy": policy, "fixtures": fixtures or {}, "script": script}
    if normalise:
        c["normalise"] = normalise
    c.update(extra)
    CASES.append(c)


def caught(stmt):
    """A script that runs `stmt` and returns the caught error's kind (by name) and source."""
    return ('let r = "no error"; try { %s; } catch (e) { if type_of(e) == "map" && "kind" in e '
            '{ r = [e.kind.to_string(), e.source]; } else if type_of(e) == "map" '
            '{ r = "thrown engine error: " + e.message; } else { r = "thrown " + type_of(e) + ": " + e; } } r'
            % stmt)


LINES15 = "".join("line %d\n" % i for i in range(1, 16))
TEXT = "alpha beta\nBeta gamma\ndelta alpha\nepsilon\n"
CSV = "web,200,1.5\napi,500,2.25\nweb,404,0.25\ndb,200,4\n"
LOG = "INFO start\nERROR disk full\nINFO retry\nERROR disk full again\nWARN slow\n"
TREE = {
    "a.txt": "one\ntwo\n",
    "b.log": "x\n",
    ".hidden": "h\n",
    "sub/": None,
    "sub/c.txt": "three\n",
    "sub/deep/": None,
    "sub/deep/d.txt": "four four\n",
}

# ------------------------------------------------------------------------------------ files
F = "files"
case(F, "cat_whole_file", 'cat("{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "cat_number_flag", 'cat([cat::number], "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "cat_n_alias", 'cat([cat::n], "{ROOT}/t.txt") == cat([cat::number], "{ROOT}/t.txt")',
     {"t.txt": TEXT})
case(F, "cat_empty_file", 'cat("{ROOT}/e.txt")', {"e.txt": ""})
case(F, "cat_no_trailing_newline", 'cat("{ROOT}/t.txt").len()', {"t.txt": "abc\ndef"})
case(F, "cat_missing_is_error", 'cat("{ROOT}/missing.txt")')
case(F, "cat_directory_is_error", 'cat("{ROOT}/sub")', {"sub/": None})
case(F, "cat_utf8", 'cat("{ROOT}/u.txt")', {"u.txt": "héllo wörld ✓\n"})

case(F, "tail_default_last_ten", 'tail("{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_short_file", 'tail("{ROOT}/l.txt")', {"l.txt": "a\nb\n"})
case(F, "tail_empty_file", 'tail("{ROOT}/l.txt")', {"l.txt": ""})
case(F, "tail_n_negative_last", 'tail([tail::n(-3)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_n_positive_first", 'tail([tail::n(3)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_n_zero", 'tail([tail::n(0)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_n_more_than_lines", 'tail([tail::n(-100)], "{ROOT}/l.txt").len()', {"l.txt": LINES15})
case(F, "tail_from_line", 'tail([tail::from(13)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_from_first", 'tail([tail::from(1)], "{ROOT}/l.txt").len()', {"l.txt": LINES15})
case(F, "tail_from_with_n", 'tail([tail::from(4), tail::n(2)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_n_then_from", 'tail([tail::n(2), tail::from(4)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_range", 'tail([tail::range(3, 5)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_range_past_end", 'tail([tail::range(14, 40)], "{ROOT}/l.txt")', {"l.txt": LINES15})
case(F, "tail_no_newlines_kept", 'tail([tail::n(-1)], "{ROOT}/l.txt")[0]', {"l.txt": "x\ny\n"})

case(F, "grep_basic", 'grep("alpha", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_case_sensitive_default", 'grep("beta", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_ignore_case", 'grep([grep::ignore_case], "beta", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_i_alias", 'grep([grep::i], "BETA", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_count", 'grep([grep::count], "alpha", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_invert", 'grep([grep::invert], "alpha", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_line_number", 'grep([grep::line_number], "alpha", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_max_count", 'grep([grep::max_count(1)], "alpha", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_m_alias", 'grep([grep::m(2)], "a", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_regex_anchor", 'grep("^[a-d]", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_no_match", 'grep("zzz", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_ignore_case_line_number", 'grep([grep::i, grep::n], "BETA", "{ROOT}/t.txt")',
     {"t.txt": TEXT})
case(F, "grep_count_invert", 'grep([grep::c, grep::v], "alpha", "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "grep_result_type", 'let g = grep("ERROR", "{ROOT}/log"); [type_of(g), g.len()]',
     {"log": LOG})
case(F, "grep_missing_file", 'grep("x", "{ROOT}/nope")')

case(F, "wc_default", 'wc("{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "wc_lines", 'wc([wc::lines], "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "wc_words", 'wc([wc::w], "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "wc_bytes", 'wc([wc::bytes], "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "wc_lines_and_words", 'wc([wc::l, wc::w], "{ROOT}/t.txt")', {"t.txt": TEXT})
case(F, "wc_no_final_newline", 'wc("{ROOT}/t.txt")', {"t.txt": "a b\nc"})
case(F, "wc_empty", 'wc("{ROOT}/t.txt")', {"t.txt": ""})
case(F, "wc_utf8_bytes", 'wc([wc::c], "{ROOT}/t.txt")', {"t.txt": "é✓\n"})

SED = "cat dog\ncat cat\nbird\n"
case(F, "sed_first_match_only", 'sed("cat", "cow", "{ROOT}/s.txt")', {"s.txt": SED})
case(F, "sed_all", 'sed([sed::all], "cat", "cow", "{ROOT}/s.txt")', {"s.txt": SED})
case(F, "sed_g_alias", 'sed([sed::g], "cat", "cow", "{ROOT}/s.txt")', {"s.txt": SED})
case(F, "sed_literal_by_default", 'sed("c.t", "X", "{ROOT}/s.txt")', {"s.txt": SED + "c.t\n"})
case(F, "sed_regex", 'sed([sed::regex], "c.t", "X", "{ROOT}/s.txt")', {"s.txt": SED})
case(F, "sed_regex_all", 'sed([sed::regex, sed::all], "[cd][ao][tg]", "X", "{ROOT}/s.txt")',
     {"s.txt": SED})
case(F, "sed_no_match", 'sed("zebra", "X", "{ROOT}/s.txt")', {"s.txt": SED})
case(F, "sed_does_not_touch_file", 'sed("cat", "cow", "{ROOT}/s.txt"); cat("{ROOT}/s.txt")',
     {"s.txt": SED})
case(F, "sed_in_place", 'let r = sed([sed::in_place, sed::all], "cat", "cow", "{ROOT}/s.txt"); '
     '[type_of(r), cat("{ROOT}/s.txt")]', {"s.txt": SED})

case(F, "awk_split_comma", 'awk_split("a,b,,c", ",")')
case(F, "awk_split_space", 'awk_split("  a  b c ", " ")')
case(F, "awk_field_second", 'awk_field(2, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_field_zero_whole_line", 'awk_field(0, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_field_past_end", 'awk_field(9, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_filter", 'awk_filter("ERROR", "{ROOT}/log")', {"log": LOG})
case(F, "awk_filter_regex", 'awk_filter("^(INFO|WARN) ", "{ROOT}/log")', {"log": LOG})
case(F, "awk_filter_field", 'awk_filter_field(1, ",", "web", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_sum_column", 'awk_sum(3, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_sum_integers_is_float", 'let s = awk_sum(2, ",", "{ROOT}/c.csv"); [s, type_of(s)]',
     {"c.csv": CSV})
case(F, "awk_sum_non_numeric", 'awk_sum(1, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_count_unique", 'awk_count_unique(1, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_count_unique_status", 'awk_count_unique(2, ",", "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_filter_range", 'awk_filter_range(2, 3, "{ROOT}/c.csv")', {"c.csv": CSV})
case(F, "awk_filter_range_single", 'awk_filter_range(4, 4, "{ROOT}/c.csv")', {"c.csv": CSV})

case(F, "seq_up", "seq(1, 5)")
case(F, "seq_down_without_step_empty", "seq(5, 1)")
case(F, "seq_single", "seq(3, 3)")
case(F, "seq_step_two", "seq([seq::step(2)], 1, 10)")
case(F, "seq_negative_step", "seq([seq::step(-2)], 9, 1)")
case(F, "seq_negative_numbers", "seq(-2, 2)")
case(F, "seq_step_zero", "seq([seq::step(0)], 1, 3)")

case(F, "find_files_glob", 'find_files("*.txt", "{ROOT}")', TREE, normalise=["sort"])
case(F, "find_files_recursive", 'find_files([glob::recursive], "*.txt", "{ROOT}")', TREE,
     normalise=["sort"])
case(F, "find_files_r_alias", 'find_files([glob::r], "*.log", "{ROOT}")', TREE, normalise=["sort"])
case(F, "find_files_no_match", 'find_files("*.none", "{ROOT}")', TREE)
case(F, "find_files_question_mark", 'find_files("?.txt", "{ROOT}")', TREE, normalise=["sort"])

case(F, "du_keys", 'du("{ROOT}").keys()', TREE, normalise=["sort"])
case(F, "du_inode_count", 'du("{ROOT}").total_inode_count', TREE)
case(F, "du_summarize_entries", 'du([du::summarize], "{ROOT}").entries.len()', TREE)
case(F, "du_entry_keys", 'let e = du("{ROOT}").entries; e[0].keys()', TREE, normalise=["sort"])
case(F, "du_total_type", 'type_of(du("{ROOT}").total_size_bytes)', TREE)
case(F, "du_all_files_count", 'du([du::all_files], "{ROOT}").entries.len()', TREE)
case(F, "du_max_depth_zero", 'du([du::max_depth(0)], "{ROOT}").entries.len()', TREE)
case(F, "du_apparent_size", 'du([du::apparent_size, du::s], "{ROOT}").total_size_bytes', TREE)

case(F, "ls_names", 'ls("{ROOT}").keys()', TREE, normalise=["sort"])
case(F, "ls_all_shows_hidden", 'ls([ls::all], "{ROOT}").keys()', TREE, normalise=["sort"])
case(F, "ls_entry_type", 'let l = ls("{ROOT}"); [l["a.txt"].type().to_string(), '
     'l["sub"].type().to_string()]', TREE)
case(F, "ls_entry_name", 'ls("{ROOT}")["a.txt"].name', TREE)
case(F, "ls_entry_to_map_keys", 'ls("{ROOT}")["a.txt"].to_map().keys()', TREE, normalise=["sort"])
case(F, "ls_long_entry_keys", 'ls([ls::long], "{ROOT}")["a.txt"].to_map().keys()', TREE,
     normalise=["sort"])
case(F, "ls_recursive_names", 'ls([ls::recursive], "{ROOT}").keys()', TREE, normalise=["sort"])
case(F, "ls_empty_dir", 'ls("{ROOT}/e").len()', {"e/": None})
case(F, "ls_missing", 'ls("{ROOT}/nope")')
case(F, "ls_entry_metadata_size", 'ls("{ROOT}")["a.txt"].metadata().file_size()', TREE)
case(F, "ls_entry_type_compare", 'ls("{ROOT}")["sub"].type() == EntryType::DIR', TREE)

case(F, "mkdir_new", 'mkdir("{ROOT}/n"); ls("{ROOT}").keys()', {}, normalise=["sort"])
case(F, "mkdir_existing_succeeds", 'mkdir("{ROOT}/sub"); "ok"', {"sub/": None})
case(F, "mkdir_nested_without_parents", 'mkdir("{ROOT}/x/y/z")')
case(F, "mkdir_parents", 'mkdir([mkdir::parents], "{ROOT}/x/y/z"); ls("{ROOT}/x/y").keys()')
case(F, "mkdir_over_file", 'mkdir("{ROOT}/f")', {"f": "x"})
case(F, "mkdir_result", 'type_of(mkdir("{ROOT}/q"))')

case(F, "rm_file", 'rm("{ROOT}/a.txt"); ls("{ROOT}").keys()', {"a.txt": "a", "b.txt": "b"})
case(F, "rm_empty_dir", 'rm("{ROOT}/e"); ls("{ROOT}").len()', {"e/": None})
case(F, "rm_nonempty_dir_needs_r", 'rm("{ROOT}/sub")', TREE)
case(F, "rm_recursive", 'rm([rm::recursive], "{ROOT}/sub"); ls("{ROOT}").keys()', TREE,
     normalise=["sort"])
case(F, "rm_missing", 'rm("{ROOT}/missing")')
case(F, "rm_force_missing", 'rm([rm::force], "{ROOT}/missing"); "ok"')
case(F, "rm_result", 'type_of(rm("{ROOT}/a.txt"))', {"a.txt": "a"})

case(F, "cp_file", 'cp("{ROOT}/a.txt", "{ROOT}/copy.txt"); cat("{ROOT}/copy.txt")', TREE)
case(F, "cp_keeps_source", 'cp("{ROOT}/a.txt", "{ROOT}/copy.txt"); ls("{ROOT}").keys()', TREE,
     normalise=["sort"])
case(F, "cp_onto_existing", 'cp("{ROOT}/a.txt", "{ROOT}/b.log"); cat("{ROOT}/b.log")', TREE)
case(F, "cp_force_onto_existing", 'cp([cp::force], "{ROOT}/a.txt", "{ROOT}/b.log"); '
     'cat("{ROOT}/b.log")', TREE)
case(F, "cp_missing_source", 'cp("{ROOT}/nope", "{ROOT}/x")', TREE)
case(F, "cp_into_directory", 'cp("{ROOT}/a.txt", "{ROOT}/sub"); ls("{ROOT}/sub").keys()', TREE,
     normalise=["sort"])

case(F, "mv_file", 'mv("{ROOT}/a.txt", "{ROOT}/moved.txt"); ls("{ROOT}").keys()', TREE,
     normalise=["sort"])
case(F, "mv_content", 'mv("{ROOT}/a.txt", "{ROOT}/moved.txt"); cat("{ROOT}/moved.txt")', TREE)
case(F, "mv_dir", 'mv("{ROOT}/sub", "{ROOT}/sub2"); ls("{ROOT}/sub2").keys()', TREE,
     normalise=["sort"])
case(F, "mv_onto_existing", 'mv("{ROOT}/a.txt", "{ROOT}/b.log"); cat("{ROOT}/b.log")', TREE)
case(F, "mv_missing", 'mv("{ROOT}/nope", "{ROOT}/x")', TREE)

case(F, "write_new_file", 'write("{ROOT}/w.txt", "hi\\n"); cat("{ROOT}/w.txt")')
case(F, "write_default_on_existing", 'write("{ROOT}/w.txt", "new\\n"); cat("{ROOT}/w.txt")',
     {"w.txt": "old\n"})
case(F, "write_append", 'write([write::append], "{ROOT}/w.txt", "new\\n"); cat("{ROOT}/w.txt")',
     {"w.txt": "old\n"})
case(F, "write_replace", 'write([write::replace], "{ROOT}/w.txt", "new\\n"); cat("{ROOT}/w.txt")',
     {"w.txt": "old\n"})
case(F, "write_result", 'type_of(write("{ROOT}/w.txt", "x"))')
case(F, "write_into_missing_dir", 'write("{ROOT}/no/w.txt", "x")')

case(F, "touch_new_empty", 'touch("{ROOT}/t"); [ls("{ROOT}").keys(), cat("{ROOT}/t")]')
case(F, "touch_keeps_content", 'touch("{ROOT}/t"); cat("{ROOT}/t")', {"t": "kept\n"})
case(F, "touch_result", 'type_of(touch("{ROOT}/t"))')

# ------------------------------------------------------------------------------------ handles
H = "handles"
OPEN_DIR = 'let d = DirConfig().path("{ROOT}").build().open(OpenDirOptions().build()); '
READ = 'OpenFileOptions().read(true).build()'
case(H, "file_read", OPEN_DIR + 'd.open_file("t.txt", %s).read()' % READ, {"t.txt": TEXT})
case(H, "file_read_lines_count", OPEN_DIR + 'd.open_file("l.txt", %s).read_lines('
     'ReadLinesOptions().count(3).build())' % READ, {"l.txt": LINES15})
case(H, "file_read_lines_start", OPEN_DIR + 'd.open_file("l.txt", %s).read_lines('
     'ReadLinesOptions().start(13).build())' % READ, {"l.txt": LINES15})
case(H, "file_read_lines_count_negative", OPEN_DIR + 'd.open_file("l.txt", %s).read_lines('
     'ReadLinesOptions().count(-2).build())' % READ, {"l.txt": LINES15})
case(H, "file_read_page", OPEN_DIR + 'd.open_file("l.txt", %s).read_page('
     'ReadPageOptions().num_lines(4).build())' % READ, {"l.txt": LINES15})
case(H, "file_counts", OPEN_DIR + 'd.open_file("t.txt", %s).counts().to_map()' % READ,
     {"t.txt": TEXT})
case(H, "file_counts_getters", OPEN_DIR + 'let c = d.open_file("t.txt", %s).counts(); '
     '[c.line_count, c.word_count, c.byte_count]' % READ, {"t.txt": TEXT})
case(H, "file_search", OPEN_DIR + 'd.open_file("t.txt", %s).search("alpha").map(|m| '
     '[m.line_number, m.line_content])' % READ, {"t.txt": TEXT})
case(H, "file_metadata_size", OPEN_DIR + 'd.open_file("t.txt", %s).metadata().file_size()' % READ,
     {"t.txt": TEXT})
case(H, "file_metadata_type", OPEN_DIR + 'd.open_file("t.txt", %s).metadata().type().to_string()'
     % READ, {"t.txt": TEXT})
case(H, "file_metadata_permissions", OPEN_DIR + 'd.open_file("t.txt", %s).metadata().permissions()'
     % READ, {"t.txt": {"content": "x", "mode": 0o640}})
case(H, "file_metadata_to_map_keys", OPEN_DIR + 'd.open_file("t.txt", %s).metadata().to_map().keys()'
     % READ, {"t.txt": TEXT}, normalise=["sort"])
case(H, "file_metadata_mtime_type", OPEN_DIR + 'type_of(d.open_file("t.txt", %s).metadata()'
     '.last_modified_time())' % READ, {"t.txt": TEXT})
case(H, "file_last_modified_type", OPEN_DIR + 'type_of(d.open_file("t.txt", %s)'
     '.get_last_modified_time())' % READ, {"t.txt": TEXT})
case(H, "file_create_and_write", OPEN_DIR + 'let f = d.open_file("new.txt", OpenFileOptions()'
     '.create(true).write(true).build()); f.write("written\\n"); cat("{ROOT}/new.txt")')
case(H, "file_write_replaces", OPEN_DIR + 'let f = d.open_file("w.txt", OpenFileOptions()'
     '.write(true).build()); f.write("B\\n"); cat("{ROOT}/w.txt")', {"w.txt": "AAAA\n"})
case(H, "file_write_options", OPEN_DIR + 'let f = d.open_file("w.txt", OpenFileOptions()'
     '.write(true).build()); f.write("B\\n", WriteOptions().build()); cat("{ROOT}/w.txt")',
     {"w.txt": "AAAA\n"})
case(H, "file_create_permissions", OPEN_DIR + 'let f = d.open_file("p.txt", OpenFileOptions()'
     '.create(true).write(true).permissions(0o600).build()); f.metadata().permissions()')
case(H, "file_open_missing", caught(OPEN_DIR + 'd.open_file("nope.txt", %s)' % READ))
case(H, "file_open_without_read_then_read", caught(OPEN_DIR + 'let f = d.open_file("t.txt", '
     'OpenFileOptions().write(true).build()); f.read()'), {"t.txt": TEXT})
case(H, "dir_open_missing", caught('DirConfig().path("{ROOT}/nope").build().open('
     'OpenDirOptions().build())'))
case(H, "dir_create_option", 'DirConfig().path("{ROOT}/made").build().open(OpenDirOptions()'
     '.create(true).build()); ls("{ROOT}").keys()')
case(H, "dir_list_entries_names", OPEN_DIR + 'd.list_entries().keys()', TREE, normalise=["sort"])
case(H, "dir_list_entries_types", OPEN_DIR + 'let e = d.list_entries(); let m = #{}; '
     'for k in e.keys() { m[k] = e[k].type().to_string(); } m', TREE)
case(H, "dir_entry_name_getter", OPEN_DIR + 'd.list_entries()["a.txt"].name', TREE)
case(H, "dir_entry_is_file", OPEN_DIR + 'let e = d.list_entries()["a.txt"]; '
     '[e.type() == EntryType::FILE, e.type() == EntryType::DIR]', TREE)
case(H, "dir_entry_open_as_file", OPEN_DIR + 'd.list_entries()["a.txt"].open_as_file(%s).read()'
     % READ, TREE)
case(H, "dir_entry_open_as_dir", OPEN_DIR + 'd.list_entries()["sub"].open_as_dir('
     'OpenDirOptions().build()).list_entries().keys()', TREE, normalise=["sort"])
case(H, "dir_entry_metadata_size", OPEN_DIR + 'd.list_entries()["a.txt"].metadata().file_size()',
     TREE)
case(H, "dir_metadata_type", OPEN_DIR + 'd.metadata().type().to_string()', TREE)
case(H, "file_delete", OPEN_DIR + 'd.open_file("a.txt", %s).delete(DeleteFileOptions().build()); '
     'ls("{ROOT}").keys()' % READ, TREE, normalise=["sort"])
case(H, "dir_delete_recursive", 'let d = DirConfig().path("{ROOT}/sub").build().open('
     'OpenDirOptions().build()); d.delete(DeleteDirOptions().recursive(true).build()); '
     'ls("{ROOT}").keys()', TREE, normalise=["sort"])
case(H, "file_copy", OPEN_DIR + 'let s = d.open_file("a.txt", %s); let t = d.open_file("c.txt", '
     'OpenFileOptions().create(true).write(true).build()); s.copy(t, CopyFileOptions().build()); '
     'cat("{ROOT}/c.txt")' % READ, TREE)
case(H, "file_chmod", OPEN_DIR + 'let f = d.open_file("a.txt", %s); f.chmod(0o604); '
     'f.metadata().permissions()' % READ, TREE)
case(H, "file_truncate", OPEN_DIR + 'let f = d.open_file("a.txt", OpenFileOptions().write(true)'
     '.build()); f.truncate(TruncateOptions().size(2).build()); cat("{ROOT}/a.txt")', TREE)
case(H, "symlink_read_link_target", OPEN_DIR + 'd.read_link_target("ln")',
     {"a.txt": "x", "ln": {"symlink": "a.txt"}})
case(H, "symlink_entry_type", OPEN_DIR + 'd.list_entries()["ln"].type().to_string()',
     {"a.txt": "x", "ln": {"symlink": "a.txt"}})
case(H, "replace_text_first", 'replace_text("a-a-a", "a", "b", ReplacementOptions().build())')
case(H, "replace_text_all", 'replace_text("a-a-a", "a", "b", ReplacementOptions()'
     '.replace_all(true).build())')
case(H, "replace_text_regex", 'replace_text("x1y22z", "[0-9]+", "#", ReplacementOptions()'
     '.is_regex(true).replace_all(true).build())')
case(H, "file_ownership", OPEN_DIR + 'let o = d.open_file("a.txt", %s).get_ownership(); '
     '[o.user, o.group]' % READ, TREE)
# (Rex calls a find() callback without the script's AST, so a script closure cannot be one.)
case(H, "dir_disk_usage_entries", OPEN_DIR + 'd.disk_usage(DiskUsageOptions().build()).entries'
     '.map(|e| e.to_map().keys())', TREE, normalise=["sort"])
case(H, "dir_disk_usage_entry_types", OPEN_DIR + 'let e = d.disk_usage(DiskUsageOptions()'
     '.build()).entries[0]; [type_of(e.path), type_of(e.size_bytes), type_of(e.inode_count)]', TREE)
case(H, "entry_type_constants", 'let f = EntryType::FILE; let s = EntryType::SYMLINK; '
     '[f.to_string(), s.to_string(), f == EntryType::FILE, f != EntryType::DIR]')

# ------------------------------------------------------------------------------------ errors
E = "errors"
case(E, "not_found_kind", caught('cat("{ROOT}/missing")'))
case(E, "not_found_equals_enum", 'let r = (); try { cat("{ROOT}/missing"); } catch (e) { '
     'r = [e.kind == IoErrorKind::NotFound, e.kind == IoErrorKind::IoError]; } r')
case(E, "denied_kind", caught('cat("{ROOT}/a.txt")'), {"a.txt": "x"}, policy="open_only")
case(E, "denied_equals_enum", 'let r = (); try { cat("{ROOT}/a.txt"); } catch (e) { '
     'r = e.kind == IoErrorKind::PermissionDenied; } r', {"a.txt": "x"}, policy="open_only")
case(E, "denied_kind_not_equal", 'let r = (); try { cat("{ROOT}/a.txt"); } catch (e) { '
     'r = e.kind != IoErrorKind::NotFound; } r', {"a.txt": "x"}, policy="open_only")
case(E, "error_map_keys", 'let r = (); try { cat("{ROOT}/missing"); } catch (e) { '
     'r = e.keys(); } r', normalise=["sort"])
case(E, "error_map_type", 'let r = (); try { cat("{ROOT}/missing"); } catch (e) { '
     'r = type_of(e); } r')
case(E, "error_message_type", 'let r = (); try { cat("{ROOT}/missing"); } catch (e) { '
     'r = type_of(e.message); } r')
case(E, "denied_source", 'let r = (); try { cat("{ROOT}/a.txt"); } catch (e) { r = e.source; } r',
     {"a.txt": "x"}, policy="open_only")
case(E, "ls_missing_kind", caught('ls("{ROOT}/nope")'))
case(E, "rm_nonempty_kind", caught('rm("{ROOT}/sub")'), TREE)
case(E, "mkdir_missing_parent_kind", caught('mkdir("{ROOT}/a/b")'))
case(E, "handle_missing_kind", caught('DirConfig().path("{ROOT}/nope").build().open('
     'OpenDirOptions().build())'))
case(E, "datetime_invalid_kind", caught('DateTime(2024, 13, 40, 0, 0, 0, 0)'))
# A module constant is read-only: Rex's to_string takes `&mut`, so copy it into a variable first.
case(E, "process_kind_module", 'let k = ProcessErrorKind::PermissionDenied; k.to_string()')
case(E, "io_kind_to_string", 'let k = IoErrorKind::NotFound; k.to_string()')
case(E, "io_kind_compare_constants", 'let k = IoErrorKind::NotFound; '
     '[k == IoErrorKind::NotFound, k != IoErrorKind::PermissionDenied]')
case(E, "system_kind_to_string", 'let k = SysteminfoErrorKind::PermissionDenied; k.to_string()')
case(E, "kind_compare_string", 'let r = (); try { cat("{ROOT}/a.txt"); } catch (e) { '
     'r = e.kind.to_string() == "PermissionDenied"; } r', {"a.txt": "x"}, policy="open_only")
case(E, "throw_custom_caught", 'let r = (); try { throw "boom"; } catch (e) { r = e; } r')
case(E, "uncaught_error_is_error", 'cat("{ROOT}/missing")')
case(E, "tail_of_missing_kind", caught('tail("{ROOT}/missing")'))
case(E, "grep_bad_regex", caught('grep("([", "{ROOT}/t.txt")'), {"t.txt": TEXT})
case(E, "wc_dir_kind", caught('wc("{ROOT}/sub")'), {"sub/": None})

# ------------------------------------------------------------------------------------ processes
P = "processes"
FIND_SLEEP = 'let p = ps().filter(|x| x.pid == {SLEEP_PID}); '
case(P, "ps_is_array", 'let p = ps(); [type_of(p), p.len() > 0]')
case(P, "ps_entry_to_map_keys", FIND_SLEEP + 'p[0].to_map().keys()', normalise=["sort"])
case(P, "ps_sleep_found", FIND_SLEEP + 'p.len()')
case(P, "ps_name", FIND_SLEEP + 'p[0].name')
case(P, "ps_pid_type", FIND_SLEEP + '[p[0].pid, type_of(p[0].pid)]')
case(P, "ps_ppid", FIND_SLEEP + 'p[0].ppid == {HARNESS_PID}')
case(P, "ps_username", FIND_SLEEP + 'p[0].username')
case(P, "ps_command", FIND_SLEEP + 'p[0].command')
case(P, "ps_state", FIND_SLEEP + 'p[0].state')
case(P, "ps_state_type", FIND_SLEEP + 'type_of(p[0].state)')
case(P, "ps_memory_types", FIND_SLEEP + '[type_of(p[0].memory_usage), type_of(p[0].memory_percent)]')
case(P, "ps_to_map_types", FIND_SLEEP + 'let m = p[0].to_map(); let t = #{}; '
     'for k in m.keys() { t[k] = type_of(m[k]); } t')
case(P, "ps_entry_type_of", FIND_SLEEP + 'type_of(p[0])')
case(P, "ps_denied_lists_nothing", 'ps().len()', policy="nothing")
case(P, "process_manager_processes", 'let pm = ProcessManager(); '
     'pm.processes().filter(|x| x.pid == {SLEEP_PID}).map(|x| x.name)')
case(P, "kill_denied", 'kill({SLEEP_PID})', policy="nothing")
case(P, "state_enum_to_string", 'State::ACTIVE.to_string()')
case(P, "state_enum_is_active", '[State::ACTIVE.is_active(), State::FAILED.is_active()]')
case(P, "state_enum_compare", 'State::INACTIVE == State::INACTIVE')

# ------------------------------------------------------------------------------------ system
S = "system"
case(S, "hostname_matches_file", 'let h = hostname(); h.trim(); let c = cat("/etc/hostname"); '
     'c.trim(); h == c')
case(S, "hostname_value", 'hostname()')
case(S, "systeminfo_hostname", 'SystemInfo().hostname() == hostname()')
case(S, "uname_kernel_name", 'uname().kernel_name')
case(S, "uname_getters", 'let u = uname(); [u.kernel_name, u.nodename, u.kernel_release, '
     'u.kernel_version, u.machine, u.processor, u.hardware_platform, u.operating_system]')
case(S, "uname_to_map", 'uname().to_map()')
case(S, "uname_to_string", 'uname().to_string()')
case(S, "uname_type_of", 'type_of(uname())')
case(S, "uname_info_matches", 'SystemInfo().uname_info().to_map() == uname().to_map()')
case(S, "nproc", 'nproc()')
case(S, "cpu_count_equals_nproc", 'SystemInfo().cpu_count() == nproc()')
case(S, "free_keys", 'free().keys()', normalise=["sort"])
case(S, "free_types", 'let f = free(); let t = #{}; for k in f.keys() { t[k] = type_of(f[k]); } t')
case(S, "memory_info_keys", 'SystemInfo().memory_info().to_map().keys()', normalise=["sort"])
case(S, "memory_info_total_nonzero", 'let t = SystemInfo().memory_info().total; t.to_string() != "0"')
case(S, "memory_info_total_type", 'type_of(SystemInfo().memory_info().total)')
case(S, "swap_info_keys", 'SystemInfo().swap_info().to_map().keys()', normalise=["sort"])
case(S, "memory_info_to_string_type", 'type_of(SystemInfo().memory_info().to_string())')
case(S, "uname_denied", 'uname()', policy="nothing")
case(S, "hostname_denied", 'hostname()', policy="nothing")
case(S, "nproc_denied", 'nproc()', policy="nothing")
case(S, "to_json_map", 'to_json(#{a: 1, b: [true, "x"]})')

# ------------------------------------------------------------------------------------ disk
D = "disk"
case(D, "df_is_array", 'let d = df(); [type_of(d), d.len() > 0]')
case(D, "df_has_root_mount", 'df().map(|f| f.mounted_on).contains("/")')
case(D, "df_entry_keys", 'df()[0].to_map().keys()', normalise=["sort"])
case(D, "df_entry_types", 'let m = df()[0].to_map(); let t = #{}; for k in m.keys() '
     '{ t[k] = type_of(m[k]); } t')
case(D, "df_getters_types", 'let f = df()[0]; [type_of(f.fs_device), type_of(f.fs_kind), '
     'type_of(f.size), type_of(f.block_used), type_of(f.block_available), '
     'type_of(f.block_use_percent), type_of(f.mounted_on)]')
case(D, "df_root_device", 'df().filter(|f| f.mounted_on == "/").map(|f| [f.fs_device, f.fs_kind])')
case(D, "filesystems_handle", 'let fs = Filesystems(FilesystemOptions().build()); '
     'fs.filesystems().len() > 0')
case(D, "df_denied", 'df()', policy="nothing")

# ------------------------------------------------------------------------------------ network
N = "network"
case(N, "curl_status", 'curl("{HTTP}/hello.txt").status')
case(N, "curl_text", 'curl("{HTTP}/hello.txt").text')
case(N, "curl_not_found_status", 'curl("{HTTP}/missing.txt").status')
case(N, "curl_json_body", 'parse_json(curl("{HTTP}/data.json").text)')
case(N, "curl_response_keys", 'curl("{HTTP}/hello.txt").to_map().keys()', normalise=["sort"])
case(N, "curl_type_of", 'type_of(curl("{HTTP}/hello.txt"))')
case(N, "curl_denied", 'curl("{HTTP}/hello.txt")', policy="no_network")
# What a script catches from curl: Rex throws a plain string here, not an error map.
CAUGHT_TYPE = 'let r = "no error"; try { %s; } catch (e) { r = type_of(e); } r'
case(N, "curl_denied_caught_type", CAUGHT_TYPE % 'curl("{HTTP}/hello.txt")', policy="no_network")
case(N, "curl_refused_caught_type", CAUGHT_TYPE % 'curl("http://127.0.0.1:9/")')
case(N, "curl_refused_is_error", 'curl("http://127.0.0.1:9/")')
case(N, "curl_status_type", 'type_of(curl("{HTTP}/hello.txt").status)')
case(N, "curl_text_type", 'type_of(curl("{HTTP}/hello.txt").text)')

# ------------------------------------------------------------------------------------ datetime
T = "datetime"
case(T, "epoch_zero_fields", 'let d = from_epoch_seconds(0); [d.year, d.month, d.day, d.hour, '
     'd.minute, d.second, d.nanosecond]')
case(T, "epoch_rfc3339", 'from_epoch_seconds(86400).to_string(DateTimeFormat::RFC3339)')
case(T, "epoch_rfc2822", 'from_epoch_seconds(86400).to_string(DateTimeFormat::RFC2822)')
case(T, "construct_epoch_seconds", 'DateTime(2024, 2, 29, 12, 30, 45, 0).epoch_seconds()')
case(T, "add_seconds", 'let d = DateTime(2024, 2, 29, 23, 30, 0, 0) + 3600; [d.day, d.month, d.hour]')
case(T, "sub_seconds", '(from_epoch_seconds(100) - 40).epoch_seconds()')
case(T, "difference", 'DateTime(2024, 1, 2, 0, 0, 0, 0) - DateTime(2024, 1, 1, 0, 0, 0, 0)')
case(T, "compare", 'let a = from_epoch_seconds(10); let b = from_epoch_seconds(20); '
     '[a < b, a <= b, a > b, a >= b, a == b, a != b]')
case(T, "month_str", 'DateTime(2023, 7, 4, 0, 0, 0, 0).month_str()')
case(T, "month_str_short", 'DateTime(2023, 9, 4, 0, 0, 0, 0).month_str_short()')
case(T, "parse_rfc3339", 'parse_datetime("2021-03-04T05:06:07Z", DateTimeFormat::RFC3339)'
     '.epoch_seconds()')
case(T, "parse_invalid", caught('parse_datetime("not a date", DateTimeFormat::RFC3339)'))
case(T, "from_epoch_nanos", 'let d = from_epoch_nanos(5, 250); [d.epoch_seconds(), d.nanosecond]')
case(T, "nanos", 'DateTime(1970, 1, 1, 0, 0, 1, 7).nanos()')
case(T, "now_after_2020", 'now() > DateTime(2020, 1, 1, 0, 0, 0, 0)')
case(T, "now_type", 'type_of(now())')
case(T, "duration_from_secs_type", 'type_of(Duration::from_secs(5))')
case(T, "random_length", 'random_alphanumeric(24).len()')
case(T, "random_alphanumeric_chars", 'let s = random_alphanumeric(64); let ok = true; '
     'for c in s.chars() { if !((c >= \'a\' && c <= \'z\') || (c >= \'A\' && c <= \'Z\') || '
     '(c >= \'0\' && c <= \'9\')) { ok = false; } } ok')
case(T, "random_differs", 'random_alphanumeric(32) != random_alphanumeric(32)')
case(T, "random_zero", 'random_alphanumeric(0)')
case(T, "datetime_to_string_default", 'from_epoch_seconds(0).to_string()')

# ------------------------------------------------------------------------------------ denials
X = "denials"
A = {"a.txt": TEXT, "sub/": None, "sub/x": "x\n"}
case(X, "cat_needs_read", 'cat("{ROOT}/a.txt")', A, policy="open_only")
case(X, "tail_needs_read", 'tail("{ROOT}/a.txt")', A, policy="open_only")
case(X, "grep_needs_read", 'grep("a", "{ROOT}/a.txt")', A, policy="open_only")
case(X, "wc_needs_read", 'wc("{ROOT}/a.txt")', A, policy="open_only")
case(X, "sed_needs_read", 'sed("a", "b", "{ROOT}/a.txt")', A, policy="open_only")
case(X, "awk_needs_read", 'awk_filter("a", "{ROOT}/a.txt")', A, policy="open_only")
case(X, "cat_needs_open", 'cat("{ROOT}/a.txt")', A, policy="nothing")
case(X, "write_read_only", 'write("{ROOT}/new.txt", "x")', A, policy="read_only")
case(X, "write_existing_read_only", 'write("{ROOT}/a.txt", "x")', A, policy="read_only")
case(X, "touch_read_only", 'touch("{ROOT}/new.txt")', A, policy="read_only")
case(X, "rm_read_only", 'rm("{ROOT}/a.txt")', A, policy="read_only")
case(X, "mkdir_read_only", 'mkdir("{ROOT}/n")', A, policy="read_only")
case(X, "cp_read_only", 'cp("{ROOT}/a.txt", "{ROOT}/b.txt")', A, policy="read_only")
case(X, "mv_read_only", 'mv("{ROOT}/a.txt", "{ROOT}/b.txt")', A, policy="read_only")
case(X, "sed_in_place_read_only", 'sed([sed::in_place], "a", "b", "{ROOT}/a.txt")', A,
     policy="read_only")
case(X, "ls_nothing", 'ls("{ROOT}")', A, policy="nothing")
case(X, "find_files_nothing", 'find_files("*", "{ROOT}")', A, policy="nothing")
case(X, "du_nothing", 'du("{ROOT}")', A, policy="nothing")
case(X, "read_outside_root", 'cat("/etc/hostname")', A, policy="fs_root")
case(X, "read_inside_root_allowed", 'cat("{ROOT}/a.txt")', A, policy="fs_root")
case(X, "handle_open_dir_nothing", 'DirConfig().path("{ROOT}").build().open(OpenDirOptions().build())'
     '; "opened"', A, policy="nothing")
case(X, "handle_read_open_only", OPEN_DIR + 'd.open_file("a.txt", %s).read()' % READ, A,
     policy="open_only")
case(X, "handle_write_read_only", OPEN_DIR + 'let f = d.open_file("a.txt", OpenFileOptions()'
     '.write(true).build()); f.write("x"); "written"', A, policy="read_only")
case(X, "denial_is_catchable", 'let r = "not caught"; try { cat("{ROOT}/a.txt"); } catch (e) '
     '{ r = "caught"; } r', A, policy="open_only")
case(X, "curl_fs_only_policy", 'curl("{HTTP}/hello.txt").status', A, policy="fs_root")
case(X, "rm_recursive_read_only", 'rm([rm::recursive], "{ROOT}/sub")', A, policy="read_only")
# Policies that forbid one child inside a permitted tree: does the command stop, skip or go on?
FORBID_KEEP = ('permit(principal, action, resource);\n'
               'forbid(principal, action, resource == file_system::File::"{ROOT}/sub/keep");')
SUBTREE = {"a.txt": "a\n", "sub/": None, "sub/keep": "k\n", "sub/other": "o\n"}
case(X, "rm_recursive_forbidden_child", 'let r = "no error"; try { rm([rm::recursive], "{ROOT}/sub"); } '
     'catch (e) { r = e.kind.to_string(); } [r, ls("{ROOT}").keys()]', SUBTREE, policy=FORBID_KEEP,
     normalise=["sort"])
case(X, "ls_forbidden_child", 'ls("{ROOT}/sub").keys()', SUBTREE, policy=FORBID_KEEP,
     normalise=["sort"])
case(X, "find_files_forbidden_child", 'find_files([glob::r], "*", "{ROOT}")', SUBTREE,
     policy=FORBID_KEEP, normalise=["sort"])
case(X, "cat_forbidden_child", 'cat("{ROOT}/sub/keep")', SUBTREE, policy=FORBID_KEEP)
case(X, "cp_to_forbidden_dest", 'cp("{ROOT}/a.txt", "{ROOT}/sub/keep")', SUBTREE, policy=FORBID_KEEP)
case(X, "mv_onto_forbidden_dest", 'mv("{ROOT}/a.txt", "{ROOT}/sub/keep")', SUBTREE,
     policy=FORBID_KEEP)
case(X, "uname_nothing", 'uname().kernel_name', policy="nothing")
case(X, "ps_nothing_is_empty_not_denied", 'type_of(ps())', policy="nothing")

# ------------------------------------------------------------------------------------ more files
case(F, "cat_through_symlink", 'cat("{ROOT}/ln")', {"a.txt": "via link\n", "ln": {"symlink": "a.txt"}})
case(F, "wc_through_symlink", 'wc([wc::l], "{ROOT}/ln")', {"a.txt": "x\ny\n", "ln": {"symlink": "a.txt"}})
case(F, "ls_symlink_entry_type", 'ls("{ROOT}")["ln"].type().to_string()',
     {"a.txt": "x", "ln": {"symlink": "a.txt"}})
case(F, "du_of_file", 'du("{ROOT}/a.txt").entries.len()', TREE)
case(F, "grep_on_empty_file", 'grep("x", "{ROOT}/e")', {"e": ""})
case(F, "sed_replacement_with_newline", 'sed("dog", "d\\no\\ng", "{ROOT}/s.txt")', {"s.txt": SED})
case(F, "awk_split_multichar_delim", 'awk_split("a::b::c", "::")')
case(F, "tail_n_from_range_types", 'type_of(tail([tail::range(1, 2)], "{ROOT}/l.txt"))',
     {"l.txt": LINES15})
case(S, "sysctl_read_ostype", 'sysctl_read("kernel.ostype")')
case(S, "sysctl_read_denied", 'sysctl_read("kernel.ostype")', policy="nothing")

# ------------------------------------------------------------------------------------ args
G = "args"
case(G, "string_arg", 'name + "!"', args={"name": {"stringValue": "rex"}})
case(G, "integer_arg_type", '[n + 1, type_of(n)]', args={"n": {"integerValue": 41}})
case(G, "double_arg", 'x * 2.0', args={"x": {"doubleValue": 1.25}})
case(G, "list_and_map_args", '[l.len(), m.k]', args={
    "l": {"listValue": [{"longValue": 1}, {"booleanValue": True}]},
    "m": {"mapValue": {"k": {"stringValue": "v"}}}})
case(G, "path_arg", 'cat(p)', {"a.txt": "from arg\n"}, args={"p": {"stringValue": "{ROOT}/a.txt"}})


def main():
    by_area = {}
    for c in CASES:
        by_area.setdefault(c["area"], []).append(c)
    out = os.path.join(HERE, "cases")
    os.makedirs(out, exist_ok=True)
    for fn in os.listdir(out):
        if fn.endswith(".json"):
            os.remove(os.path.join(out, fn))
    for area, cs in by_area.items():
        with open(os.path.join(out, area + ".json"), "w") as f:
            json.dump(cs, f, indent=1, ensure_ascii=False)
            f.write("\n")
    print("%d cases in %d areas" % (len(CASES), len(by_area)))


if __name__ == "__main__":
    main()
