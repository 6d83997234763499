//! Turning the script's final value into output text: JSON-compatible text for the `output`
//! field, and a readable rendering for `--output human`.

use rhai::{Dynamic, Map};

use crate::bindings::objects;

/// `value` as plain data: result objects as their maps, enums as their names.
pub fn plain_value(value: &Dynamic) -> Dynamic {
    objects::plain(value)
}

/// The `output` field: strings as they are, `()` as nothing, anything else as JSON (result
/// objects and enums as their maps and names, see `bindings::objects`).
pub fn output_text(value: &Dynamic) -> String {
    let plain;
    let value = if objects::needs_plain(value) {
        plain = objects::plain(value);
        &plain
    } else {
        value
    };
    if value.is_unit() {
        return String::new();
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return s.to_string();
    }
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The first part of `value` that breaks a size limit, described for an error message.
pub(crate) fn oversized(value: &Dynamic, limits: &crate::Limits) -> Option<String> {
    if let Some(map) = value.read_lock::<Map>() {
        if map.len() > limits.max_map_size {
            return Some(format!(
                "a map of {} entries, more than --max-map-size ({})",
                map.len(),
                limits.max_map_size
            ));
        }
        return map.values().find_map(|v| oversized(v, limits));
    }
    if let Some(arr) = value.read_lock::<rhai::Array>() {
        if arr.len() > limits.max_array_size {
            return Some(format!(
                "an array of {} elements, more than --max-array-size ({})",
                arr.len(),
                limits.max_array_size
            ));
        }
        return arr.iter().find_map(|v| oversized(v, limits));
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        if s.len() > limits.max_string_size {
            return Some(format!(
                "a string of {} bytes, more than --max-string-size ({})",
                s.len(),
                limits.max_string_size
            ));
        }
    }
    None
}

/// A readable rendering: a list of flat maps (processes, mounts, sockets) or a map of flat
/// maps (directory entries) as an aligned table; other maps as aligned `key: value` lines,
/// arrays as `- item` lines, nested values indented beneath their key.
pub fn human_text(value: &Dynamic) -> String {
    let mut out = String::new();
    render(&objects::plain(value), 0, &mut out);
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn render(value: &Dynamic, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    if let Some(map) = value.read_lock::<Map>() {
        if map.is_empty() {
            out.push_str(&format!("{pad}(empty)\n"));
        }
        let rows: Option<Vec<(String, Map)>> = map
            .iter()
            .map(|(k, v)| flat_map(v).map(|m| (k.to_string(), m)))
            .collect();
        if let Some(rows) = rows.filter(|r| !r.is_empty()) {
            let (keys, maps): (Vec<String>, Vec<Map>) = rows.into_iter().unzip();
            table(Some(&keys), &maps, &pad, out);
            return;
        }
        // Align the values written on their key's line; nested ones start a block anyway.
        let inline = |v: &Dynamic| is_scalar(v) && !scalar(v).contains('\n');
        let width = map
            .iter()
            .filter(|(_, v)| inline(v))
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in map.iter() {
            if inline(v) {
                let gap = " ".repeat(width - k.chars().count());
                out.push_str(&format!("{pad}{k}:{gap} {}\n", scalar(v)));
            } else {
                out.push_str(&format!("{pad}{k}:\n"));
                render(v, indent + 1, out);
            }
        }
    } else if let Some(arr) = value.read_lock::<rhai::Array>() {
        if arr.is_empty() {
            out.push_str(&format!("{pad}(empty)\n"));
        }
        let rows: Option<Vec<Map>> = arr.iter().map(flat_map).collect();
        if let Some(rows) = rows.filter(|r| !r.is_empty()) {
            table(None, &rows, &pad, out);
            return;
        }
        for v in arr.iter() {
            if is_scalar(v) && !scalar(v).contains('\n') {
                out.push_str(&format!("{pad}- {}\n", scalar(v)));
            } else {
                out.push_str(&format!("{pad}-\n"));
                render(v, indent + 1, out);
            }
        }
    } else {
        for line in scalar(value).lines() {
            out.push_str(&format!("{pad}{line}\n"));
        }
    }
}

/// A map whose values are all one-line scalars: a table row.
fn flat_map(v: &Dynamic) -> Option<Map> {
    let m = v.read_lock::<Map>()?;
    m.values()
        .all(|v| is_scalar(v) && !scalar(v).contains('\n'))
        .then(|| m.clone())
}

/// Rows under a header of their keys (in first-seen order), each column as wide as its
/// widest cell; a column of numbers is right-aligned. `names` adds a first, unnamed column.
fn table(names: Option<&[String]>, rows: &[Map], pad: &str, out: &mut String) {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        for k in row.keys() {
            if !columns.iter().any(|c| c == k.as_str()) {
                columns.push(k.to_string());
            }
        }
    }
    let mut numeric: Vec<bool> = columns
        .iter()
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c.as_str()))
                .all(|v| v.is_int() || v.is_float())
        })
        .collect();
    let mut grid: Vec<Vec<String>> = vec![columns.clone()];
    grid.extend(rows.iter().map(|row| {
        columns
            .iter()
            .map(|c| row.get(c.as_str()).map(scalar).unwrap_or_default())
            .collect()
    }));
    if let Some(names) = names {
        numeric.insert(0, false);
        grid[0].insert(0, String::new());
        for (row, name) in grid[1..].iter_mut().zip(names) {
            row.insert(0, name.clone());
        }
    }
    let widths: Vec<usize> = (0..numeric.len())
        .map(|c| grid.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &grid {
        let line: Vec<String> = row
            .iter()
            .zip(widths.iter().zip(&numeric))
            .map(|(text, (&w, &number))| {
                if number {
                    format!("{text:>w$}")
                } else {
                    format!("{text:<w$}")
                }
            })
            .collect();
        out.push_str(pad);
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
}

fn is_scalar(v: &Dynamic) -> bool {
    !(v.is_map() || v.is_array())
}

/// A scalar as text, without the trailing newline a line read from a file keeps; a value
/// with several lines is rendered as an indented block under its key. `()`, a value a
/// command does not have (a stopped service's pid), reads `(none)` rather than a blank.
fn scalar(v: &Dynamic) -> String {
    if v.is_unit() {
        "(none)".to_owned()
    } else {
        v.to_string().trim_end_matches('\n').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_json_for_structures_and_raw_for_strings() {
        assert_eq!(output_text(&Dynamic::from("a\"b".to_owned())), "a\"b");
        assert_eq!(output_text(&Dynamic::from(3_i64)), "3");
        let arr: rhai::Array = vec![Dynamic::from(1_i64), Dynamic::from("x".to_owned())];
        assert_eq!(output_text(&Dynamic::from_array(arr)), r#"[1,"x"]"#);
        assert_eq!(output_text(&Dynamic::UNIT), "");
    }

    #[test]
    fn human_rendering_indents_nested_values() {
        let mut inner = Map::new();
        inner.insert("size".into(), Dynamic::from(10_i64));
        let mut m = Map::new();
        m.insert("a.log".into(), Dynamic::from_map(inner));
        m.insert("count".into(), Dynamic::from(2_i64));
        m.insert("pid".into(), Dynamic::UNIT);
        assert_eq!(
            human_text(&Dynamic::from_map(m)),
            "a.log:\n  size: 10\ncount: 2\npid:   (none)"
        );
    }

    fn row(pid: i64, name: &str) -> Dynamic {
        let mut m = Map::new();
        m.insert("pid".into(), Dynamic::from(pid));
        m.insert("name".into(), Dynamic::from(name.to_owned()));
        Dynamic::from_map(m)
    }

    #[test]
    fn lists_and_maps_of_flat_maps_are_aligned_tables() {
        let list = vec![row(1, "init"), row(4242, "sshd")];
        assert_eq!(
            human_text(&Dynamic::from_array(list.clone())),
            "name   pid\ninit     1\nsshd  4242"
        );
        let mut m = Map::new();
        m.insert("a".into(), list[0].clone());
        m.insert("bb".into(), list[1].clone());
        assert_eq!(
            human_text(&Dynamic::from_map(m)),
            "    name   pid\na   init     1\nbb  sshd  4242"
        );
        let mut flat = Map::new();
        flat.insert("total".into(), Dynamic::from(5_i64));
        flat.insert("free_bytes".into(), Dynamic::from(1_i64));
        assert_eq!(
            human_text(&Dynamic::from_map(flat)),
            "free_bytes: 1\ntotal:      5"
        );
    }
}
