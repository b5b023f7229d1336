//! XML mapping files (`syntax = "xml"`): the same idea as the EDI files — header fields, party
//! and reference loops, lines, code tables — with XML paths, a `[namespaces]` table binding the
//! file's prefixes, and the document element the file is for. Checked when loaded: every path,
//! every field name against the event made, every code table.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use serde::Deserialize;

use super::path::XmlPath;
use crate::spec::{Document, LoadError};

/// What a field's value becomes, which decides how it is read and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlKind {
    /// Text, kept as read (with `codes`, a listed code is replaced).
    Text,
    /// An exact decimal (`.` as the mark, as XML Schema's `xs:decimal`).
    Decimal,
    /// An ISO 8601 date (`xs:date`, or the date part of `xs:dateTime`).
    Date,
    /// A purpose, through a code table of purpose kinds.
    Purpose,
    /// An order response status, through a code table of ack kinds.
    Status,
    /// A line change, through a code table of change kinds.
    Change,
    /// An invoice type, through a code table of invoice kinds.
    InvoiceType,
    /// A party role, through a code table of role names (or a `value`).
    Role,
    /// A unit: UN/ECE Rec 20 as sent, or through a code table.
    Unit,
}

impl XmlKind {
    fn accepts(self, target: &str) -> bool {
        fn parses<T: serde::de::DeserializeOwned>(target: &str) -> bool {
            serde_json::from_value::<T>(serde_json::Value::String(target.to_owned())).is_ok()
        }
        use events::documents as d;
        match self {
            XmlKind::Purpose => parses::<d::PurposeKind>(target),
            XmlKind::Status => parses::<d::AckKind>(target),
            XmlKind::Change => parses::<d::ChangeKind>(target),
            XmlKind::InvoiceType => parses::<d::InvoiceKind>(target),
            XmlKind::Date => false,
            _ => !target.is_empty(),
        }
    }

    fn coded(self) -> bool {
        matches!(
            self,
            XmlKind::Purpose | XmlKind::Status | XmlKind::Change | XmlKind::InvoiceType
        )
    }
}

/// One mapped value of an XML document.
#[derive(Debug, Clone)]
pub struct XmlField {
    /// The canonical field (`order_number`, `lines.quantity`, `parties.id`).
    pub name: String,
    /// Tried in order; the first that finds a non-empty value wins.
    pub paths: Vec<XmlPath>,
    /// A fixed value, for what the document says by its structure rather than by a code
    /// (the role of a `cac:BuyerCustomerParty`).
    pub value: Option<String>,
    /// A missing value is an error.
    pub required: bool,
    /// Used when no path finds a value; `{position}` is the loop instance's position.
    pub default: Option<String>,
    /// The code table in `[codes]` the value is looked up in.
    pub codes: Option<String>,
    /// What the value becomes.
    pub kind: XmlKind,
}

impl XmlField {
    /// The paths as written, for problems: `a or b`.
    pub fn describe(&self) -> String {
        if self.paths.is_empty() {
            return "value".into();
        }
        self.paths
            .iter()
            .map(XmlPath::as_str)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// A group of fields read in each instance of a loop (a party, a reference, a line).
#[derive(Debug, Clone)]
pub struct XmlGroup {
    /// The elements that are the instances, found from the document element (lines: from each
    /// package, when the file has `[packages]`).
    pub r#loop: XmlPath,
    /// The group's fields, by name without the group (`id`, `quantity`).
    pub fields: BTreeMap<String, XmlField>,
    /// Party address lines, each a field, in order.
    pub address_lines: Vec<XmlField>,
    /// Reference qualifiers left out (a header field carries them).
    pub skip: Vec<String>,
}

impl XmlGroup {
    /// The field named `name`, when the file gives it.
    pub fn get(&self, name: &str) -> Option<&XmlField> {
        self.fields.get(name)
    }
}

/// One checked XML mapping file.
#[derive(Debug, Clone)]
pub struct XmlMapping {
    /// The file it was read from (or `builtin:NAME`).
    pub origin: String,
    /// The document made.
    pub document: Document,
    /// The document element, from the root: `ord:Order`, `cXML/Request/OrderRequest`.
    pub root: XmlPath,
    /// The document element's local name: the event source's `message`.
    pub message: String,
    /// Where the event source's fields are (`version`, `sender`, `sender_qualifier`,
    /// `receiver`, `receiver_qualifier`, `control`, `message_control`).
    pub source: BTreeMap<String, XmlField>,
    /// Header fields by canonical name.
    pub header: BTreeMap<String, XmlField>,
    /// Party loops, in order.
    pub parties: Vec<XmlGroup>,
    /// Reference loops, in order.
    pub references: Vec<XmlGroup>,
    /// Shipments: the package loop; lines are then read inside each package.
    pub packages: Option<XmlGroup>,
    /// The line loop.
    pub lines: XmlGroup,
    /// Code tables: table name → code as sent → canonical value.
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
}

impl XmlMapping {
    /// Every path of the file (and the document element's), for deciding what to keep of a
    /// document.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &XmlPath> {
        let groups = self
            .parties
            .iter()
            .chain(&self.references)
            .chain(self.packages.as_ref())
            .chain(std::iter::once(&self.lines));
        let group_paths = groups.flat_map(|g| {
            std::iter::once(&g.r#loop).chain(
                g.fields
                    .values()
                    .chain(&g.address_lines)
                    .flat_map(|f| &f.paths),
            )
        });
        std::iter::once(&self.root)
            .chain(
                self.source
                    .values()
                    .chain(self.header.values())
                    .flat_map(|f| &f.paths),
            )
            .chain(group_paths)
    }
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[allow(dead_code)]
    description: Option<String>,
    #[allow(dead_code)]
    syntax: String,
    document: String,
    event: String,
    #[serde(default)]
    namespaces: BTreeMap<String, String>,
    #[serde(default)]
    source: BTreeMap<String, RawField>,
    header: BTreeMap<String, RawField>,
    #[serde(default)]
    parties: Vec<RawGroup>,
    #[serde(default)]
    references: Vec<RawGroup>,
    packages: Option<RawGroup>,
    lines: RawGroup,
    #[serde(default)]
    codes: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct RawGroup {
    r#loop: String,
    #[serde(flatten)]
    fields: BTreeMap<String, RawField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawField {
    One(String),
    Many(Vec<String>),
    Full(RawTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    path: Option<RawPaths>,
    value: Option<String>,
    #[serde(default)]
    required: bool,
    default: Option<String>,
    codes: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPaths {
    One(String),
    Many(Vec<String>),
}

use Document::{Invoice, Order, OrderChange, OrderResponse, ShipmentNotice};

/// A field a group or header may have: its name, kind, the documents it belongs to and those
/// that need it.
type Allowed = (
    &'static str,
    XmlKind,
    &'static [Document],
    &'static [Document],
);

const ORDERS: &[Document] = &[Order, OrderChange];
const ORDERLIKE: &[Document] = &[Order, OrderChange, OrderResponse];
const ALL: &[Document] = &[Order, OrderChange, OrderResponse, ShipmentNotice, Invoice];
const NONE: &[Document] = &[];

const HEADER: &[Allowed] = &[
    (
        "order_number",
        XmlKind::Text,
        &[Order, OrderChange, OrderResponse, Invoice],
        ORDERLIKE,
    ),
    ("purpose", XmlKind::Purpose, ORDERLIKE, ORDERLIKE),
    (
        "status",
        XmlKind::Status,
        &[OrderResponse],
        &[OrderResponse],
    ),
    ("order_date", XmlKind::Date, ORDERLIKE, NONE),
    ("response_date", XmlKind::Date, &[OrderResponse], NONE),
    (
        "currency",
        XmlKind::Text,
        &[Order, OrderChange, OrderResponse, Invoice],
        NONE,
    ),
    ("requested_delivery_date", XmlKind::Date, ORDERS, NONE),
    (
        "shipment_id",
        XmlKind::Text,
        &[ShipmentNotice],
        &[ShipmentNotice],
    ),
    ("ship_date", XmlKind::Date, &[ShipmentNotice], NONE),
    (
        "estimated_delivery_date",
        XmlKind::Date,
        &[ShipmentNotice],
        NONE,
    ),
    ("carrier_code", XmlKind::Text, &[ShipmentNotice], NONE),
    ("carrier_name", XmlKind::Text, &[ShipmentNotice], NONE),
    ("tracking_number", XmlKind::Text, &[ShipmentNotice], NONE),
    ("order_numbers", XmlKind::Text, &[ShipmentNotice], NONE),
    ("invoice_number", XmlKind::Text, &[Invoice], &[Invoice]),
    ("invoice_date", XmlKind::Date, &[Invoice], &[Invoice]),
    ("invoice_type", XmlKind::InvoiceType, &[Invoice], NONE),
    ("total", XmlKind::Decimal, &[Invoice], &[Invoice]),
    ("subtotal", XmlKind::Decimal, &[Invoice], NONE),
    ("tax", XmlKind::Decimal, &[Invoice], NONE),
];

const LINES: &[Allowed] = &[
    (
        "line_number",
        XmlKind::Text,
        ALL,
        &[Order, OrderChange, OrderResponse, Invoice],
    ),
    ("quantity", XmlKind::Decimal, ALL, ALL),
    ("unit", XmlKind::Unit, ALL, ALL),
    (
        "unit_price",
        XmlKind::Decimal,
        &[Order, OrderChange, OrderResponse, Invoice],
        &[Invoice],
    ),
    ("amount", XmlKind::Decimal, &[Invoice], NONE),
    ("gtin", XmlKind::Text, ALL, NONE),
    ("vendor_sku", XmlKind::Text, ALL, NONE),
    ("buyer_sku", XmlKind::Text, ALL, NONE),
    ("description", XmlKind::Text, ALL, NONE),
    ("requested_delivery_date", XmlKind::Date, ORDERS, NONE),
    ("change", XmlKind::Change, &[OrderChange], NONE),
    ("status", XmlKind::Status, &[OrderResponse], NONE),
    (
        "scheduled_delivery_date",
        XmlKind::Date,
        &[OrderResponse],
        NONE,
    ),
    ("order_number", XmlKind::Text, &[ShipmentNotice], NONE),
    ("order_line_number", XmlKind::Text, &[ShipmentNotice], NONE),
];

const PARTY: &[Allowed] = &[
    ("role", XmlKind::Role, ALL, ALL),
    ("id", XmlKind::Text, ALL, NONE),
    ("id_qualifier", XmlKind::Text, ALL, NONE),
    ("name", XmlKind::Text, ALL, NONE),
    ("city", XmlKind::Text, ALL, NONE),
    ("region", XmlKind::Text, ALL, NONE),
    ("postal_code", XmlKind::Text, ALL, NONE),
    ("country", XmlKind::Text, ALL, NONE),
];

const REFERENCE: &[Allowed] = &[
    ("qualifier", XmlKind::Text, ALL, ALL),
    ("value", XmlKind::Text, ALL, ALL),
];

const PACKAGE: &[Allowed] = &[("id", XmlKind::Text, &[ShipmentNotice], NONE)];

const SOURCE: &[Allowed] = &[
    ("version", XmlKind::Text, ALL, NONE),
    ("sender", XmlKind::Text, ALL, NONE),
    ("sender_qualifier", XmlKind::Text, ALL, NONE),
    ("receiver", XmlKind::Text, ALL, NONE),
    ("receiver_qualifier", XmlKind::Text, ALL, NONE),
    ("control", XmlKind::Text, ALL, NONE),
    ("message_control", XmlKind::Text, ALL, NONE),
];

struct Checker<'f> {
    origin: &'f FsPath,
    namespaces: &'f BTreeMap<String, String>,
    codes: &'f BTreeMap<String, BTreeMap<String, String>>,
    doc: Document,
}

impl Checker<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            path: self.origin.to_path_buf(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn path(&self, field: &str, text: &str) -> Result<XmlPath, LoadError> {
        XmlPath::parse(text, self.namespaces).map_err(|source| LoadError::Path {
            path: self.origin.to_path_buf(),
            field: field.to_owned(),
            source,
        })
    }

    fn field(&self, name: &str, raw: RawField, kind: XmlKind) -> Result<XmlField, LoadError> {
        let table = match raw {
            RawField::One(p) => RawTable::of(RawPaths::One(p)),
            RawField::Many(p) => RawTable::of(RawPaths::Many(p)),
            RawField::Full(t) => t,
        };
        let texts = match table.path {
            Some(RawPaths::One(p)) => vec![p],
            Some(RawPaths::Many(p)) => p,
            None => Vec::new(),
        };
        match (&table.value, texts.is_empty()) {
            (Some(_), false) => {
                return Err(self.invalid(name, "give `path` or `value`, not both"));
            }
            (None, true) => return Err(self.invalid(name, "no path given")),
            _ => {}
        }
        let paths = texts
            .iter()
            .map(|t| self.path(name, t))
            .collect::<Result<Vec<_>, _>>()?;
        crate::spec::check_code_table(
            self.codes,
            table.codes.as_deref(),
            |t| kind.accepts(t),
            kind.coded(),
        )
        .map_err(|m| self.invalid(name, m))?;
        Ok(XmlField {
            name: name.to_owned(),
            paths,
            value: table.value,
            required: table.required,
            default: table.default,
            codes: table.codes,
            kind,
        })
    }

    /// Checks and converts the fields of one table against what it may hold.
    fn fields(
        &self,
        prefix: &str,
        raw: BTreeMap<String, RawField>,
        allowed: &[Allowed],
    ) -> Result<BTreeMap<String, XmlField>, LoadError> {
        let doc = self.doc;
        let mut out = BTreeMap::new();
        for (key, value) in raw {
            let name = format!("{prefix}{key}");
            let Some(&(_, kind, belongs, _)) = allowed.iter().find(|a| a.0 == key) else {
                let known: Vec<&str> = allowed
                    .iter()
                    .filter(|a| a.2.contains(&doc))
                    .map(|a| a.0)
                    .collect();
                return Err(self.invalid(
                    &name,
                    format!("unknown field: write one of {}", known.join(", ")),
                ));
            };
            if !belongs.contains(&doc) {
                return Err(self.invalid(&name, format!("not a field of event {:?}", doc.as_str())));
            }
            let mut f = self.field(&name, value, kind)?;
            out.insert(key, {
                f.name = name;
                f
            });
        }
        for &(key, _, _, needed) in allowed {
            match out.get_mut(key) {
                // What the event cannot be without is required whatever the file says; a
                // reference without a value is left out instead, as in the EDI files.
                Some(f) if needed.contains(&doc) && prefix != "references." => f.required = true,
                None if needed.contains(&doc) => {
                    return Err(self.invalid(
                        &format!("{prefix}{key}"),
                        format!("missing: event {:?} needs it", doc.as_str()),
                    ));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn group(&self, what: &str, raw: RawGroup, allowed: &[Allowed]) -> Result<XmlGroup, LoadError> {
        let mut fields = raw.fields;
        let r#loop = self.path(&format!("{what}.loop"), &raw.r#loop)?;
        if r#loop.attribute.is_some() {
            return Err(self.invalid(
                &format!("{what}.loop"),
                format!(
                    "{:?}: a loop is an element path, e.g. cac:OrderLine (or . for the document \
                     element itself)",
                    raw.r#loop
                ),
            ));
        }
        let mut address_lines = Vec::new();
        if what == "parties"
            && let Some(lines) = fields.remove("address_lines")
        {
            let name = format!("{what}.address_lines");
            let list = match lines {
                RawField::One(p) => vec![RawField::One(p)],
                RawField::Many(ps) => ps.into_iter().map(RawField::One).collect(),
                RawField::Full(_) => {
                    return Err(self.invalid(&name, "a list of paths, one per street line"));
                }
            };
            for l in list {
                address_lines.push(self.field(&name, l, XmlKind::Text)?);
            }
        }
        let mut skip = Vec::new();
        if what == "references"
            && let Some(s) = fields.remove("skip")
        {
            skip = match s {
                RawField::One(q) => vec![q],
                RawField::Many(qs) => qs,
                RawField::Full(_) => {
                    return Err(self.invalid("references.skip", "a list of qualifiers"));
                }
            };
        }
        Ok(XmlGroup {
            r#loop,
            fields: self.fields(&format!("{what}."), fields, allowed)?,
            address_lines,
            skip,
        })
    }
}

impl RawTable {
    fn of(path: RawPaths) -> RawTable {
        RawTable {
            path: Some(path),
            value: None,
            required: false,
            default: None,
            codes: None,
        }
    }
}

/// Whether a mapping file's text says `syntax = "xml"` (anything that is not TOML is left to
/// the EDI loader, which reports it).
pub(crate) fn is_xml_file(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        syntax: Option<String>,
    }
    toml::from_str::<Probe>(text).is_ok_and(|p| p.syntax.as_deref() == Some("xml"))
}

/// Loads one XML mapping file's text; `origin` names it in errors.
pub(crate) fn load(origin: &FsPath, text: &str) -> Result<XmlMapping, LoadError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| LoadError::Format {
        path: origin.to_path_buf(),
        message: e.to_string(),
    })?;
    let invalid = |field: &str, message: String| LoadError::Invalid {
        path: origin.to_path_buf(),
        field: field.to_owned(),
        message,
    };
    let doc = match raw.event.as_str() {
        "order" => Order,
        "order.changed" => OrderChange,
        "order.response" => OrderResponse,
        "shipment.notice" => ShipmentNotice,
        "invoice" => Invoice,
        other => {
            return Err(invalid(
                "event",
                format!(
                    "{other:?}: write one of \"order\", \"order.changed\", \"order.response\", \
                     \"shipment.notice\", \"invoice\" (inventory reports are not read from XML yet)"
                ),
            ));
        }
    };
    for (prefix, uri) in &raw.namespaces {
        let ok_prefix = prefix.is_empty()
            || (prefix
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && prefix
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                && !prefix.eq_ignore_ascii_case("xml")
                && !prefix.eq_ignore_ascii_case("xmlns"));
        if !ok_prefix {
            return Err(invalid(
                &format!("namespaces.{prefix}"),
                "not a usable prefix: letters, digits, '-', '_' and '.', starting with a letter \
                 (xml and xmlns are reserved)"
                    .into(),
            ));
        }
        if uri.trim().is_empty() {
            return Err(invalid(
                &format!("namespaces.{prefix}"),
                "empty namespace URI".into(),
            ));
        }
    }
    let c = Checker {
        origin,
        namespaces: &raw.namespaces,
        codes: &raw.codes,
        doc,
    };
    let root = c.path("document", &raw.document)?;
    if root.attribute.is_some() || root.steps.is_empty() || root.absolute {
        return Err(invalid(
            "document",
            format!(
                "{:?}: the document element's path from the root, e.g. ubl:Order or \
                 cXML/Request/OrderRequest",
                raw.document
            ),
        ));
    }
    let message = root
        .steps
        .last()
        .map(|s| s.name.local.clone())
        .unwrap_or_default();
    let source = c.fields("source.", raw.source, SOURCE)?;
    let header = c.fields("", raw.header, HEADER)?;
    let parties = raw
        .parties
        .into_iter()
        .map(|p| c.group("parties", p, PARTY))
        .collect::<Result<Vec<_>, _>>()?;
    let references = raw
        .references
        .into_iter()
        .map(|r| c.group("references", r, REFERENCE))
        .collect::<Result<Vec<_>, _>>()?;
    if doc != ShipmentNotice && raw.packages.is_some() {
        return Err(invalid(
            "packages",
            format!("not a field of event {:?}", doc.as_str()),
        ));
    }
    let packages = raw
        .packages
        .map(|p| c.group("packages", p, PACKAGE))
        .transpose()?;
    let lines = c.group("lines", raw.lines, LINES)?;
    Ok(XmlMapping {
        origin: origin.display().to_string(),
        document: doc,
        root,
        message,
        source,
        header,
        parties,
        references,
        packages,
        lines,
        codes: raw.codes,
    })
}
