//! The path language over XML: where in a document a value is.
//!
//! ```text
//! path      = [ "/" ] step { "/" step } [ "/" attribute ]  |  attribute  |  "."
//! step      = name [ "[" condition { "," condition } "]" ]
//! condition = test "=" value { "|" value }
//! test      = attribute | name { "/" name } [ "/" attribute ]
//! attribute = "@" name
//! name      = [ prefix ":" ] local            prefix bound in the file's [namespaces]
//! value     = one or more characters other than "]", ",", "|"
//! ```
//!
//! `cbc:ID` is the text of the first `cbc:ID` child of the scope element;
//! `cac:OrderLine/cac:LineItem/cbc:ID` goes down element by element; `cbc:Quantity/@unitCode`
//! reads an attribute; `cbc:ID[@schemeID=0160]` takes the first `cbc:ID` whose `schemeID` is
//! `0160`; `cac:PartyIdentification[cbc:ID/@schemeID=0088]/cbc:ID` tests a descendant. A path
//! starting with `/` starts at the root element (`/cXML/Header/From/Credential/Identity`); `.`
//! is the scope element's own text.
//!
//! Names are matched by namespace URI and local name, never by the prefix a document uses: the
//! prefixes in a path are the mapping file's, bound in its `[namespaces]` table (`"" = URI`
//! binds unprefixed element names; without it they have no namespace, as in cXML). The prefix
//! `xml` is always bound. Unprefixed attributes have no namespace, as in XML.

use std::collections::BTreeMap;
use std::fmt;

use crate::path::PathError;

/// The namespace the prefix `xml` is bound to in every document.
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// An expanded name: namespace URI (none for an unqualified name) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct XmlName {
    /// The namespace URI, `None` when the name is in no namespace.
    pub namespace: Option<String>,
    /// The local name.
    pub local: String,
}

impl fmt::Display for XmlName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

/// One element step: a name and conditions on the element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The element's name.
    pub name: XmlName,
    /// All must hold.
    pub conditions: Vec<XmlCondition>,
}

/// `test=value|value…`: some value `test` finds (trimmed) is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlCondition {
    /// Where the compared value is, from the step's element.
    pub test: XmlPath,
    /// The accepted values.
    pub values: Vec<String>,
}

/// A parsed XML path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlPath {
    /// Starts at the root element instead of the scope element.
    pub absolute: bool,
    /// The elements, from the scope (or the root's parent, when absolute) down.
    pub steps: Vec<Step>,
    /// The attribute read from the last element (or the scope element when there are no
    /// steps); `None` reads the element's text.
    pub attribute: Option<XmlName>,
    text: String,
}

impl XmlPath {
    /// Parses a path; `namespaces` binds the prefixes it may use.
    pub fn parse(text: &str, namespaces: &BTreeMap<String, String>) -> Result<XmlPath, PathError> {
        let mut c = Cursor {
            text,
            pos: 0,
            namespaces,
        };
        if text.is_empty() {
            return c.fail(
                0,
                "empty path: write an element such as cbc:ID or an attribute such as @unitCode",
            );
        }
        let p = c.path(true)?;
        if c.pos != text.len() {
            return c.fail(c.pos, "unexpected text after the path");
        }
        Ok(p)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every local name the path (and its conditions) may descend through.
    pub(crate) fn local_names<'p>(&'p self, out: &mut Vec<&'p str>) {
        for s in &self.steps {
            out.push(&s.name.local);
            for c in &s.conditions {
                c.test.local_names(out);
            }
        }
    }
}

impl fmt::Display for XmlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

struct Cursor<'t> {
    text: &'t str,
    pos: usize,
    namespaces: &'t BTreeMap<String, String>,
}

/// Whether `c` may appear in an XML name (NCName, without the colon).
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '\u{B7}')
}

impl Cursor<'_> {
    fn fail<T>(&self, at: usize, message: impl Into<String>) -> Result<T, PathError> {
        Err(PathError {
            path: self.text.to_owned(),
            // Columns count characters, as an editor does.
            column: self.text[..at.min(self.text.len())].chars().count() + 1,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// An NCName at the cursor (possibly empty).
    fn ncname(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if name_char(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        &self.text[start..self.pos]
    }

    /// `[prefix:]local`, resolved; `element` decides what an unprefixed name means.
    fn name(&mut self, element: bool) -> Result<XmlName, PathError> {
        let start = self.pos;
        let first = self.ncname().to_owned();
        let bad_start = |s: &str| {
            s.chars()
                .next()
                .is_none_or(|c| c.is_ascii_digit() || matches!(c, '-' | '.'))
        };
        if first.is_empty() || bad_start(&first) {
            let what = if element {
                "an element"
            } else {
                "an attribute"
            };
            return self.fail(
                start,
                format!("expected {what} name such as cbc:ID or unitCode"),
            );
        }
        if !self.eat(':') {
            let namespace = if element {
                self.namespaces.get("").cloned()
            } else {
                None
            };
            return Ok(XmlName {
                namespace,
                local: first,
            });
        }
        let at = self.pos;
        let local = self.ncname().to_owned();
        if local.is_empty() || bad_start(&local) {
            return self.fail(at, format!("expected a local name after {first}:"));
        }
        let namespace = if first == "xml" {
            XML_NS.to_owned()
        } else {
            match self.namespaces.get(&first) {
                Some(uri) if !first.is_empty() => uri.clone(),
                _ => {
                    return self.fail(
                        start,
                        format!(
                            "prefix {first:?} is not bound: add {first} = \"namespace URI\" to [namespaces]"
                        ),
                    );
                }
            }
        };
        Ok(XmlName {
            namespace: Some(namespace),
            local,
        })
    }

    /// A path; `conditions` allows `[…]` on steps (not inside a condition's test).
    fn path(&mut self, conditions: bool) -> Result<XmlPath, PathError> {
        let start = self.pos;
        if self.peek() == Some('.') && conditions {
            self.pos += 1;
            return Ok(XmlPath {
                absolute: false,
                steps: Vec::new(),
                attribute: None,
                text: self.text[start..self.pos].to_owned(),
            });
        }
        let absolute = conditions && self.eat('/');
        let mut steps = Vec::new();
        let mut attribute = None;
        loop {
            if self.eat('@') {
                attribute = Some(self.name(false)?);
                break;
            }
            let name = self.name(true)?;
            let mut conds = Vec::new();
            if self.peek() == Some('[') {
                if !conditions {
                    return self.fail(
                        self.pos,
                        "a condition's test cannot have conditions of its own",
                    );
                }
                self.pos += 1;
                loop {
                    conds.push(self.condition()?);
                    if self.eat(',') {
                        continue;
                    }
                    if self.eat(']') {
                        break;
                    }
                    return self.fail(self.pos, "expected ',' or ']' after a condition");
                }
            }
            steps.push(Step {
                name,
                conditions: conds,
            });
            if !self.eat('/') {
                break;
            }
        }
        if absolute && steps.is_empty() {
            return self.fail(
                start,
                "an absolute path starts with the root element, e.g. /cXML/@payloadID",
            );
        }
        Ok(XmlPath {
            absolute,
            steps,
            attribute,
            text: self.text[start..self.pos].to_owned(),
        })
    }

    fn condition(&mut self) -> Result<XmlCondition, PathError> {
        let test = self.path(false)?;
        if !self.eat('=') {
            return self.fail(
                self.pos,
                format!("expected '=' and a value after {}", test.text),
            );
        }
        let mut values = Vec::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(|c| !matches!(c, ']' | ',' | '|')) {
                self.pos += self.peek().map_or(1, char::len_utf8);
            }
            if self.pos == start {
                return self.fail(start, format!("expected a value for {}", test.text));
            }
            values.push(self.text[start..self.pos].to_owned());
            if !self.eat('|') {
                break;
            }
        }
        Ok(XmlCondition { test, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> BTreeMap<String, String> {
        [("cbc", "urn:cbc"), ("cac", "urn:cac"), ("ord", "urn:ord")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    }

    #[test]
    fn paths_parse_with_namespaces_attributes_and_conditions() {
        let p = XmlPath::parse("cac:OrderLine/cac:LineItem/cbc:Quantity/@unitCode", &ns())
            .expect("path");
        assert!(!p.absolute);
        assert_eq!(p.steps.len(), 3);
        assert_eq!(p.steps[0].name.namespace.as_deref(), Some("urn:cac"));
        assert_eq!(p.steps[2].name.local, "Quantity");
        let a = p.attribute.expect("attribute");
        assert_eq!((a.namespace, a.local.as_str()), (None, "unitCode"));

        let p = XmlPath::parse(
            "cac:PartyIdentification[cbc:ID/@schemeID=0088|0060]/cbc:ID",
            &ns(),
        )
        .expect("path");
        let c = &p.steps[0].conditions[0];
        assert_eq!(c.values, ["0088", "0060"]);
        assert_eq!(c.test.steps[0].name.local, "ID");
        assert_eq!(
            c.test.attribute.as_ref().map(|a| a.local.as_str()),
            Some("schemeID")
        );

        let p = XmlPath::parse(
            "/cXML/Header/From/Credential[@domain=NetworkID,@type=x]/Identity",
            &ns(),
        )
        .expect("absolute");
        assert!(p.absolute);
        assert_eq!(p.steps[0].name.namespace, None);
        assert_eq!(p.steps[3].conditions.len(), 2);

        assert!(
            XmlPath::parse("@xml:lang", &ns())
                .expect("xml prefix")
                .attribute
                .is_some()
        );
        assert!(XmlPath::parse(".", &ns()).expect("self").steps.is_empty());
    }

    #[test]
    fn bad_paths_say_where_and_what() {
        let cases = [
            ("", 1, "empty path"),
            ("cbc:ID[@schemeID=0160", 22, "expected ',' or ']'"),
            ("foo:ID", 1, "prefix \"foo\" is not bound"),
            ("cbc:", 5, "expected a local name after cbc:"),
            ("cbc:ID/", 8, "expected an element name"),
            (
                "cbc:ID[@schemeID]",
                17,
                "expected '=' and a value after @schemeID",
            ),
            ("cbc:ID[@schemeID=]", 18, "expected a value for @schemeID"),
            ("cbc:ID extra", 7, "unexpected text after the path"),
            ("/", 2, "expected an element name"),
            ("cbc:ID[cbc:X[@a=1]=2]", 13, "cannot have conditions"),
            ("@unitCode/cbc:ID", 10, "unexpected text after the path"),
        ];
        for (text, column, message) in cases {
            let e = XmlPath::parse(text, &ns()).expect_err(text);
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {e}");
        }
    }
}
