//! One XML document, read with quick-xml's namespace-aware streaming reader into a flat list of
//! the elements the mappings can reach: their expanded names, attributes, own text and byte
//! offsets. Subtrees no path can descend into (signatures, extensions, anything the mapping
//! does not name) are read for well-formedness but not kept.

use std::collections::HashSet;
use std::ops::Range;

use quick_xml::NsReader;
use quick_xml::events::Event as XmlEvent;
use quick_xml::name::ResolveResult;

use super::XmlError;
use super::path::{XmlName, XmlPath};

/// An element: its name, where its attributes and text are, and where its subtree ends.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Index into [`Doc::names`].
    pub name: u32,
    /// The nodes after this one up to (not including) `end` are its descendants.
    pub end: u32,
    pub attrs: Range<u32>,
    /// The element's own text (not its descendants'), in [`Doc::text`].
    pub text: Range<u32>,
    /// Byte offset of its start tag in the input.
    pub offset: u64,
}

/// The kept elements of one document, in document order; node 0 is the root.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    pub names: Vec<XmlName>,
    pub nodes: Vec<Node>,
    pub attrs: Vec<(u32, Range<u32>)>,
    pub text: String,
}

/// Which local names are worth keeping: every element name any candidate mapping's paths use.
pub(crate) struct Keep<'p> {
    pub names: HashSet<&'p str>,
}

impl<'p> Keep<'p> {
    pub fn new(paths: impl IntoIterator<Item = &'p XmlPath>) -> Keep<'p> {
        let mut names = Vec::new();
        for p in paths {
            p.local_names(&mut names);
        }
        Keep {
            names: names.into_iter().collect(),
        }
    }
}

impl Doc {
    /// The name of node `i`.
    pub fn name(&self, i: u32) -> Option<&XmlName> {
        let n = self.nodes.get(i as usize)?;
        self.names.get(n.name as usize)
    }

    /// The children of node `i`, in order.
    pub fn children(&self, i: u32) -> impl Iterator<Item = u32> + '_ {
        let end = self.nodes.get(i as usize).map_or(0, |n| n.end);
        std::iter::successors(Some(i + 1), move |&c| {
            self.nodes.get(c as usize).map(|n| n.end)
        })
        .take_while(move |&c| c < end)
    }

    /// The element's own text, trimmed.
    pub fn text(&self, i: u32) -> &str {
        self.nodes
            .get(i as usize)
            .and_then(|n| self.text.get(n.text.start as usize..n.text.end as usize))
            .unwrap_or("")
            .trim()
    }

    /// The value of an attribute of node `i`, trimmed.
    pub fn attribute(&self, i: u32, name: &XmlName) -> Option<&str> {
        let n = self.nodes.get(i as usize)?;
        self.attrs
            .get(n.attrs.start as usize..n.attrs.end as usize)?
            .iter()
            .find(|(a, _)| self.names.get(*a as usize) == Some(name))
            .and_then(|(_, v)| self.text.get(v.start as usize..v.end as usize))
            .map(str::trim)
    }

    fn intern(&mut self, ns: Option<&[u8]>, local: &[u8], offset: u64) -> Result<u32, XmlError> {
        let text = |b: &[u8]| {
            std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| XmlError::Malformed {
                    offset,
                    message: "a name is not UTF-8".into(),
                })
        };
        let namespace = ns.map(text).transpose()?;
        let local = text(local)?;
        // Documents use a few dozen names; a linear scan over them is cheaper than hashing.
        if let Some(k) = self
            .names
            .iter()
            .position(|n| n.local == local && n.namespace == namespace)
        {
            return Ok(k as u32);
        }
        self.names.push(XmlName { namespace, local });
        Ok((self.names.len() - 1) as u32)
    }

    fn push_text(&mut self, s: &str) -> Range<u32> {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        start..self.text.len() as u32
    }
}

/// Where the document starts: after a UTF-8 byte order mark, if any.
fn body(input: &[u8]) -> Result<(&str, u64), XmlError> {
    // Offsets into the kept text are 32-bit: a document that could overflow them is refused
    // rather than misread.
    if u32::try_from(input.len()).is_err() {
        return Err(XmlError::Malformed {
            offset: 0,
            message: format!(
                "{} bytes is more than one XML document may have (4 GiB)",
                input.len()
            ),
        });
    }
    let (bytes, skipped) = match input {
        [0xEF, 0xBB, 0xBF, rest @ ..] => (rest, 3u64),
        [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..] => {
            return Err(XmlError::Encoding {
                offset: 0,
                message: "UTF-16 documents are not supported: send UTF-8".into(),
            });
        }
        _ => (input, 0),
    };
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok((s, skipped)),
        Err(e) => Err(XmlError::Encoding {
            offset: skipped + e.valid_up_to() as u64,
            message: "not UTF-8: send UTF-8 (declared or not)".into(),
        }),
    }
}

/// The root element's expanded name and offset, without reading further than its start tag.
pub(crate) fn root(input: &[u8]) -> Result<(XmlName, u64), XmlError> {
    let (text, skipped) = body(input)?;
    let mut r = NsReader::from_str(text);
    loop {
        let at = r.buffer_position() + skipped;
        let (ns, ev) = match r.read_resolved_event() {
            Ok(x) => x,
            Err(e) => return Err(malformed(&r, skipped, e)),
        };
        match ev {
            XmlEvent::Start(e) | XmlEvent::Empty(e) => {
                let namespace = bound(&ns, at)?;
                let local = std::str::from_utf8(e.local_name().into_inner())
                    .map_err(|_| XmlError::Malformed {
                        offset: at,
                        message: "a name is not UTF-8".into(),
                    })?
                    .to_owned();
                return Ok((XmlName { namespace, local }, at));
            }
            XmlEvent::Eof => {
                return Err(XmlError::Malformed {
                    offset: at,
                    message: "no root element".into(),
                });
            }
            XmlEvent::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(XmlError::Malformed {
                    offset: at,
                    message: "text before the root element".into(),
                });
            }
            _ => {}
        }
    }
}

fn malformed<R>(r: &NsReader<R>, skipped: u64, e: quick_xml::Error) -> XmlError {
    XmlError::Malformed {
        offset: r.error_position() + skipped,
        message: e.to_string(),
    }
}

/// The namespace a resolved name is in; an undeclared prefix is an error.
fn bound(ns: &ResolveResult<'_>, offset: u64) -> Result<Option<String>, XmlError> {
    match ns {
        ResolveResult::Bound(n) => std::str::from_utf8(n.as_ref())
            .map(|s| Some(s.to_owned()))
            .map_err(|_| XmlError::Malformed {
                offset,
                message: "a namespace URI is not UTF-8".into(),
            }),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(XmlError::Malformed {
            offset,
            message: format!(
                "namespace prefix {:?} is not declared",
                String::from_utf8_lossy(p)
            ),
        }),
    }
}

/// Reads the whole document, keeping the root and the elements `keep` names (with everything
/// on the way down to them that is also named).
pub(crate) fn read(input: &[u8], keep: &Keep<'_>) -> Result<Doc, XmlError> {
    let (text, skipped) = body(input)?;
    let mut r = NsReader::from_str(text);
    let mut doc = Doc::default();
    // The kept elements open at this point, and how deep inside a skipped subtree we are.
    let mut open: Vec<(u32, String)> = Vec::new();
    let mut skipping = 0usize;
    let mut depth = 0usize;
    let mut seen_root = false;
    loop {
        let at = r.buffer_position() + skipped;
        let (ns, ev) = match r.read_resolved_event() {
            Ok(x) => x,
            Err(e) => return Err(malformed(&r, skipped, e)),
        };
        match ev {
            XmlEvent::Start(ref e) | XmlEvent::Empty(ref e) => {
                let empty = matches!(ev, XmlEvent::Empty(_));
                if depth == 0 && seen_root {
                    return Err(XmlError::Malformed {
                        offset: at,
                        message: "a second root element: one document per file".into(),
                    });
                }
                seen_root = true;
                let local = e.local_name().into_inner();
                let wanted = skipping == 0
                    && (open.is_empty()
                        || std::str::from_utf8(local).is_ok_and(|l| keep.names.contains(l)));
                if wanted {
                    let namespace = bound(&ns, at)?;
                    let name = doc.intern(namespace.as_deref().map(str::as_bytes), local, at)?;
                    let first_attr = doc.attrs.len() as u32;
                    for a in e.attributes() {
                        let a = a.map_err(|err| XmlError::Malformed {
                            offset: at,
                            message: err.to_string(),
                        })?;
                        let key = a.key;
                        // Namespace declarations are not attributes of the document's data.
                        if key.as_namespace_binding().is_some() {
                            continue;
                        }
                        let (ans, alocal) = r.resolve_attribute(key);
                        let ans = bound(&ans, at)?;
                        let aname =
                            doc.intern(ans.as_deref().map(str::as_bytes), alocal.into_inner(), at)?;
                        let value = a.unescape_value().map_err(|err| XmlError::Malformed {
                            offset: at,
                            message: err.to_string(),
                        })?;
                        let range = doc.push_text(&value);
                        doc.attrs.push((aname, range));
                    }
                    let attrs = first_attr..doc.attrs.len() as u32;
                    let here = doc.text.len() as u32;
                    doc.nodes.push(Node {
                        name,
                        end: 0,
                        attrs,
                        text: here..here,
                        offset: at,
                    });
                    let idx = (doc.nodes.len() - 1) as u32;
                    if empty {
                        doc.nodes[idx as usize].end = idx + 1;
                    } else {
                        open.push((idx, String::new()));
                    }
                } else if !empty {
                    skipping += 1;
                }
                if !empty {
                    depth += 1;
                }
            }
            XmlEvent::End(_) => {
                depth = depth.saturating_sub(1);
                if skipping > 0 {
                    skipping -= 1;
                } else if let Some((idx, buf)) = open.pop() {
                    let end = doc.nodes.len() as u32;
                    let text = doc.push_text(&buf);
                    if let Some(n) = doc.nodes.get_mut(idx as usize) {
                        n.end = end;
                        n.text = text;
                    }
                }
            }
            XmlEvent::Text(t) => {
                let s = t.decode().map_err(|err| XmlError::Malformed {
                    offset: at,
                    message: err.to_string(),
                })?;
                if depth == 0 {
                    if !s.trim().is_empty() {
                        return Err(XmlError::Malformed {
                            offset: at,
                            message: "text outside the root element".into(),
                        });
                    }
                } else if skipping == 0 {
                    append_text(&mut open, &s);
                }
            }
            XmlEvent::CData(t) => {
                if depth == 0 {
                    return Err(XmlError::Malformed {
                        offset: at,
                        message: "CDATA outside the root element".into(),
                    });
                }
                if skipping == 0 {
                    let s = t.decode().map_err(|err| XmlError::Malformed {
                        offset: at,
                        message: err.to_string(),
                    })?;
                    append_text(&mut open, &s);
                }
            }
            XmlEvent::GeneralRef(g) => {
                let resolved: String = if let Some(c) =
                    g.resolve_char_ref().map_err(|err| XmlError::Malformed {
                        offset: at,
                        message: err.to_string(),
                    })? {
                    c.to_string()
                } else {
                    let name = g.decode().map_err(|err| XmlError::Malformed {
                        offset: at,
                        message: err.to_string(),
                    })?;
                    // Only the predefined entities: a DTD's entities are never expanded (no
                    // fetching, no entity bombs), so a document that needs one is refused.
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => s.to_owned(),
                        None => {
                            return Err(XmlError::Malformed {
                                offset: at,
                                message: format!(
                                    "entity &{name}; is not one of XML's predefined entities"
                                ),
                            });
                        }
                    }
                };
                if depth == 0 {
                    return Err(XmlError::Malformed {
                        offset: at,
                        message: "a reference outside the root element".into(),
                    });
                }
                if skipping == 0 {
                    append_text(&mut open, &resolved);
                }
            }
            XmlEvent::Eof => {
                if depth > 0 {
                    return Err(XmlError::Malformed {
                        offset: at,
                        message: format!("the document ends inside {depth} open element(s)"),
                    });
                }
                if !seen_root {
                    return Err(XmlError::Malformed {
                        offset: at,
                        message: "no root element".into(),
                    });
                }
                return Ok(doc);
            }
            XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::Comment(_) | XmlEvent::DocType(_) => {}
        }
    }
}

/// Adds text to the innermost open kept element's buffer (text between an element's children
/// is its own too); the buffer is stored when the element ends, so nothing is copied twice.
fn append_text(open: &mut [(u32, String)], s: &str) {
    if let Some((_, buf)) = open.last_mut() {
        buf.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep<'a>(names: &[&'a str]) -> Keep<'a> {
        Keep {
            names: names.iter().copied().collect(),
        }
    }

    #[test]
    fn only_the_elements_paths_can_reach_are_kept() {
        let input = br#"<r xmlns:p="urn:p"><a k="v"><x><b>no</b></x><b> 1 &amp; 2 </b><p:b>3</p:b></a><c>skipped</c> tail</r>"#;
        let doc = read(input, &keep(&["a", "b"])).expect("well-formed");
        let names: Vec<String> = (0..doc.nodes.len() as u32)
            .filter_map(|i| doc.name(i).map(ToString::to_string))
            .collect();
        // `x` is not named, so the `b` inside it is never reached and not kept either.
        assert_eq!(names, ["r", "a", "b", "{urn:p}b"]);
        assert_eq!(doc.text(2), "1 & 2");
        assert_eq!(doc.text(0), "tail");
        let k = XmlName {
            namespace: None,
            local: "k".into(),
        };
        assert_eq!(doc.attribute(1, &k), Some("v"));
        assert_eq!(doc.children(0).collect::<Vec<_>>(), [1]);
        assert_eq!(doc.children(1).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(doc.nodes[0].offset, 0);
    }

    #[test]
    fn mixed_text_of_an_element_is_its_own_text_in_order() {
        let doc = read(b"<r>one<a/>two<![CDATA[<three>]]>&#x34;</r>", &keep(&[])).expect("ok");
        assert_eq!(doc.text(0), "onetwo<three>4");
    }
}
