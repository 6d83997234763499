// Test fixtures make their own files.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::time::{Duration, Instant};

use super::wc::{count, is_space, newlines_and_word_starts};
use super::*;

/// An unnamed temporary file holding `content`, left positioned at its end so that the
/// readers' own rewinding is exercised.
fn file_with(content: impl AsRef<[u8]>) -> File {
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(content.as_ref()).expect("write temp file");
    file
}

fn limits(max_string_bytes: usize, max_items: usize) -> Limits {
    Limits {
        max_string_bytes,
        max_items,
    }
}

fn ctx(interrupt: &Interrupt) -> TextCtx<'_> {
    TextCtx {
        limits: Limits::default(),
        interrupt,
    }
}

fn ctx_with(interrupt: &Interrupt, limits: Limits) -> TextCtx<'_> {
    TextCtx { limits, interrupt }
}

fn is_too_large<T>(result: &HostResult<T>) -> bool {
    matches!(result, Err(HostError::TooLarge { .. }))
}

fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `n` numbered log lines, "WORD" on every third; about 40 bytes each.
fn log(n: usize) -> String {
    (1..=n)
        .map(|i| {
            let tag = if i % 3 == 0 { "WORD" } else { "info" };
            format!("2024-01-01 line {i:07} {tag} some text\n")
        })
        .collect()
}

#[test]
fn cat_returns_the_whole_file_from_its_start() {
    let i = Interrupt::new();
    let mut f = file_with("one\r\ntwo\nthree");
    assert_eq!(cat(&mut f, false, &ctx(&i)).unwrap(), "one\r\ntwo\nthree");
    // A second read of the same descriptor sees the whole file again.
    assert_eq!(cat(&mut f, false, &ctx(&i)).unwrap(), "one\r\ntwo\nthree");
}

#[test]
fn cat_numbers_lines_like_cat_n() {
    let i = Interrupt::new();
    let mut f = file_with("a\n\nb");
    assert_eq!(
        cat(&mut f, true, &ctx(&i)).unwrap(),
        "     1\ta\n     2\t\n     3\tb"
    );
    // As Rex numbers them: joined by `\n`, none after the last, `\r` line ends dropped.
    let mut f = file_with("a\r\nb\n");
    assert_eq!(cat(&mut f, true, &ctx(&i)).unwrap(), "     1\ta\n     2\tb");
}

#[test]
fn cat_replaces_invalid_utf8() {
    let i = Interrupt::new();
    let mut f = file_with(b"ok \xff\xfe end");
    assert_eq!(
        cat(&mut f, false, &ctx(&i)).unwrap(),
        "ok \u{fffd}\u{fffd} end"
    );
}

#[test]
fn cat_refuses_file_larger_than_limit() {
    let i = Interrupt::new();
    let mut f = file_with("x".repeat(101));
    assert!(is_too_large(&cat(
        &mut f,
        false,
        &ctx_with(&i, limits(100, 10))
    )));
    let mut f = file_with("x".repeat(100));
    assert_eq!(
        cat(&mut f, false, &ctx_with(&i, limits(100, 10)))
            .unwrap()
            .len(),
        100
    );
}

#[test]
fn cat_refuses_numbered_output_larger_than_limit() {
    let i = Interrupt::new();
    // 60 bytes of input become 20 * 10 = 200 bytes once numbered.
    let mut f = file_with("ab\n".repeat(20));
    assert!(is_too_large(&cat(
        &mut f,
        true,
        &ctx_with(&i, limits(100, 10))
    )));
}

#[test]
fn cat_caps_files_that_report_size_zero() {
    let i = Interrupt::new();
    let mut status = File::open("/proc/self/status").unwrap();
    assert_eq!(status.metadata().unwrap().len(), 0);
    assert!(is_too_large(&cat(
        &mut status,
        false,
        &ctx_with(&i, limits(64, 10))
    )));
    assert!(cat(&mut status, false, &ctx(&i)).unwrap().contains("Name:"));
}

#[test]
fn grep_returns_matching_lines_without_line_ends() {
    let i = Interrupt::new();
    let mut f = file_with("hello world\r\nfoo bar\nhello again");
    let out = grep(&mut f, "hel+o", &GrepOptions::default(), &ctx(&i)).unwrap();
    assert_eq!(
        out,
        GrepOutput::Lines(lines(&["hello world", "hello again"]))
    );
}

#[test]
fn grep_anchors_end_of_line_before_crlf() {
    let i = Interrupt::new();
    let mut f = file_with("end\r\nnot end here\nend");
    let out = grep(&mut f, "end$", &GrepOptions::default(), &ctx(&i)).unwrap();
    assert_eq!(out, GrepOutput::Lines(lines(&["end", "end"])));
}

#[test]
fn grep_prefixes_line_numbers() {
    let i = Interrupt::new();
    let mut f = file_with("a\nb\na\n");
    let opts = GrepOptions {
        line_number: true,
        ..Default::default()
    };
    let out = grep(&mut f, "a", &opts, &ctx(&i)).unwrap();
    assert_eq!(out, GrepOutput::Lines(lines(&["1:a", "3:a"])));
}

#[test]
fn grep_ignore_case_matches_any_case() {
    let i = Interrupt::new();
    let mut f = file_with("Error\nERROR\nerr\n");
    let opts = GrepOptions {
        ignore_case: true,
        ..Default::default()
    };
    let out = grep(&mut f, "error", &opts, &ctx(&i)).unwrap();
    assert_eq!(out, GrepOutput::Lines(lines(&["Error", "ERROR"])));
}

#[test]
fn grep_invert_selects_non_matching_lines() {
    let i = Interrupt::new();
    let mut f = file_with("a\nb\nc\na");
    let opts = GrepOptions {
        invert: true,
        line_number: true,
        ..Default::default()
    };
    let out = grep(&mut f, "a", &opts, &ctx(&i)).unwrap();
    assert_eq!(out, GrepOutput::Lines(lines(&["2:b", "3:c"])));
}

#[test]
fn grep_count_respects_max_count() {
    let i = Interrupt::new();
    let mut f = file_with("x\nx\ny\nx\n");
    let mut opts = GrepOptions {
        count: true,
        ..Default::default()
    };
    assert_eq!(
        grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
        GrepOutput::Count(3)
    );
    opts.max_count = Some(2);
    assert_eq!(
        grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
        GrepOutput::Count(2)
    );
    opts.invert = true;
    assert_eq!(
        grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
        GrepOutput::Count(1)
    );
    // As in Rex, zero is no cap rather than "select nothing".
    opts.invert = false;
    opts.max_count = Some(0);
    assert_eq!(
        grep(&mut f, "x", &opts, &ctx(&i)).unwrap(),
        GrepOutput::Count(3)
    );
}

#[test]
fn grep_max_count_stops_the_line_list() {
    let i = Interrupt::new();
    let mut f = file_with("x1\nx2\nx3\n");
    let opts = GrepOptions {
        max_count: Some(2),
        ..Default::default()
    };
    let out = grep(&mut f, "x", &opts, &ctx(&i)).unwrap();
    assert_eq!(out, GrepOutput::Lines(lines(&["x1", "x2"])));
}

#[test]
fn grep_rejects_invalid_regex_as_rex_does() {
    let i = Interrupt::new();
    let mut f = file_with("a\n");
    match grep(&mut f, "a(", &GrepOptions::default(), &ctx(&i)) {
        Err(HostError::Rex {
            kind: "ValidationError",
            message,
        }) => assert!(message.contains("a("), "{message}"),
        other => panic!("expected a ValidationError, got {other:?}"),
    }
}

#[test]
fn grep_is_correct_on_a_file_larger_than_its_buffer() {
    let i = Interrupt::new();
    let content = log(200_000); // about 8 MB, many searcher buffers
    let expected = content.lines().filter(|l| l.contains("WORD")).count() as u64;
    let mut f = file_with(&content);
    let opts = GrepOptions {
        count: true,
        ..Default::default()
    };
    assert_eq!(
        grep(&mut f, "WORD", &opts, &ctx(&i)).unwrap(),
        GrepOutput::Count(expected)
    );
    let opts = GrepOptions {
        line_number: true,
        ..Default::default()
    };
    let GrepOutput::Lines(found) = grep(&mut f, "line 0199998 ", &opts, &ctx(&i)).unwrap() else {
        panic!("expected lines");
    };
    assert_eq!(
        found,
        lines(&["199998:2024-01-01 line 0199998 WORD some text"])
    );
}

#[test]
fn grep_refuses_more_lines_than_max_items() {
    let i = Interrupt::new();
    let mut f = file_with("a\n".repeat(11));
    let result = grep(
        &mut f,
        "a",
        &GrepOptions::default(),
        &ctx_with(&i, limits(1000, 10)),
    );
    assert!(is_too_large(&result));
    // Counting returns no lines, so it is not bound by max_items.
    let opts = GrepOptions {
        count: true,
        ..Default::default()
    };
    let out = grep(&mut f, "a", &opts, &ctx_with(&i, limits(1000, 10))).unwrap();
    assert_eq!(out, GrepOutput::Count(11));
}

#[test]
fn grep_refuses_result_larger_than_max_string_bytes() {
    let i = Interrupt::new();
    let mut f = file_with("abcdefghij\n".repeat(20));
    let result = grep(
        &mut f,
        "a",
        &GrepOptions::default(),
        &ctx_with(&i, limits(100, 1000)),
    );
    assert!(is_too_large(&result));
}

#[test]
fn grep_refuses_a_line_longer_than_the_string_limit() {
    let i = Interrupt::new();
    let mut f = file_with(format!("{}\n", "a".repeat(1 << 20)));
    let opts = GrepOptions {
        count: true,
        ..Default::default()
    };
    let result = grep(&mut f, "b", &opts, &ctx_with(&i, limits(1000, 10)));
    assert!(is_too_large(&result), "{result:?}");
}

#[test]
fn interrupt_stops_grep() {
    let i = Interrupt::new();
    i.raise();
    let mut f = file_with(log(10));
    let result = grep(&mut f, "WORD", &GrepOptions::default(), &ctx(&i));
    assert!(matches!(result, Err(HostError::Interrupted)), "{result:?}");
}

#[test]
fn interrupt_stops_wc_and_line_readers() {
    let i = Interrupt::new();
    i.raise();
    let mut f = file_with(log(10));
    assert!(matches!(wc(&mut f, &ctx(&i)), Err(HostError::Interrupted)));
    assert!(matches!(
        awk_field(&mut f, 1, " ", &ctx(&i)),
        Err(HostError::Interrupted)
    ));
    assert!(matches!(
        tail(&mut f, last(1), &ctx(&i)),
        Err(HostError::Interrupted)
    ));
    assert!(matches!(
        cat(&mut f, false, &ctx(&i)),
        Err(HostError::Interrupted)
    ));
}

fn last(n: i64) -> TailLines {
    TailLines {
        count: Some(-n),
        start: None,
    }
}

fn sel(count: Option<i64>, start: Option<u64>) -> TailLines {
    TailLines { count, start }
}

#[test]
fn tail_returns_the_last_lines_without_line_ends() {
    let i = Interrupt::new();
    let mut f = file_with("1\n2\r\n3\n");
    assert_eq!(tail(&mut f, last(2), &ctx(&i)).unwrap(), lines(&["2", "3"]));
    let mut f = file_with("1\n2\n3");
    assert_eq!(tail(&mut f, last(2), &ctx(&i)).unwrap(), lines(&["2", "3"]));
    assert_eq!(
        tail(&mut f, last(9), &ctx(&i)).unwrap(),
        lines(&["1", "2", "3"])
    );
    let mut f = file_with("\n\n\n");
    assert_eq!(tail(&mut f, last(1), &ctx(&i)).unwrap(), lines(&[""]));
    let mut f = file_with("");
    assert_eq!(tail(&mut f, last(1), &ctx(&i)).unwrap(), lines(&[]));
}

#[test]
fn tail_without_count_or_start_is_the_last_ten() {
    let i = Interrupt::new();
    let mut f = file_with(log(12));
    let got = tail(&mut f, TailLines::default(), &ctx(&i)).unwrap();
    let all: Vec<String> = log(12).lines().map(str::to_owned).collect();
    assert_eq!(got, all[2..]);
}

#[test]
fn tail_last_finds_lines_across_chunks() {
    let i = Interrupt::new();
    let content = log(20_000);
    let mut f = file_with(&content);
    let all: Vec<&str> = content.lines().collect();
    let got = tail(&mut f, last(5000), &ctx(&i)).unwrap();
    assert_eq!(got, all[all.len() - 5000..]);
}

#[test]
fn tail_last_reads_from_the_end_of_a_large_file() {
    let i = Interrupt::new();
    // 64 GiB of hole before two lines: reading it from the start would take minutes.
    let mut f = tempfile::tempfile().unwrap();
    f.set_len(64 << 30).unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    f.write_all(b"\nsecond to last\nlast\n").unwrap();
    let started = Instant::now();
    let got = tail(&mut f, last(2), &ctx(&i)).unwrap();
    assert_eq!(got, lines(&["second to last", "last"]));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Asking for more lines than fit in the string limit stops the backwards scan early
    // instead of reading the hole.
    let result = tail(&mut f, last(3), &ctx_with(&i, limits(1 << 20, 10)));
    assert!(is_too_large(&result));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn tail_positive_count_takes_lines_from_the_start_line() {
    let i = Interrupt::new();
    let mut f = file_with("1\n2\n3\n4\n5\n6\n");
    assert_eq!(
        tail(&mut f, sel(Some(2), None), &ctx(&i)).unwrap(),
        lines(&["1", "2"])
    );
    assert_eq!(
        tail(&mut f, sel(Some(2), Some(5)), &ctx(&i)).unwrap(),
        lines(&["5", "6"])
    );
    assert_eq!(
        tail(&mut f, sel(Some(9), Some(5)), &ctx(&i)).unwrap(),
        lines(&["5", "6"])
    );
    assert_eq!(
        tail(&mut f, sel(Some(0), None), &ctx(&i)).unwrap(),
        lines(&[])
    );
    assert_eq!(
        tail(&mut f, sel(Some(2), Some(9)), &ctx(&i)).unwrap(),
        lines(&[])
    );
}

#[test]
fn tail_negative_count_with_a_start_ends_at_that_line() {
    let i = Interrupt::new();
    let mut f = file_with("1\n2\n3\n4\n5\n6\n");
    assert_eq!(
        tail(&mut f, sel(Some(-2), Some(5)), &ctx(&i)).unwrap(),
        lines(&["4", "5"])
    );
    assert_eq!(
        tail(&mut f, sel(Some(-5), Some(2)), &ctx(&i)).unwrap(),
        lines(&["1", "2"])
    );
    // Past the last line, Rex counts back from the end of the file.
    assert_eq!(
        tail(&mut f, sel(Some(-2), Some(50)), &ctx(&i)).unwrap(),
        lines(&["5", "6"])
    );
}

#[test]
fn tail_start_alone_reads_to_the_end() {
    let i = Interrupt::new();
    let mut f = file_with("1\n2\n3\n4");
    assert_eq!(
        tail(&mut f, sel(None, Some(3)), &ctx(&i)).unwrap(),
        lines(&["3", "4"])
    );
    assert_eq!(
        tail(&mut f, sel(None, Some(9)), &ctx(&i)).unwrap(),
        lines(&[])
    );
}

#[test]
fn tail_refuses_a_result_above_the_limit() {
    let i = Interrupt::new();
    let mut f = file_with("0123456789\n".repeat(20));
    let small = ctx_with(&i, limits(50, 10));
    assert!(is_too_large(&tail(&mut f, last(5), &small)));
    assert!(is_too_large(&tail(&mut f, sel(None, Some(1)), &small)));
    assert_eq!(tail(&mut f, last(4), &small).unwrap().len(), 4);
    let few = ctx_with(&i, limits(1000, 3));
    assert!(is_too_large(&tail(&mut f, last(4), &few)));
}

/// wc's definition, one byte at a time, to check the vectorized count against.
fn naive_wc(data: &[u8]) -> WcCounts {
    let mut counts = WcCounts {
        bytes: data.len() as u64,
        ..Default::default()
    };
    let mut in_word = false;
    for &b in data {
        let space = b" \t\n\x0b\x0c\r".contains(&b);
        counts.lines += u64::from(b == b'\n');
        counts.words += u64::from(!in_word && !space);
        in_word = !space;
    }
    counts
}

#[test]
fn wc_counts_like_coreutils() {
    let i = Interrupt::new();
    let mut f = file_with("hello world\nfoo bar baz\n");
    let expected = WcCounts {
        lines: 2,
        words: 5,
        bytes: 24,
    };
    assert_eq!(wc(&mut f, &ctx(&i)).unwrap(), expected);
    let mut f = file_with(" a\x0bb\x0cc\rd\te  \u{e9}\n\nlast");
    let got = wc(&mut f, &ctx(&i)).unwrap();
    assert_eq!((got.lines, got.words, got.bytes), (2, 7, 20));
    let mut f = file_with("");
    assert_eq!(wc(&mut f, &ctx(&i)).unwrap(), WcCounts::default());
}

#[test]
fn wc_counts_words_across_buffer_boundaries() {
    let i = Interrupt::new();
    // Word and space lengths that drift against the buffer size, so words straddle
    // every boundary, plus one word placed exactly across the first boundary.
    let mut data = Vec::new();
    let mut k = 0usize;
    while data.len() < 3 * CHUNK + 1234 {
        data.extend(std::iter::repeat_n(b'w', 1 + k % 7));
        data.extend_from_slice(&b" \n\t  \r\n"[..1 + k % 5]);
        k += 1;
    }
    data[CHUNK - 2..CHUNK + 2].copy_from_slice(b"abcd");
    let mut f = file_with(&data);
    assert_eq!(wc(&mut f, &ctx(&i)).unwrap(), naive_wc(&data));
}

#[test]
fn portable_word_count_matches_the_definition_at_every_length() {
    // Lengths around the 128-byte blocks, with every kind of space and a UTF-8 letter.
    let pattern = b"ab \t\ncd\x0b\x0ce\rf  \xc3\xa9g\n\nhij ";
    let data: Vec<u8> = pattern.iter().copied().cycle().take(700).collect();
    for len in 0..data.len() {
        let chunk = &data[..len];
        for after_space in [false, true] {
            let mut expected = naive_wc(chunk);
            if !after_space && chunk.first().is_some_and(|&b| !is_space(b)) {
                expected.words -= 1;
            }
            let got = count(chunk, after_space);
            assert_eq!(got, (expected.lines, expected.words), "{len} {after_space}");
            assert_eq!(newlines_and_word_starts(chunk, after_space), got);
        }
    }
}

#[test]
fn sed_replaces_only_the_first_occurrence_in_the_file() {
    let i = Interrupt::new();
    let mut f = file_with("a a\nb\r\na a");
    let opts = SedOptions::default();
    assert_eq!(
        sed(&mut f, "a", "x", &opts, &ctx(&i)).unwrap(),
        "x a\nb\r\na a"
    );
    let opts = SedOptions {
        regex: true,
        all: false,
    };
    assert_eq!(
        sed(&mut f, "a$", "x", &opts, &ctx(&i)).unwrap(),
        "a a\nb\r\na x"
    );
}

#[test]
fn sed_matches_across_lines_as_one_text() {
    let i = Interrupt::new();
    let mut f = file_with("one\ntwo\nthree\n");
    let opts = SedOptions {
        regex: true,
        all: true,
    };
    assert_eq!(
        sed(&mut f, r"o\nt", "-", &opts, &ctx(&i)).unwrap(),
        "one\ntw-hree\n"
    );
    assert_eq!(
        sed(&mut f, "(?m)^t", "T", &opts, &ctx(&i)).unwrap(),
        "one\nTwo\nThree\n"
    );
}

#[test]
fn sed_all_replaces_every_occurrence() {
    let i = Interrupt::new();
    let mut f = file_with("a.a\na.a\n");
    let opts = SedOptions {
        all: true,
        ..Default::default()
    };
    // Literal: the dot is only a dot, and `$1` is only text.
    assert_eq!(
        sed(&mut f, ".", "$1", &opts, &ctx(&i)).unwrap(),
        "a$1a\na$1a\n"
    );
}

#[test]
fn sed_regex_expands_capture_groups() {
    let i = Interrupt::new();
    let mut f = file_with("key=1 key=2\nother\n");
    let opts = SedOptions {
        regex: true,
        all: true,
    };
    let got = sed(&mut f, r"(\w+)=(\d)", "${2}:$1", &opts, &ctx(&i)).unwrap();
    assert_eq!(got, "1:key 2:key\nother\n");
    let result = sed(&mut f, "(", "", &opts, &ctx(&i));
    assert!(matches!(
        result,
        Err(HostError::Rex {
            kind: "ValidationError",
            ..
        })
    ));
}

#[test]
fn sed_refuses_a_result_above_the_limit() {
    let i = Interrupt::new();
    let mut f = file_with("a\n".repeat(10));
    let opts = SedOptions::default();
    let result = sed(
        &mut f,
        "a",
        "a".repeat(60).as_str(),
        &opts,
        &ctx_with(&i, limits(50, 10)),
    );
    assert!(is_too_large(&result));
    let all = SedOptions {
        all: true,
        ..Default::default()
    };
    let result = sed(
        &mut f,
        "a",
        "aaaaaaaaaa",
        &all,
        &ctx_with(&i, limits(50, 10)),
    );
    assert!(is_too_large(&result));
    let regex = SedOptions {
        regex: true,
        all: true,
    };
    let result = sed(
        &mut f,
        "a",
        "$0$0$0$0$0$0",
        &regex,
        &ctx_with(&i, limits(50, 10)),
    );
    assert!(is_too_large(&result));
}

#[test]
fn awk_split_takes_the_delimiter_literally() {
    assert_eq!(awk_split("a  b c", " "), lines(&["a", "", "b", "c"]));
    assert_eq!(awk_split("a::b", "::"), lines(&["a", "b"]));
    assert_eq!(awk_split("a.b", "."), lines(&["a", "b"]));
    assert_eq!(awk_split("né", ""), lines(&["", "n", "é", ""]));
    assert_eq!(awk_split("", ","), lines(&[""]));
}

#[test]
fn awk_field_returns_field_n_and_skips_lines_without_it() {
    let i = Interrupt::new();
    let mut f = file_with("a 10 x\r\nb\nc 30 z\n");
    assert_eq!(
        awk_field(&mut f, 2, " ", &ctx(&i)).unwrap(),
        lines(&["10", "30"])
    );
    assert_eq!(
        awk_field(&mut f, 1, " ", &ctx(&i)).unwrap(),
        lines(&["a", "b", "c"])
    );
    assert_eq!(
        awk_field(&mut f, 3, " ", &ctx(&i)).unwrap(),
        lines(&["x", "z"])
    );
}

#[test]
fn awk_filter_returns_lines_containing_the_text() {
    let i = Interrupt::new();
    let mut f = file_with("ERROR 1\nok\nWARN 2\r\nERROR|WARN\n");
    assert_eq!(
        awk_filter(&mut f, "R", &ctx(&i)).unwrap(),
        lines(&["ERROR 1", "WARN 2", "ERROR|WARN"])
    );
    // Taken literally, not as a regex.
    assert_eq!(
        awk_filter(&mut f, "ERROR|WARN", &ctx(&i)).unwrap(),
        lines(&["ERROR|WARN"])
    );
}

#[test]
fn awk_filter_field_tests_only_that_field() {
    let i = Interrupt::new();
    let mut f = file_with("GET,/a,200\nPOST,/GET,500\nGET,/b,404\n");
    let got = awk_filter_field(&mut f, 1, ",", "GET", &ctx(&i)).unwrap();
    assert_eq!(got, lines(&["GET,/a,200", "GET,/b,404"]));
    let got = awk_filter_field(&mut f, 3, ",", "00", &ctx(&i)).unwrap();
    assert_eq!(got, lines(&["GET,/a,200", "POST,/GET,500"]));
    let got = awk_filter_field(&mut f, 3, ",", "^[45]", &ctx(&i)).unwrap();
    assert_eq!(got, lines(&[]));
}

#[test]
fn awk_sum_adds_numeric_fields_and_skips_others() {
    let i = Interrupt::new();
    let mut f = file_with("name value\na 10\nb 2.5\nc x\ne -1e1\nf\n");
    assert_eq!(awk_sum(&mut f, 2, " ", &ctx(&i)).unwrap(), 2.5);
    // Whatever parses as a number counts, as in Rex: `nan` too.
    let mut f = file_with("a 1\nb nan\n");
    assert!(awk_sum(&mut f, 2, " ", &ctx(&i)).unwrap().is_nan());
}

#[test]
fn awk_count_unique_counts_each_value() {
    let i = Interrupt::new();
    let mut f = file_with("a 1\nb 2\na 3\nb 4\nc 5\nlonely\n");
    let counts = awk_count_unique(&mut f, 1, " ", &ctx(&i)).unwrap();
    let expected: BTreeMap<String, i64> = [("a", 2), ("b", 2), ("c", 1), ("lonely", 1)]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
    assert_eq!(counts, expected);
    let counts = awk_count_unique(&mut f, 2, " ", &ctx(&i)).unwrap();
    assert_eq!(counts.len(), 5);
}

#[test]
fn awk_count_unique_refuses_more_keys_than_max_items() {
    let i = Interrupt::new();
    let mut f = file_with("a\nb\nc\na\n");
    let result = awk_count_unique(&mut f, 1, " ", &ctx_with(&i, limits(100, 2)));
    assert!(is_too_large(&result));
    let counts = awk_count_unique(&mut f, 1, " ", &ctx_with(&i, limits(100, 3))).unwrap();
    assert_eq!(counts.get("a"), Some(&2));
}

#[test]
fn awk_filter_range_returns_lines_start_to_end_inclusive() {
    let i = Interrupt::new();
    let mut f = file_with("1\n2\r\n3\n4\n");
    assert_eq!(
        awk_filter_range(&mut f, 2, 3, &ctx(&i)).unwrap(),
        lines(&["2", "3"])
    );
    assert_eq!(
        awk_filter_range(&mut f, 4, 10, &ctx(&i)).unwrap(),
        lines(&["4"])
    );
    let result = awk_filter_range(&mut f, 3, 2, &ctx(&i));
    assert!(matches!(result, Err(HostError::InvalidInput(_))));
}

#[test]
fn line_reader_joins_lines_longer_than_its_buffer() {
    let i = Interrupt::new();
    let long = "y".repeat(CHUNK * 3 + 17);
    let mut f = file_with(format!("short\n{long}\nend"));
    let got = awk_field(&mut f, 1, " ", &ctx(&i)).unwrap();
    assert_eq!(got, vec!["short".to_owned(), long, "end".to_owned()]);
}

#[test]
fn line_reader_refuses_a_line_longer_than_the_string_limit() {
    let i = Interrupt::new();
    let mut f = file_with(format!("{}\n", "y".repeat(CHUNK * 3)));
    let result = awk_sum(&mut f, 1, " ", &ctx_with(&i, limits(CHUNK * 2, 10)));
    assert!(is_too_large(&result), "{result:?}");
}
