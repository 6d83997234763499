//! Script arguments in Rex's typed JSON: each variable maps to exactly one typed value.

use rhai::{Array, Dynamic, Map, Scope};
use serde_json::Value;

use crate::error::{ErrorType, RunError};

/// Deeper nesting than this is refused, so a hostile file cannot exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// Parses an arguments file into a scope of variables.
pub fn parse_args(text: &str) -> Result<Scope<'static>, RunError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("the arguments file is not valid JSON: {e}")))?;
    let Value::Object(vars) = value else {
        return Err(invalid(
            "the arguments file must be a JSON object mapping variable names to typed values",
        ));
    };
    let mut scope = Scope::new();
    for (name, typed) in &vars {
        if !is_identifier(name) {
            return Err(invalid(format!(
                "argument name {name:?} is not a valid variable name"
            )));
        }
        let value =
            typed_value(typed, 1).map_err(|e| invalid(format!("argument {name:?}: {e}")))?;
        scope.push_dynamic(name.clone(), value);
    }
    Ok(scope)
}

fn invalid(msg: impl Into<String>) -> RunError {
    RunError::new(ErrorType::Validation, msg)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn typed_value(v: &Value, depth: usize) -> Result<Dynamic, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values are nested deeper than {MAX_DEPTH} levels"));
    }
    let Value::Object(obj) = v else {
        return Err("expected an object like {\"stringValue\": \"...\"}".to_owned());
    };
    let mut entries = obj.iter();
    let (Some((kind, inner)), None) = (entries.next(), entries.next()) else {
        return Err(format!(
            "expected exactly one typed value, found {} keys",
            obj.len()
        ));
    };
    let wrong = |what: &str| format!("{kind} must hold {what}");
    Ok(match kind.as_str() {
        "stringValue" => Dynamic::from(inner.as_str().ok_or_else(|| wrong("a string"))?.to_owned()),
        "integerValue" => {
            let n = inner.as_i64().ok_or_else(|| wrong("an integer"))?;
            let n = i32::try_from(n).map_err(|_| wrong("a 32-bit integer (use longValue)"))?;
            Dynamic::from(i64::from(n))
        }
        "longValue" => Dynamic::from(inner.as_i64().ok_or_else(|| wrong("an integer"))?),
        "doubleValue" => Dynamic::from(inner.as_f64().ok_or_else(|| wrong("a number"))?),
        "booleanValue" => Dynamic::from(inner.as_bool().ok_or_else(|| wrong("true or false"))?),
        "listValue" => {
            let items = inner.as_array().ok_or_else(|| wrong("an array"))?;
            let list: Result<Array, String> =
                items.iter().map(|i| typed_value(i, depth + 1)).collect();
            Dynamic::from_array(list?)
        }
        "mapValue" => {
            let items = inner.as_object().ok_or_else(|| wrong("an object"))?;
            let mut map = Map::new();
            for (k, i) in items {
                map.insert(k.as_str().into(), typed_value(i, depth + 1)?);
            }
            Dynamic::from_map(map)
        }
        other => return Err(format!("unknown value type {other:?}; expected stringValue, integerValue, longValue, doubleValue, booleanValue, listValue or mapValue")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_typed_value() {
        let scope = parse_args(
            r#"{"s":{"stringValue":"x"},"i":{"integerValue":7},"l":{"longValue":9000000000},
                "d":{"doubleValue":1.5},"b":{"booleanValue":true},
                "a":{"listValue":[{"integerValue":1}]},"m":{"mapValue":{"k":{"stringValue":"v"}}}}"#,
        )
        .unwrap();
        assert_eq!(scope.get_value::<String>("s").unwrap(), "x");
        assert_eq!(scope.get_value::<i64>("i").unwrap(), 7);
        assert_eq!(scope.get_value::<i64>("l").unwrap(), 9_000_000_000);
        assert_eq!(scope.get_value::<f64>("d").unwrap(), 1.5);
        assert!(scope.get_value::<bool>("b").unwrap());
        assert_eq!(scope.get_value::<Array>("a").unwrap().len(), 1);
        assert_eq!(scope.get_value::<Map>("m").unwrap()["k"].to_string(), "v");
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            "[1]",
            "{",
            r#"{"x": 1}"#,
            r#"{"x": {"stringValue": 1}}"#,
            r#"{"x": {"integerValue": 3000000000}}"#,
            r#"{"x": {"stringValue": "a", "longValue": 1}}"#,
            r#"{"x": {"floatValue": 1}}"#,
            r#"{"1x": {"stringValue": "a"}}"#,
        ] {
            let err = parse_args(bad).unwrap_err();
            assert_eq!(err.error_type, ErrorType::Validation, "{bad}");
        }
    }

    #[test]
    fn refuses_nesting_deeper_than_32() {
        let mut v = r#"{"integerValue":1}"#.to_owned();
        for _ in 0..40 {
            v = format!(r#"{{"listValue":[{v}]}}"#);
        }
        let err = parse_args(&format!(r#"{{"x":{v}}}"#)).unwrap_err();
        assert!(err.message.contains("deeper than 32"), "{}", err.message);
        // Extremely deep input is refused by the JSON parser, not by a stack overflow.
        let deep = "[".repeat(100_000);
        assert_eq!(
            parse_args(&deep).unwrap_err().error_type,
            ErrorType::Validation
        );
    }
}
