//! Finding JSON integers the model cannot hold exactly.
//!
//! The crate leaves serde_json's `arbitrary_precision` off (cargo would turn
//! it on for the whole host app, where it breaks untagged enums, flattened
//! maps and internally tagged enums holding numbers). Without it, serde_json
//! turns an integer beyond `i64`/`u64` into the nearest `f64` without a word.
//! The text is the only place the difference shows, so the places that read
//! JSON text (records, stored columns) scan it after serde_json has accepted
//! it, and refuse such an integer by name instead of rounding it.

use std::fmt::Write as _;

/// One step of the path to a value: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// An integer token beyond 64 bits, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inexact {
    /// The path from the document's root to the number.
    pub(crate) path: Vec<Step>,
    /// The number as written.
    pub(crate) number: String,
}

/// Renders `steps` as `a.b[3].c` (keys that are not plain words are
/// quoted: `["a b"]`).
pub(crate) fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Step::Key(k)
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Key(k) => {
                let _ = write!(out, "[{k:?}]");
            }
        }
    }
    out
}

enum Frame {
    Object { key: Option<String> },
    Array { index: usize },
}

/// The first integer in `text` that fits neither `i64` nor `u64`, if any.
/// `text` must be JSON serde_json has already accepted: the scan relies on
/// its structure being well formed and only tracks where it is.
pub(crate) fn first_inexact_integer(text: &str) -> Option<Inexact> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                stack.push(Frame::Object { key: None });
                expect_key = true;
                i += 1;
            }
            b'[' => {
                stack.push(Frame::Array { index: 0 });
                expect_key = false;
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
                i += 1;
            }
            b',' => {
                match stack.last_mut() {
                    Some(Frame::Array { index }) => *index += 1,
                    Some(Frame::Object { .. }) => expect_key = true,
                    None => {}
                }
                i += 1;
            }
            b':' => {
                expect_key = false;
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                if expect_key {
                    let raw = text.get(start..i.min(text.len())).unwrap_or("\"\"");
                    let key = serde_json::from_str::<String>(raw).unwrap_or_default();
                    if let Some(Frame::Object { key: slot }) = stack.last_mut() {
                        *slot = Some(key);
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    let path = stack
                        .iter()
                        .filter_map(|frame| match frame {
                            Frame::Object { key } => key.clone().map(Step::Key),
                            Frame::Array { index } => Some(Step::Index(*index)),
                        })
                        .collect();
                    return Some(Inexact {
                        path,
                        number: token.to_owned(),
                    });
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The number token serde_json stopped at: at or just before `line` and
/// `column` (1-based, as its errors give them).
pub(crate) fn number_at(text: &str, line: usize, column: usize) -> Option<&str> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let bytes = text.as_bytes();
    let is_number = |b: u8| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9');
    let mut end = (line_start + column).min(bytes.len());
    while end > line_start && !bytes[end - 1].is_ascii_digit() {
        end -= 1;
    }
    while end < bytes.len() && is_number(bytes[end]) {
        end += 1;
    }
    let mut start = end;
    while start > line_start && is_number(bytes[start - 1]) {
        start -= 1;
    }
    (start < end).then(|| &text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<(String, String)> {
        first_inexact_integer(text).map(|f| (render(&f.path), f.number))
    }

    #[test]
    fn the_number_serde_json_stopped_at_is_found() {
        for text in [
            "{\"a\": 1e400}",
            "[\n  1,\n  -2.5e+999\n]",
            "{\"a\": [1, 2, 1e400, 3]}",
        ] {
            let e = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
            let n = number_at(text, e.line(), e.column());
            assert!(
                matches!(n, Some("1e400" | "-2.5e+999")),
                "{text}: {n:?} at {e}"
            );
        }
    }

    #[test]
    fn integers_within_64_bits_and_floats_pass() {
        for text in [
            r#"{"a": 9223372036854775807, "b": -9223372036854775808}"#,
            r#"{"a": 18446744073709551615, "b": 1e400, "c": 123456789012345678901.5}"#,
            r#"{"s": "18446744073709551616", "k\"18446744073709551616": 1}"#,
            r#"[1, 2.5e-324, -0.0, true, null]"#,
        ] {
            assert_eq!(found(text), None, "{text}");
        }
    }

    #[test]
    fn an_integer_beyond_64_bits_is_found_with_its_path() {
        assert_eq!(
            found(r#"[{"x": 1}, {"config_schema": {"n": [0, 18446744073709551616]}}]"#),
            Some((
                "[1].config_schema.n[1]".to_owned(),
                "18446744073709551616".to_owned()
            ))
        );
        assert_eq!(
            found(r#"{"a b": {"\u0063": -9223372036854775809}}"#),
            Some((r#"["a b"].c"#.to_owned(), "-9223372036854775809".to_owned()))
        );
    }
}
