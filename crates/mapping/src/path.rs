//! The path language: where in a message a value is.
//!
//! ```text
//! path      = [ selector "/" ] field
//! selector  = TAG [ "[" condition { "," condition } "]" ]
//! condition = field "=" value { "|" value }
//! field     = TAG NN [ "-" N ]          element NN (two digits, from 01), component N (from 1)
//! TAG       = 2–3 upper-case letters or digits, starting with a letter
//! value     = one or more characters other than "]", ",", "|", "/"
//! ```
//!
//! `BEG03` is element 3 of the first `BEG`; `DTM01-2` is component 2 of element 1;
//! `N1[N101=ST]/N104` is `N104` of the first `N1` whose `N101` is `ST`;
//! `DTM[DTM01-1=137|4]/DTM01-2` allows either qualifier. Every segment named in a path must be
//! the selector's segment. Paths are evaluated inside a scope (the message header, one loop
//! instance), never across it.
//!
//! A selector alone (`HL[HL03=I]`, [`Selector::parse`]) chooses segments without reading a
//! value: where a loop starts, which hierarchical level a value is read from.

use std::fmt;
use std::str::FromStr;

use edi::Tag;

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// Which segment, when a qualifier chooses it; `None` takes the first segment with the
    /// field's tag.
    pub selector: Option<Selector>,
    /// The value read from the chosen segment.
    pub field: FieldRef,
    text: String,
    /// The field's tag as segments carry theirs, for comparing without touching the string.
    tag: Option<Tag>,
}

/// A segment chosen by tag and qualifier values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The segment tag.
    pub tag: String,
    /// All must hold.
    pub conditions: Vec<Condition>,
}

impl Selector {
    /// Parses a selector on its own: `HL`, `HL[HL03=I]`, `CPS[CPS02=1,CPS03=3|4]`.
    pub fn parse(text: &str) -> Result<Selector, PathError> {
        let mut c = Cursor { text, pos: 0 };
        if text.is_empty() {
            return c.fail(
                0,
                "empty selector: write a segment tag such as HL or HL[HL03=I]",
            );
        }
        let start = c.pos;
        let word = c.word().to_owned();
        let tag = c.tag(&word, start)?;
        let conditions = c.conditions(&tag)?;
        if c.pos != text.len() {
            return c.fail(
                c.pos,
                format!("unexpected text after the selector; write {tag} or {tag}[{tag}01=…]"),
            );
        }
        Ok(Selector { tag, conditions })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)?;
        for (i, c) in self.conditions.iter().enumerate() {
            f.write_str(if i == 0 { "[" } else { "," })?;
            write!(f, "{}={}", c.field, c.values.join("|"))?;
        }
        if !self.conditions.is_empty() {
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// `field=value|value…`: the field's value (trimmed) is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field compared.
    pub field: FieldRef,
    /// The accepted values.
    pub values: Vec<String>,
}

/// An element, optionally one component of it, of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The segment tag.
    pub tag: String,
    /// The element, from 1.
    pub element: usize,
    /// The component, from 1; `None` is the first component (the whole of a simple element).
    pub component: Option<usize>,
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}", self.tag, self.element)?;
        if let Some(c) = self.component {
            write!(f, "-{c}")?;
        }
        Ok(())
    }
}

/// Why a path was refused: the path, the column (from 1) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?} at column {column}: {message}")]
pub struct PathError {
    /// The path as written.
    pub path: String,
    /// The column where the problem is, from 1.
    pub column: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl Path {
    /// Parses a path.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        Cursor { text, pos: 0 }.path()
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The tag of the segment the path reads.
    pub fn tag(&self) -> &str {
        &self.field.tag
    }

    /// The same tag as a segment's [`Tag`] (always there: a path's tag is checked when parsed).
    pub(crate) fn segment_tag(&self) -> Option<Tag> {
        self.tag
    }
}

impl FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Path, PathError> {
        Path::parse(s)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl Cursor<'_> {
    fn fail<T>(&self, at: usize, message: impl Into<String>) -> Result<T, PathError> {
        Err(PathError {
            path: self.text.to_owned(),
            column: at + 1,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// A run of upper-case letters and digits.
    fn word(&mut self) -> &str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn path(mut self) -> Result<Path, PathError> {
        if self.text.is_empty() {
            return self.fail(0, "empty path: write a field such as BEG03 or DTM01-2");
        }
        let start = self.pos;
        let word = self.word().to_owned();
        let (selector, field) = match self.peek() {
            Some(b'[') | Some(b'/') => {
                let tag = self.tag(&word, start)?;
                let conditions = self.conditions(&tag)?;
                if self.peek() != Some(b'/') {
                    return self.fail(
                        self.pos,
                        format!("expected '/' and a field of {tag} after the selector, e.g. {tag}[…]/{tag}02"),
                    );
                }
                self.pos += 1;
                let at = self.pos;
                let field = self.field()?;
                if field.tag != tag {
                    return self.fail(
                        at,
                        format!(
                            "the field names segment {} but the selector chose {tag}",
                            field.tag
                        ),
                    );
                }
                (Some(Selector { tag, conditions }), field)
            }
            _ => {
                self.pos = start;
                (None, self.field()?)
            }
        };
        if self.pos != self.text.len() {
            return self.fail(self.pos, "unexpected text after the field");
        }
        Ok(Path {
            selector,
            tag: Tag::new(field.tag.as_bytes()),
            field,
            text: self.text.to_owned(),
        })
    }

    /// `[condition,…]` when the next character opens one; none otherwise.
    fn conditions(&mut self, tag: &str) -> Result<Vec<Condition>, PathError> {
        let mut conditions = Vec::new();
        if self.peek() == Some(b'[') {
            self.pos += 1;
            loop {
                conditions.push(self.condition(tag)?);
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        return self.fail(self.pos, "expected ',' or ']' after a condition");
                    }
                }
            }
        }
        Ok(conditions)
    }

    fn tag(&self, word: &str, at: usize) -> Result<String, PathError> {
        let ok = (2..=3).contains(&word.len()) && word.as_bytes()[0].is_ascii_uppercase();
        if ok {
            Ok(word.to_owned())
        } else {
            self.fail(
                at,
                "expected a segment tag: 2–3 upper-case letters or digits starting with a letter",
            )
        }
    }

    fn field(&mut self) -> Result<FieldRef, PathError> {
        let start = self.pos;
        let word = self.word().to_owned();
        if word.len() < 4 || word.len() > 5 {
            return self.fail(
                start,
                "expected a field: a segment tag and a two-digit element number, e.g. BEG03 or N104",
            );
        }
        let (tag, element) = word.split_at(word.len() - 2);
        let tag = self.tag(tag, start)?;
        let element: usize = match element.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                return self.fail(
                    start + tag.len(),
                    "the element number is two digits from 01, e.g. BEG03",
                );
            }
        };
        let component = if self.peek() == Some(b'-') {
            self.pos += 1;
            let at = self.pos;
            let digits = self.word();
            match digits.parse::<usize>() {
                Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => {
                    return self.fail(
                        at,
                        "expected a component number from 1 after '-', e.g. DTM01-2",
                    );
                }
            }
        } else {
            None
        };
        Ok(FieldRef {
            tag,
            element,
            component,
        })
    }

    fn condition(&mut self, tag: &str) -> Result<Condition, PathError> {
        let at = self.pos;
        let field = self.field()?;
        if field.tag != tag {
            return self.fail(
                at,
                format!(
                    "the condition names segment {} but the selector is {tag}",
                    field.tag
                ),
            );
        }
        if self.peek() != Some(b'=') {
            return self.fail(self.pos, format!("expected '=' and a value after {field}"));
        }
        self.pos += 1;
        let mut values = Vec::new();
        loop {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|b| !matches!(b, b']' | b',' | b'|' | b'/'))
            {
                self.pos += 1;
            }
            if self.pos == start {
                return self.fail(start, format!("expected a value for {field}"));
            }
            values.push(self.text[start..self.pos].to_owned());
            if self.peek() == Some(b'|') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(Condition { field, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_alone_and_print_back() {
        let s = Selector::parse("HL[HL03=P|T]").expect("selector");
        assert_eq!(s.tag, "HL");
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].field.to_string(), "HL03");
        assert_eq!(s.conditions[0].values, ["P", "T"]);
        assert_eq!(s.to_string(), "HL[HL03=P|T]");

        let s = Selector::parse("CPS").expect("a bare tag");
        assert!(s.conditions.is_empty());
        assert_eq!(s.to_string(), "CPS");

        let s = Selector::parse("CPS[CPS01=1,CPS02-1=2]").expect("two conditions");
        assert_eq!(s.to_string(), "CPS[CPS01=1,CPS02-1=2]");

        // A path's selector is the same thing.
        let p = Path::parse("HL[HL03=P|T]/HL01").expect("path");
        assert_eq!(
            p.selector,
            Some(Selector::parse("HL[HL03=P|T]").expect("selector"))
        );
    }

    #[test]
    fn bad_selectors_say_where_and_what() {
        let cases = [
            (
                "",
                1,
                "empty selector: write a segment tag such as HL or HL[HL03=I]",
            ),
            (
                "hl",
                1,
                "expected a segment tag: 2–3 upper-case letters or digits starting with a letter",
            ),
            ("HL[HL03=I", 10, "expected ',' or ']' after a condition"),
            (
                "HL/HL01",
                3,
                "unexpected text after the selector; write HL or HL[HL01=…]",
            ),
            (
                "HL[LIN01=I]",
                4,
                "the condition names segment LIN but the selector is HL",
            ),
        ];
        for (text, column, message) in cases {
            let e = Selector::parse(text).expect_err(text);
            assert_eq!((e.column, e.message.as_str()), (column, message), "{text}");
        }
    }
}
