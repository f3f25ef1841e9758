//! Strict JSON reading: duplicate keys and excessive nesting are errors, and a
//! JSON pointer can be turned back into a line and column for diagnostics.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Default maximum nesting depth of a record (objects and arrays).
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// Maximum nesting depth of a policy file.
pub(crate) const POLICY_MAX_DEPTH: usize = 64;

/// Why a JSON text could not be read. Never holds any part of the text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// 1-based line of the problem (0 if unknown).
    pub line: usize,
    /// 1-based column of the problem (0 if unknown).
    pub column: usize,
    /// What is wrong, without any content of the input.
    pub kind: JsonErrorKind,
}

/// The kinds of JSON problems.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Not valid JSON; the text is serde_json's (which never quotes input).
    Syntax(String),
    /// One object holds the same key twice.
    DuplicateKey,
    /// Nesting deeper than the limit.
    TooDeep(usize),
    /// More values (object members and array elements) than the limit.
    TooManyValues(usize),
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonErrorKind::Syntax(msg) => write!(f, "{msg}"),
            JsonErrorKind::DuplicateKey => write!(f, "duplicate key in object"),
            JsonErrorKind::TooDeep(limit) => write!(f, "nesting deeper than {limit} levels"),
            JsonErrorKind::TooManyValues(limit) => write!(f, "more than {limit} values"),
        }
    }
}

impl std::error::Error for JsonError {}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.line > 0 {
            write!(f, " at line {} column {}", self.line, self.column)?;
        }
        Ok(())
    }
}

const DUPLICATE: &str = "\u{0}duplicate";
const TOO_DEEP: &str = "\u{0}too deep";

/// Parses `bytes` as one JSON value, rejecting duplicate keys and nesting deeper
/// than `max_depth`.
pub fn parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    parse_limited(bytes, max_depth, usize::MAX)
}

/// As [`parse_strict`], and also rejecting more than `max_values` values (object
/// members and array elements, counted at every level) before building them.
pub fn parse_limited(
    bytes: &[u8],
    max_depth: usize,
    max_values: usize,
) -> Result<Value, JsonError> {
    let budget = std::cell::Cell::new(max_values);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let limits = (max_depth, max_values);
    let value = StrictValue {
        depth_left: max_depth,
        values_left: &budget,
    }
    .deserialize(&mut de)
    .map_err(|e| convert(&e, limits))?;
    de.end().map_err(|e| convert(&e, limits))?;
    Ok(value)
}

fn convert(e: &serde_json::Error, (max_depth, max_values): (usize, usize)) -> JsonError {
    let text = e.to_string();
    let kind = if text.starts_with(DUPLICATE) {
        JsonErrorKind::DuplicateKey
    } else if text.starts_with(TOO_DEEP) || text.starts_with("recursion limit exceeded") {
        JsonErrorKind::TooDeep(max_depth)
    } else if text.starts_with(TOO_MANY) {
        JsonErrorKind::TooManyValues(max_values)
    } else {
        // serde_json appends " at line L column C"; we keep line and column apart.
        let bare = match text.rfind(" at line ") {
            Some(cut) => text.get(..cut).unwrap_or(&text).to_owned(),
            None => text,
        };
        JsonErrorKind::Syntax(bare)
    };
    JsonError {
        line: e.line(),
        column: e.column(),
        kind,
    }
}

const TOO_MANY: &str = "\u{0}too many";

struct StrictValue<'b> {
    depth_left: usize,
    /// Shared by the whole parse: every member and element takes one.
    values_left: &'b std::cell::Cell<usize>,
}

impl<'b> StrictValue<'b> {
    /// Counts one member or element against the record's budget.
    fn take_one<E: serde::de::Error>(&self) -> Result<(), E> {
        let left = self
            .values_left
            .get()
            .checked_sub(1)
            .ok_or_else(|| E::custom(TOO_MANY))?;
        self.values_left.set(left);
        Ok(())
    }

    /// The seed for a member or element, one level down.
    fn nested<E: serde::de::Error>(&self) -> Result<StrictValue<'b>, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(StrictValue {
                depth_left,
                values_left: self.values_left,
            }),
            None => Err(E::custom(TOO_DEEP)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested()?)? {
            self.take_one()?;
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match object.entry(key) {
                serde_json::map::Entry::Occupied(_) => return Err(A::Error::custom(DUPLICATE)),
                serde_json::map::Entry::Vacant(slot) => {
                    self.take_one()?;
                    slot.insert(map.next_value_seed(self.nested()?)?);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Finds the 1-based line and column where the value at `pointer` starts in `src`.
pub(crate) fn locate(src: &str, pointer: &str) -> Option<(usize, usize)> {
    let mut scanner = Scanner {
        bytes: src.as_bytes(),
        pos: 0,
    };
    scanner.skip_ws();
    if !pointer.is_empty() {
        for raw in pointer.strip_prefix('/')?.split('/') {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            scanner.enter(&segment)?;
        }
    }
    let before = src.get(..scanner.pos)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..)?.chars().count() + 1;
    Some((line, column))
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == byte).then(|| self.pos += 1)
    }
    /// Moves from the start of a container to the start of the member `segment`.
    fn enter(&mut self, segment: &str) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                loop {
                    self.skip_ws();
                    let key = self.read_string()?;
                    self.expect(b':')?;
                    self.skip_ws();
                    if key == segment {
                        return Some(());
                    }
                    self.skip_value()?;
                    self.expect(b',')?;
                }
            }
            b'[' => {
                let index: usize = segment.parse().ok()?;
                self.pos += 1;
                for _ in 0..index {
                    self.skip_ws();
                    self.skip_value()?;
                    self.expect(b',')?;
                }
                self.skip_ws();
                Some(())
            }
            _ => None,
        }
    }
    fn read_string(&mut self) -> Option<String> {
        let start = self.pos;
        self.skip_string()?;
        serde_json::from_slice(self.bytes.get(start..self.pos)?).ok()
    }
    fn skip_string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => self.pos += 1,
            }
        }
    }
    fn skip_value(&mut self) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => self.skip_string(),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.pos += 1;
                loop {
                    self.skip_ws();
                    if self.peek()? == close {
                        self.pos += 1;
                        return Some(());
                    }
                    if open == b'{' {
                        self.skip_string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value()?;
                    self.skip_ws();
                    if self.peek()? == b',' {
                        self.pos += 1;
                    }
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_with_position() {
        let err = parse_strict(br#"{"a": 1, "a": 2}"#, 8).unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::DuplicateKey);
        assert_eq!(err.line, 1);
    }

    #[test]
    fn nested_duplicates_are_rejected() {
        let err = parse_strict(br#"{"a": [{"b": 1, "b": 1}]}"#, 8).unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::DuplicateKey);
    }

    #[test]
    fn depth_limit_is_enforced() {
        assert!(parse_strict(br#"[[[1]]]"#, 3).is_ok());
        let err = parse_strict(br#"[[[[1]]]]"#, 3).unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::TooDeep(3));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(
            parse_strict(deep.as_bytes(), 32).unwrap_err().kind,
            JsonErrorKind::TooDeep(_)
        ));
    }

    #[test]
    fn syntax_errors_never_quote_input() {
        let err = parse_strict(br#"{"name": "Jansen" "x"}"#, 8).unwrap_err();
        assert!(matches!(err.kind, JsonErrorKind::Syntax(_)));
        assert!(!err.to_string().contains("Jansen"));
        assert!(err.to_string().contains("line 1"));
    }

    #[test]
    fn trailing_content_is_rejected() {
        assert!(parse_strict(br#"{} {}"#, 8).is_err());
    }

    #[test]
    fn locate_finds_nested_members() {
        let src = "{\n  \"a\": [\n    {\"b\": 1},\n    {\"c/d\": true}\n  ]\n}";
        assert_eq!(locate(src, ""), Some((1, 1)));
        assert_eq!(locate(src, "/a"), Some((2, 8)));
        assert_eq!(locate(src, "/a/1"), Some((4, 5)));
        assert_eq!(locate(src, "/a/1/c~1d"), Some((4, 13)));
        assert_eq!(locate(src, "/a/0/b"), Some((3, 11)));
        assert_eq!(locate(src, "/missing"), None);
    }
}
