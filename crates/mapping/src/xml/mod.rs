//! XML documents (UBL 2.1, cXML) to canonical events, driven by mapping files with
//! `syntax = "xml"` (see `mappings/README.md`, *XML*).
//!
//! - [`path`]: the XML path language (`cac:OrderLine/cac:LineItem/cbc:ID`, `@unitCode`,
//!   `cbc:ID[@schemeID=0160]`), prefixes bound by the mapping file, never by the sender.
//! - [`spec`]: XML mapping files, checked when loaded.
//! - [`read`]: one document read in a single streaming pass with quick-xml; the mapping is
//!   chosen by the root element's namespace and local name (and, for cXML, the request element
//!   under it); only the elements the mapping's paths can reach are kept.
//! - [`XmlDocument::translate`]: the event, or every problem found, field by field.
//!
//! ```
//! let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
//! <Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"
//!        xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
//!        xmlns:a="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2">
//!   <b:ID>PO-1</b:ID><b:IssueDate>2024-01-15</b:IssueDate>
//!   <a:OrderLine><a:LineItem><b:ID>1</b:ID><b:Quantity unitCode="H87">5</b:Quantity>
//!   </a:LineItem></a:OrderLine>
//! </Order>"#;
//! let mappings = mapping::Mappings::builtin().unwrap();
//! let doc = mapping::xml::read(xml, &mappings).unwrap();
//! let event = doc.translate("acme").unwrap();
//! let json = serde_json::to_value(&event).unwrap();
//! assert_eq!(json["type"], "order.created");
//! assert_eq!(json["data"]["order_date"], "2024-01-15");
//! assert_eq!(json["data"]["lines"][0]["quantity"]["unit"]["code"], "H87");
//! ```

mod doc;
mod engine;
pub mod path;
pub mod spec;

use std::fmt;

use events::{Event, Source};

use crate::engine::{Explanation, MappingError, Problem};
use crate::spec::Mappings;
use doc::{Doc, Keep};
pub use path::{XmlName, XmlPath};
pub use spec::XmlMapping;

/// Why an XML document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not UTF-8 (or a byte order mark of another encoding).
    #[error("at byte {offset}: {message}")]
    Encoding {
        /// Where the first byte that is not UTF-8 is.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// Not well-formed XML, or an undeclared prefix or entity.
    #[error("at byte {offset}: malformed XML: {message}")]
    Malformed {
        /// Where the reader stopped.
        offset: u64,
        /// What the reader found.
        message: String,
    },
    /// Well-formed, but no mapping is for this kind of document.
    #[error("at byte {offset}: no XML mapping for document {found}: {known}")]
    UnknownDocument {
        /// Where the root element starts.
        offset: u64,
        /// The root element (and, for documents told apart below it, what was looked for).
        found: String,
        /// What the mappings know, for people.
        known: String,
    },
}

/// Whether `input` looks like XML: its first character, after a byte order mark and white
/// space, is `<`.
pub fn looks_like_xml(input: &[u8]) -> bool {
    let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// One read document and the mapping chosen for it.
#[derive(Debug)]
pub struct XmlDocument<'m> {
    mapping: &'m XmlMapping,
    doc: Doc,
    /// The document element (node index).
    root: u32,
}

/// Reads `input` and chooses its mapping among the XML mappings in `mappings` (the last loaded
/// that matches wins, so a directory loaded after the defaults overrides them).
pub fn read<'m>(input: &[u8], mappings: &'m Mappings) -> Result<XmlDocument<'m>, XmlError> {
    let (root, offset) = doc::root(input)?;
    let all = mappings.xml();
    let candidates: Vec<&XmlMapping> = all
        .iter()
        .rev()
        .filter(|m| m.root.steps.first().is_some_and(|s| s.name == root))
        .collect();
    if candidates.is_empty() {
        let known: Vec<String> = all.iter().map(|m| describe_root(&m.root)).collect();
        return Err(XmlError::UnknownDocument {
            offset,
            found: root.to_string(),
            known: if known.is_empty() {
                "no XML mappings are loaded".into()
            } else {
                format!("known are {}", known.join(", "))
            },
        });
    }
    let keep = Keep::new(candidates.iter().flat_map(|m| m.paths()));
    let doc = doc::read(input, &keep)?;
    for m in &candidates {
        // The document element: the root itself, or the element the path reaches under it.
        let found = engine::elements(&doc, 0, &absolute(&m.root));
        if let Some(&root) = found.first() {
            tracing::debug!(
                mapping = %m.origin,
                document = %m.message,
                "XML document recognised"
            );
            return Ok(XmlDocument {
                mapping: m,
                doc,
                root,
            });
        }
    }
    let looked: Vec<String> = candidates.iter().map(|m| describe_root(&m.root)).collect();
    Err(XmlError::UnknownDocument {
        offset,
        found: format!("{root} (none of {} in it)", looked.join(", ")),
        known: "the root matches but not the document element below it".into(),
    })
}

/// The document path as an absolute path (mapping files write it from the root without `/`).
fn absolute(p: &XmlPath) -> XmlPath {
    let mut a = p.clone();
    a.absolute = true;
    a
}

fn describe_root(p: &XmlPath) -> String {
    p.steps
        .iter()
        .map(|s| s.name.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The sender or receiver a document names, as its mapping reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlParty {
    /// The id scheme (UBL `schemeID` such as `0088` for a GLN, cXML credential `domain`), when
    /// the document gives one.
    pub qualifier: Option<String>,
    /// The id.
    pub id: String,
}

impl fmt::Display for XmlParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.qualifier {
            Some(q) => write!(f, "{q}:{}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

impl<'m> XmlDocument<'m> {
    /// The mapping chosen for the document.
    pub fn mapping(&self) -> &'m XmlMapping {
        self.mapping
    }

    /// The document element's local name (`Order`, `OrderRequest`).
    pub fn message(&self) -> &str {
        &self.mapping.message
    }

    fn cx(&self, explain: bool) -> engine::Cx<'m, '_> {
        engine::Cx {
            mapping: self.mapping,
            doc: &self.doc,
            problems: Vec::new(),
            explained: explain.then(Vec::new),
        }
    }

    fn party(&self, id: &str, qualifier: &str) -> Option<XmlParty> {
        let mut cx = self.cx(false);
        let id = cx.source(id, self.root)?;
        Some(XmlParty {
            qualifier: cx.source(qualifier, self.root),
            id,
        })
    }

    /// Who sent the document, where the mapping's `[source] sender` says: UBL has no envelope,
    /// so this is a party's endpoint id; cXML's is the `From` credential.
    pub fn sender(&self) -> Option<XmlParty> {
        self.party("sender", "sender_qualifier")
    }

    /// Who the document is for, as [`XmlDocument::sender`].
    pub fn receiver(&self) -> Option<XmlParty> {
        self.party("receiver", "receiver_qualifier")
    }

    /// The event for `partner`, or every problem found.
    pub fn translate(&self, partner: &str) -> Result<Event, MappingError> {
        self.translate_with(partner, false).0
    }

    /// The event and, field by field, the XML path that produced each value (given whether or
    /// not the document translates).
    pub fn translate_explained(
        &self,
        partner: &str,
    ) -> (Result<Event, MappingError>, Vec<Explanation>) {
        self.translate_with(partner, true)
    }

    fn translate_with(
        &self,
        partner: &str,
        explain: bool,
    ) -> (Result<Event, MappingError>, Vec<Explanation>) {
        let mut cx = self.cx(explain);
        let root = self.root;
        let version = cx.source("version", root).unwrap_or_default();
        let sender = cx.source("sender", root).unwrap_or_default();
        let receiver = cx.source("receiver", root).unwrap_or_default();
        let message_control = cx.source("message_control", root).unwrap_or_default();
        let control = cx
            .source("control", root)
            .unwrap_or_else(|| message_control.clone());
        let payload = cx.payload(root);
        let explained = cx.explained.take().unwrap_or_default();
        let label = format!("document {} {}", self.mapping.message, message_control);
        if !cx.problems.is_empty() {
            tracing::debug!(
                document = %self.mapping.message,
                problems = cx.problems.len(),
                "XML document not translated"
            );
            return (
                Err(MappingError {
                    message: label,
                    index: 0,
                    problems: cx.problems,
                }),
                explained,
            );
        }
        let Some(payload) = payload else {
            // Not reached: a document that cannot be made has a problem recorded.
            return (
                Err(MappingError {
                    message: label,
                    index: 0,
                    problems: vec![Problem {
                        field: "document".into(),
                        path: "-".into(),
                        segment: None,
                        reason: "the document could not be made".into(),
                    }],
                }),
                explained,
            );
        };
        let source = Source {
            standard: events::Standard::Xml,
            version,
            message: self.mapping.message.clone(),
            sender,
            receiver,
            interchange_control: control,
            group_control: None,
            message_control,
        };
        (Ok(Event::new(partner, source, 0, payload)), explained)
    }
}
