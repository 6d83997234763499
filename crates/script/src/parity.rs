//! Rex's engine, callable by callable: every function, method and property getter that AWS
//! Rex registers (`rex_callables.txt`, read off Rex's own engine) exists in Tollgate's engine
//! with the same name and parameter types, or is listed here as deliberately different (with
//! the reason) or as not yet there. The lists are checked both ways: a callable that appears
//! must leave the "not yet" list, so the list only shrinks. Every constant of Rex's static
//! modules (`rex_constants.txt`: enum values and flags) is there with Rex's `type_of`, but for
//! error kinds, which are one type here (see `bindings::errors`).
//!
//! Only the shape is compared here; what each call does is held by the area's tests and by
//! the differential suite against Rex (`bench/differential`).

use std::collections::{BTreeMap, BTreeSet};

/// Rex callables Tollgate leaves out on purpose, by name (every overload), and why.
const DIFFERENT: &[(&str, &str)] = &[(
    "format_bytes",
    "takes an i64 where Rex takes a u64: a script's integer literal is an i64, so Rex's \
     format_bytes(2048, Unit::KILOBYTES) is \"function not found\"",
)];

/// Rex callables not in Tollgate yet, as `name(types)` lines of `rex_callables.txt`.
const NOT_YET: &str = include_str!("rex_not_yet.txt");

/// Type names that differ between the engines but name the same script type.
fn same_type(rex: &str, ours: &str) -> bool {
    let alias = |t: &str| match t {
        // Tollgate's error kinds are one type, whichever module names them.
        "RhaiSafeIoErrorKind"
        | "RhaiSafeProcessMgmtErrorKind"
        | "RhaiSysteminfoErrorKind"
        | "RhaiDiskinfoErrorKind"
        | "RhaiNetworkErrorKind"
        | "RhaiCommonUtilsErrorKind" => "ErrorKind".to_owned(),
        "String" | "ImmutableString" | "str" => "string".to_owned(),
        "Array" | "Vec" => "array".to_owned(),
        "Map" | "BTreeMap" => "map".to_owned(),
        "INT" => "i64".to_owned(),
        "FLOAT" => "f64".to_owned(),
        "?" => "Dynamic".to_owned(),
        other => other.to_owned(),
    };
    let (r, o) = (alias(rex), alias(ours));
    r == o || r == "Dynamic" || o == "Dynamic"
}

/// `name(types)` from one line of `Engine::gen_fn_signatures`: parameter names and
/// `&mut ` dropped, each type by the last segment of its path.
fn shape(signature: &str) -> (String, Vec<String>) {
    let open = signature.find('(').unwrap_or(signature.len());
    let name = signature[..open].to_owned();
    let close = signature.rfind(") ->").or_else(|| signature.rfind(')'));
    let params = close.map_or("", |c| &signature[open + 1..c]);
    let mut types = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for ch in params.chars() {
        match ch {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            types.push(last_segment(&current));
            current.clear();
        } else {
            current.push(ch);
        }
    }
    if !current.trim().is_empty() {
        types.push(last_segment(&current));
    }
    (name, types)
}

fn last_segment(param: &str) -> String {
    let param = param.trim();
    // `name: Type`, where the name is a plain identifier (a path has `::`).
    let ty = match param.split_once(": ") {
        Some((name, ty)) if !name.contains("::") => ty,
        _ => param,
    };
    let ty = ty
        .trim()
        .trim_start_matches("&mut ")
        .trim_start_matches('&')
        .trim();
    let base = ty.split('<').next().unwrap_or(ty);
    base.rsplit("::").next().unwrap_or(base).to_owned()
}

fn parse_line(line: &str) -> (String, Vec<String>) {
    let (name, rest) = line.split_once('(').unwrap_or((line, ")"));
    let inner = rest.trim_end_matches(')');
    let types = if inner.is_empty() {
        Vec::new()
    } else {
        inner.split(", ").map(str::to_owned).collect()
    };
    (name.to_owned(), types)
}

fn listed(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Tollgate's callables: name → the parameter type lists of its overloads.
fn ours() -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for s in crate::testing::engine().gen_fn_signatures(false) {
        let (name, types) = shape(&s);
        out.entry(name).or_default().push(types);
    }
    out
}

fn present(ours: &BTreeMap<String, Vec<Vec<String>>>, name: &str, types: &[String]) -> bool {
    ours.get(name).is_some_and(|overloads| {
        overloads
            .iter()
            .any(|o| o.len() == types.len() && o.iter().zip(types).all(|(a, b)| same_type(b, a)))
    })
}

#[test]
fn every_rex_callable_is_in_the_engine_or_listed() {
    let ours = ours();
    let different: BTreeSet<&str> = DIFFERENT.iter().map(|(n, _)| *n).collect();
    let not_yet: BTreeSet<&str> = listed(NOT_YET).into_iter().collect();
    let mut missing = Vec::new();
    let mut arrived = Vec::new();
    let rex = listed(include_str!("rex_callables.txt"));
    for line in &rex {
        let (name, types) = parse_line(line);
        if different.contains(name.as_str()) {
            continue;
        }
        let here = present(&ours, &name, &types);
        match (here, not_yet.contains(line)) {
            (false, false) => missing.push(*line),
            (true, true) => arrived.push(*line),
            _ => {}
        }
    }
    for line in &not_yet {
        assert!(
            rex.contains(line),
            "rex_not_yet.txt lists {line}, which Rex does not have"
        );
    }
    assert!(
        missing.is_empty() && arrived.is_empty(),
        "Rex callables missing from the engine (add them, or list them in rex_not_yet.txt):\n{}\n\
         now present (remove them from rex_not_yet.txt):\n{}",
        missing.join("\n"),
        arrived.join("\n"),
    );
}

#[test]
fn reads_shapes_of_both_engines_signatures() {
    assert_eq!(
        shape("metadata(_: &mut rust_safe_io::file::common::RcFileHandle) -> core::result::Result<rust_safe_io::dir_entry::Metadata,alloc::boxed::Box<EvalAltResult>>"),
        ("metadata".to_owned(), vec!["RcFileHandle".to_owned()])
    );
    assert_eq!(
        shape("grep(a: array, pattern: &str, path: &str) -> Result<Array, Box<EvalAltResult>>"),
        (
            "grep".to_owned(),
            vec!["array".to_owned(), "str".to_owned(), "str".to_owned()]
        )
    );
    assert_eq!(shape("now() -> DateTime"), ("now".to_owned(), vec![]));
    assert!(same_type("string", "str"));
    assert!(same_type("RhaiSafeIoErrorKind", "ErrorKind"));
    assert!(!same_type("i64", "string"));
}

#[test]
fn every_rex_constant_is_in_the_engine_with_rexs_type() {
    let engine = crate::testing::engine();
    let mut wrong = Vec::new();
    for line in listed(include_str!("rex_constants.txt")) {
        let (name, rex_type) = line.split_once(' ').unwrap_or((line, ""));
        let rex_type = rex_type.trim().trim_matches('"');
        match engine.eval::<String>(&format!("let x = {name}; type_of(x)")) {
            Ok(ours) if ours == rex_type || same_type(rex_type, &ours) => {}
            Ok(ours) => wrong.push(format!("{name}: {ours}, Rex {rex_type}")),
            Err(e) => wrong.push(format!("{name}: {e}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "Rex constants missing or of another type:\n{}",
        wrong.join("\n")
    );
}
