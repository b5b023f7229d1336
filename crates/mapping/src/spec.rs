//! Mapping files: TOML a person can read, loaded into checked, typed mappings.
//!
//! The format is documented in `mappings/README.md`; every path is parsed when the file is
//! loaded, so a typo is reported with the file and the field, never at translation time.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path as FsPath, PathBuf};

use serde::Deserialize;

use crate::path::{Path, PathError, Selector};

/// Why mapping files could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid TOML or does not have the documented shape.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A path in a file is not valid.
    #[error("{path}: {field}: {source}")]
    Path {
        /// The file.
        path: PathBuf,
        /// The mapping field holding the path.
        field: String,
        /// The path error.
        source: PathError,
    },
    /// A value in a file is not allowed (an unknown code table, a bad code target, …).
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The mapping field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Which syntax a mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// ASC X12.
    X12,
    /// UN/EDIFACT.
    Edifact,
}

/// How a date field is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// `CCYYMMDD`.
    Ccyymmdd,
    /// `YYMMDD` (read as 20YY).
    Yymmdd,
    /// X12 `DT`: `CCYYMMDD` or, in older versions, `YYMMDD`, told apart by length.
    X12,
    /// EDIFACT: the format code (2379: 102, 101, 203) is read from `code` in the same segment,
    /// `default` when it is empty.
    Edifact {
        /// Where the format code is, in the segment the value came from.
        code: Path,
        /// The format when the segment has none.
        default: String,
    },
}

/// One mapped value: where to read it and how to turn it into the canonical value.
#[derive(Debug, Clone)]
pub struct Field {
    /// For line and package fields: read in the nearest enclosing hierarchical level whose
    /// start segment this selects (see [`LevelsMapping`]), not in the instance itself.
    pub level: Option<Selector>,
    /// For decimal fields: the value is an integer with this many implied decimal places
    /// (X12 `N2`: `12345` is `123.45`).
    pub decimals: Option<u8>,
    /// The canonical field's name, for errors (`order_number`, `lines.quantity`).
    pub name: String,
    /// Tried in order; the first that finds a non-empty value wins.
    pub paths: Vec<Path>,
    /// A missing value is an error.
    pub required: bool,
    /// Used when no path finds a value. `{position}` is the loop instance's position, from 1.
    pub default: Option<String>,
    /// The code table (in the file's `[codes]`) the value is looked up in.
    pub codes: Option<String>,
    /// For dates: the format.
    pub date: Option<DateFormat>,
    /// For header fields: read what is left of the header (the default) or the whole header,
    /// loops included (`scope = "header"`, e.g. EDIFACT `RFF+ON` for an order response).
    pub scope: Scope,
}

/// Where a header field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The header after the party and reference loops are carved out.
    #[default]
    Rest,
    /// The whole header, loops included.
    Header,
    /// The whole message body: header, lines and summary (a list field takes every value).
    Message,
    /// What follows the lines (X12 `TDS`, `CTT`; EDIFACT `UNS` and after).
    Summary,
}

/// Which canonical document a mapping file makes (`event` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Document {
    /// `event = "order"`: `order.created`, or `order.cancelled` when the purpose is cancel.
    Order,
    /// `event = "order.changed"`: `order.changed`, or `order.cancelled` when the purpose is
    /// cancel (X12 860, EDIFACT ORDCHG).
    OrderChange,
    /// `event = "order.response"`: `order.response`.
    OrderResponse,
    /// `event = "inventory.report"`: `inventory.report`.
    InventoryReport,
    /// `event = "shipment.notice"`: `shipment.notice`.
    ShipmentNotice,
    /// `event = "invoice"`: `invoice`.
    Invoice,
}

impl Document {
    const ALL: [Document; 6] = [
        Document::Order,
        Document::OrderChange,
        Document::OrderResponse,
        Document::InventoryReport,
        Document::ShipmentNotice,
        Document::Invoice,
    ];

    fn from_event(event: &str) -> Option<Document> {
        Document::ALL.into_iter().find(|d| d.as_str() == event)
    }

    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Document::Order => "order",
            Document::OrderChange => "order.changed",
            Document::OrderResponse => "order.response",
            Document::InventoryReport => "inventory.report",
            Document::ShipmentNotice => "shipment.notice",
            Document::Invoice => "invoice",
        }
    }
}

/// A repeating group: where instances start and what belongs to them.
#[derive(Debug, Clone)]
pub struct LoopSpec {
    /// The segment that starts an instance: a tag, and conditions when only some segments with
    /// that tag start one (`HL[HL03=I]`). An instance also ends at any segment with the tag.
    pub start: Selector,
    /// When not empty, an instance ends at the first segment not listed here.
    pub segments: Vec<String>,
    /// An instance ends at any of these (and at the next `start`).
    pub end: Vec<String>,
}

/// How a party is read from one instance of its loop.
#[derive(Debug, Clone)]
pub struct PartyMapping {
    /// The loop.
    pub r#loop: LoopSpec,
    /// The role code, looked up in a code table.
    pub role: Field,
    /// The identifier.
    pub id: Option<Field>,
    /// The identifier's qualifier.
    pub id_qualifier: Option<Field>,
    /// The name.
    pub name: Option<Field>,
    /// Street lines, each optional.
    pub address_lines: Vec<Field>,
    /// City.
    pub city: Option<Field>,
    /// Region.
    pub region: Option<Field>,
    /// Postal code.
    pub postal_code: Option<Field>,
    /// Country.
    pub country: Option<Field>,
}

/// How a reference is read from one instance of its loop.
#[derive(Debug, Clone)]
pub struct ReferenceMapping {
    /// The loop.
    pub r#loop: LoopSpec,
    /// The qualifier.
    pub qualifier: Field,
    /// The value.
    pub value: Field,
    /// Qualifiers (as sent) left out of the references, because a header field carries them
    /// (`ON` in an order response is the order number).
    pub skip: Vec<String>,
}

/// How a message's hierarchical levels are read (X12 `HL`, EDIFACT `CPS`): each start segment
/// begins a level, which runs to the next one; a level names its parent by id.
#[derive(Debug, Clone)]
pub struct LevelsMapping {
    /// The segment tag that starts a level.
    pub start: String,
    /// The level's id, in its start segment (`HL01`, `CPS01`).
    pub id: Option<Path>,
    /// Its parent's id, in its start segment (`HL02`, `CPS02`). Without it, a level's parent is
    /// the level before it, so a value is read from the nearest preceding level of the kind
    /// asked for.
    pub parent: Option<Path>,
    /// Levels whose contents belong to the header (the 856 shipment level, `HL[HL03=S]`).
    pub header: Option<Selector>,
}

/// How the packages of a shipment are read: one per instance of `loop`.
#[derive(Debug, Clone)]
pub struct PackageMapping {
    /// The loop (`HL[HL03=P]`, `CPS`).
    pub r#loop: LoopSpec,
    /// The package's marking (SSCC).
    pub id: Option<Field>,
}

/// How the quantities of an inventory item are read: one per instance of `loop` inside the item.
#[derive(Debug, Clone)]
pub struct QuantityMapping {
    /// The loop (`QTY` …).
    pub r#loop: LoopSpec,
    /// The quantity qualifier, looked up in a table of quantity kinds.
    pub kind: Field,
    /// The quantity.
    pub value: Field,
    /// The unit.
    pub unit: Field,
}

/// How a line (order line, response line, inventory item) is read from one instance of the
/// line loop. Which fields are allowed depends on the document.
#[derive(Debug, Clone)]
pub struct LineMapping {
    /// The loop.
    pub r#loop: LoopSpec,
    /// Line number (orders, responses).
    pub line_number: Option<Field>,
    /// Quantity value (orders, responses).
    pub quantity: Option<Field>,
    /// Quantity unit (orders, responses).
    pub unit: Option<Field>,
    /// Line status, looked up in a table of ack kinds (responses; absent: the response's).
    pub status: Option<Field>,
    /// When the seller expects to deliver (responses).
    pub scheduled_delivery_date: Option<Field>,
    /// The quantities of an inventory item, one loop table each (inventory reports).
    pub quantities: Vec<QuantityMapping>,
    /// Unit price.
    pub unit_price: Option<Field>,
    /// GTIN.
    pub gtin: Option<Field>,
    /// Seller's item number.
    pub vendor_sku: Option<Field>,
    /// Buyer's item number.
    pub buyer_sku: Option<Field>,
    /// Description.
    pub description: Option<Field>,
    /// Requested delivery date for the line.
    pub requested_delivery_date: Option<Field>,
    /// What an order change does to the line, looked up in a table of change kinds.
    pub change: Option<Field>,
    /// The line amount (invoices).
    pub amount: Option<Field>,
    /// The order the goods are for (shipments).
    pub order_number: Option<Field>,
    /// The order line the goods are for (shipments).
    pub order_line_number: Option<Field>,
}

/// The header. Which fields are allowed, and required, depends on the document.
#[derive(Debug, Clone)]
pub struct HeaderMapping {
    /// Order number (orders, responses: required).
    pub order_number: Option<Field>,
    /// Order date.
    pub order_date: Option<Field>,
    /// Purpose code, looked up in a code table of purpose kinds (orders, responses: required).
    pub purpose: Option<Field>,
    /// Response status, looked up in a table of ack kinds (responses: required).
    pub status: Option<Field>,
    /// When the response was issued (responses).
    pub response_date: Option<Field>,
    /// The date inventory positions are for (inventory reports: required).
    pub report_date: Option<Field>,
    /// Currency.
    pub currency: Option<Field>,
    /// Requested delivery date.
    pub requested_delivery_date: Option<Field>,
    /// The shipper's shipment id (shipments: required).
    pub shipment_id: Option<Field>,
    /// When the goods left (shipments).
    pub ship_date: Option<Field>,
    /// When the goods are expected (shipments).
    pub estimated_delivery_date: Option<Field>,
    /// The carrier's code, e.g. an SCAC (shipments).
    pub carrier_code: Option<Field>,
    /// The carrier's name (shipments).
    pub carrier_name: Option<Field>,
    /// The tracking or pro number (shipments).
    pub tracking_number: Option<Field>,
    /// The orders a shipment fills: every value found, duplicates dropped (shipments).
    pub order_numbers: Option<Field>,
    /// The invoice number (invoices: required).
    pub invoice_number: Option<Field>,
    /// The invoice date (invoices: required).
    pub invoice_date: Option<Field>,
    /// Invoice, credit note, …, looked up in a table of invoice kinds (invoices).
    pub invoice_type: Option<Field>,
    /// The amount due (invoices: required).
    pub total: Option<Field>,
    /// The sum of the lines (invoices).
    pub subtotal: Option<Field>,
    /// Total tax (invoices).
    pub tax: Option<Field>,
}

/// The mapping of an order; every mapping file is an [`MessageMapping`], whatever its document.
pub type OrderMapping = MessageMapping;

/// One mapping file, checked: how one message type in some versions becomes an event.
#[derive(Debug, Clone)]
pub struct MessageMapping {
    /// The file it was read from (or `builtin:NAME`).
    pub origin: String,
    /// The syntax.
    pub syntax: Syntax,
    /// The document it makes.
    pub document: Document,
    /// The message type (`850`, `ORDERS`).
    pub message: String,
    /// The versions it applies to: X12 version prefixes (`004010` matches `004010VICS`),
    /// EDIFACT version+release (`D96A`).
    pub versions: Vec<String>,
    /// Header fields.
    pub header: HeaderMapping,
    /// Party loops.
    pub parties: Vec<PartyMapping>,
    /// Reference loops.
    pub references: Vec<ReferenceMapping>,
    /// Inventory reports: where the stock is, the first instance of this loop whose role is found.
    pub location: Option<PartyMapping>,
    /// Hierarchical levels, when the message has them.
    pub levels: Option<LevelsMapping>,
    /// Shipments: the package loop.
    pub packages: Option<PackageMapping>,
    /// The line loop.
    pub lines: LineMapping,
    /// Code tables: table name → partner code → canonical value.
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
    /// How events of this document are written as this message, when the file says
    /// (`[outbound]`, see [`crate::outbound`]).
    pub outbound: Option<crate::outbound::Outbound>,
}

/// Every loaded mapping.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    all: Vec<MessageMapping>,
    /// The XML mappings (`syntax = "xml"`), in load order.
    xml: Vec<crate::xml::XmlMapping>,
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "x12/850.toml",
        include_str!("../../../mappings/x12/850.toml"),
    ),
    (
        "x12/855.toml",
        include_str!("../../../mappings/x12/855.toml"),
    ),
    (
        "x12/846.toml",
        include_str!("../../../mappings/x12/846.toml"),
    ),
    (
        "edifact/ORDERS.toml",
        include_str!("../../../mappings/edifact/ORDERS.toml"),
    ),
    (
        "edifact/ORDRSP.toml",
        include_str!("../../../mappings/edifact/ORDRSP.toml"),
    ),
    (
        "edifact/INVRPT.toml",
        include_str!("../../../mappings/edifact/INVRPT.toml"),
    ),
    (
        "x12/860.toml",
        include_str!("../../../mappings/x12/860.toml"),
    ),
    (
        "x12/856.toml",
        include_str!("../../../mappings/x12/856.toml"),
    ),
    (
        "x12/810.toml",
        include_str!("../../../mappings/x12/810.toml"),
    ),
    (
        "edifact/ORDCHG.toml",
        include_str!("../../../mappings/edifact/ORDCHG.toml"),
    ),
    (
        "edifact/DESADV.toml",
        include_str!("../../../mappings/edifact/DESADV.toml"),
    ),
    (
        "edifact/INVOIC.toml",
        include_str!("../../../mappings/edifact/INVOIC.toml"),
    ),
    (
        "xml/ubl-Order.toml",
        include_str!("../../../mappings/xml/ubl-Order.toml"),
    ),
    (
        "xml/ubl-OrderCancellation.toml",
        include_str!("../../../mappings/xml/ubl-OrderCancellation.toml"),
    ),
    (
        "xml/ubl-OrderResponse.toml",
        include_str!("../../../mappings/xml/ubl-OrderResponse.toml"),
    ),
    (
        "xml/ubl-DespatchAdvice.toml",
        include_str!("../../../mappings/xml/ubl-DespatchAdvice.toml"),
    ),
    (
        "xml/ubl-Invoice.toml",
        include_str!("../../../mappings/xml/ubl-Invoice.toml"),
    ),
    (
        "xml/cxml-OrderRequest.toml",
        include_str!("../../../mappings/xml/cxml-OrderRequest.toml"),
    ),
];

/// The text of every built-in mapping file, as `(name, toml)` with names like `x12/850.toml`:
/// what a partner's overrides are merged into.
pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}

impl Mappings {
    /// The default mappings (`mappings/` in the repository), built into the library.
    pub fn builtin() -> Result<Mappings, LoadError> {
        let mut m = Mappings::default();
        for (name, text) in BUILTIN {
            m.add_toml(&PathBuf::from(format!("builtin:{name}")), text)?;
        }
        Ok(m)
    }

    /// Every `*.toml` file in `dir` and its subdirectories, in name order.
    pub fn load(dir: &FsPath) -> Result<Mappings, LoadError> {
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(LoadError::Invalid {
                path: dir.to_path_buf(),
                field: "directory".into(),
                message: "no *.toml mapping files here".into(),
            });
        }
        let mut m = Mappings::default();
        for f in files {
            let text = fs::read_to_string(&f).map_err(|source| LoadError::Io {
                path: f.clone(),
                source,
            })?;
            m.add_toml(&f, &text)?;
        }
        Ok(m)
    }

    /// Adds one mapping file's text; `origin` names it in errors.
    pub fn add_toml(&mut self, origin: &FsPath, text: &str) -> Result<(), LoadError> {
        if crate::xml::spec::is_xml_file(text) {
            self.xml.push(crate::xml::spec::load(origin, text)?);
            return Ok(());
        }
        let raw: RawFile = toml::from_str(text).map_err(|e| LoadError::Format {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        self.all.push(raw.check(origin)?);
        Ok(())
    }

    /// Every order mapping (`event = "order"`).
    pub fn orders(&self) -> Vec<&MessageMapping> {
        self.of(Document::Order)
    }

    /// Every mapping of one document.
    pub fn of(&self, document: Document) -> Vec<&MessageMapping> {
        self.all.iter().filter(|m| m.document == document).collect()
    }

    /// Every mapping, in load order.
    pub fn all(&self) -> &[MessageMapping] {
        &self.all
    }

    /// Every XML mapping, in load order.
    pub fn xml(&self) -> &[crate::xml::XmlMapping] {
        &self.xml
    }

    /// The mapping for a message, by syntax, type and version (the last loaded wins, so a
    /// directory loaded after the defaults overrides them).
    pub fn find(&self, syntax: Syntax, message: &str, version: &str) -> Option<&MessageMapping> {
        self.all.iter().rev().find(|m| {
            m.syntax == syntax
                && m.message == message
                && m.versions.iter().any(|v| version.starts_with(v.as_str()))
        })
    }
}

fn collect(dir: &FsPath, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[allow(dead_code)]
    description: Option<String>,
    syntax: Syntax,
    message: String,
    versions: Vec<String>,
    event: String,
    header: RawHeader,
    #[serde(default)]
    parties: Vec<RawParty>,
    #[serde(default)]
    references: Vec<RawReference>,
    location: Option<RawParty>,
    levels: Option<RawLevels>,
    packages: Option<RawPackages>,
    lines: RawLines,
    #[serde(default)]
    codes: BTreeMap<String, BTreeMap<String, String>>,
    outbound: Option<crate::outbound::RawOutbound>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawField {
    One(String),
    Many(Vec<String>),
    Full(RawFieldTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldTable {
    path: RawPaths,
    #[serde(default)]
    required: bool,
    default: Option<String>,
    codes: Option<String>,
    date: Option<String>,
    date_code: Option<String>,
    date_default: Option<String>,
    scope: Option<String>,
    level: Option<String>,
    decimals: Option<u8>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPaths {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoop {
    start: String,
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    end: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    start: String,
    id: Option<String>,
    parent: Option<String>,
    header: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackages {
    r#loop: RawLoop,
    id: Option<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    order_number: Option<RawField>,
    order_date: Option<RawField>,
    purpose: Option<RawField>,
    status: Option<RawField>,
    response_date: Option<RawField>,
    report_date: Option<RawField>,
    currency: Option<RawField>,
    requested_delivery_date: Option<RawField>,
    shipment_id: Option<RawField>,
    ship_date: Option<RawField>,
    estimated_delivery_date: Option<RawField>,
    carrier_code: Option<RawField>,
    carrier_name: Option<RawField>,
    tracking_number: Option<RawField>,
    order_numbers: Option<RawField>,
    invoice_number: Option<RawField>,
    invoice_date: Option<RawField>,
    invoice_type: Option<RawField>,
    total: Option<RawField>,
    subtotal: Option<RawField>,
    tax: Option<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    r#loop: RawLoop,
    role: RawField,
    id: Option<RawField>,
    id_qualifier: Option<RawField>,
    name: Option<RawField>,
    #[serde(default)]
    address_lines: Vec<RawField>,
    city: Option<RawField>,
    region: Option<RawField>,
    postal_code: Option<RawField>,
    country: Option<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    r#loop: RawLoop,
    qualifier: RawField,
    value: RawField,
    #[serde(default)]
    skip: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuantities {
    r#loop: RawLoop,
    kind: RawField,
    value: RawField,
    unit: RawField,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLines {
    r#loop: RawLoop,
    line_number: Option<RawField>,
    quantity: Option<RawField>,
    unit: Option<RawField>,
    status: Option<RawField>,
    scheduled_delivery_date: Option<RawField>,
    #[serde(default)]
    quantities: Vec<RawQuantities>,
    unit_price: Option<RawField>,
    gtin: Option<RawField>,
    vendor_sku: Option<RawField>,
    buyer_sku: Option<RawField>,
    description: Option<RawField>,
    requested_delivery_date: Option<RawField>,
    change: Option<RawField>,
    amount: Option<RawField>,
    order_number: Option<RawField>,
    order_line_number: Option<RawField>,
}

/// Checks fields against the file's code tables.
struct Checker<'f> {
    origin: &'f FsPath,
    codes: &'f BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the file has `[levels]`, which `level` needs.
    levels: bool,
}

/// Checks a field's code table: it is in the file, and every value in it is one `accepts`
/// takes; a field whose values are coded (`coded`) must name one. `Err` says what is wrong.
pub(crate) fn check_code_table(
    codes: &BTreeMap<String, BTreeMap<String, String>>,
    table: Option<&str>,
    accepts: impl Fn(&str) -> bool,
    coded: bool,
) -> Result<(), String> {
    let Some(c) = table else {
        return if coded {
            Err("needs `codes`: the table that gives the code's meaning".into())
        } else {
            Ok(())
        };
    };
    let Some(entries) = codes.get(c) else {
        return Err(format!("no code table [codes.{c}] in this file"));
    };
    for (code, target) in entries {
        if !accepts(target) {
            return Err(format!(
                "[codes.{c}] maps {code:?} to {target:?}, which is not a valid value here"
            ));
        }
    }
    Ok(())
}

/// What a field's value becomes, which decides the checks its code table gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Decimal,
    Date,
    Purpose,
    Role,
    Unit,
    Status,
    Quantity,
    Change,
    InvoiceType,
}

impl Kind {
    /// Whether `target` is a value a code table of this kind may give.
    fn accepts(self, target: &str) -> bool {
        fn parses<T: serde::de::DeserializeOwned>(target: &str) -> bool {
            serde_json::from_value::<T>(serde_json::Value::String(target.to_owned())).is_ok()
        }
        use events::documents as d;
        match self {
            Kind::Purpose => parses::<d::PurposeKind>(target),
            Kind::Status => parses::<d::AckKind>(target),
            Kind::Quantity => parses::<d::QuantityKind>(target),
            Kind::Change => parses::<d::ChangeKind>(target),
            Kind::InvoiceType => parses::<d::InvoiceKind>(target),
            Kind::Role | Kind::Unit | Kind::Text | Kind::Decimal => !target.is_empty(),
            Kind::Date => false,
        }
    }

    /// Kinds whose value is a meaning, so a table saying what each code means is required.
    fn coded(self) -> bool {
        matches!(
            self,
            Kind::Purpose
                | Kind::Role
                | Kind::Status
                | Kind::Quantity
                | Kind::Change
                | Kind::InvoiceType
        )
    }
}

impl Checker<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            path: self.origin.to_path_buf(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn path(&self, field: &str, text: &str) -> Result<Path, LoadError> {
        Path::parse(text).map_err(|source| LoadError::Path {
            path: self.origin.to_path_buf(),
            field: field.to_owned(),
            source,
        })
    }

    fn selector(&self, field: &str, text: &str) -> Result<Selector, LoadError> {
        Selector::parse(text).map_err(|source| LoadError::Path {
            path: self.origin.to_path_buf(),
            field: field.to_owned(),
            source,
        })
    }

    fn field(&self, name: &str, raw: RawField, kind: Kind) -> Result<Field, LoadError> {
        let table = match raw {
            RawField::One(p) => RawFieldTable::of(RawPaths::One(p)),
            RawField::Many(p) => RawFieldTable::of(RawPaths::Many(p)),
            RawField::Full(t) => t,
        };
        let texts = match table.path {
            RawPaths::One(p) => vec![p],
            RawPaths::Many(p) => p,
        };
        if texts.is_empty() {
            return Err(self.invalid(name, "no path given"));
        }
        let paths = texts
            .iter()
            .map(|t| self.path(name, t))
            .collect::<Result<Vec<_>, _>>()?;
        check_code_table(
            self.codes,
            table.codes.as_deref(),
            |t| kind.accepts(t),
            kind.coded(),
        )
        .map_err(|m| self.invalid(name, m))?;
        let date = match (kind, table.date.as_deref()) {
            (Kind::Date, Some("CCYYMMDD")) => Some(DateFormat::Ccyymmdd),
            (Kind::Date, Some("YYMMDD")) => Some(DateFormat::Yymmdd),
            (Kind::Date, Some("x12")) => Some(DateFormat::X12),
            (Kind::Date, Some("edifact")) => {
                let code = table.date_code.as_deref().ok_or_else(|| {
                    self.invalid(
                        name,
                        "date = \"edifact\" needs date_code, the field holding 2379 (e.g. DTM01-3)",
                    )
                })?;
                Some(DateFormat::Edifact {
                    code: self.path(name, code)?,
                    default: table
                        .date_default
                        .clone()
                        .unwrap_or_else(|| "102".to_owned()),
                })
            }
            (Kind::Date, other) => {
                return Err(self.invalid(
                    name,
                    format!(
                        "date = {other:?}: write \"CCYYMMDD\", \"YYMMDD\", \"x12\" or \"edifact\""
                    ),
                ));
            }
            (_, Some(_)) => return Err(self.invalid(name, "`date` is only for date fields")),
            (_, None) => None,
        };
        let scope = match table.scope.as_deref() {
            None | Some("rest") => Scope::Rest,
            Some("header") => Scope::Header,
            Some("message") => Scope::Message,
            Some("summary") => Scope::Summary,
            Some(other) => {
                return Err(self.invalid(
                    name,
                    format!(
                        "scope = {other:?}: write \"rest\" (the default), \"header\", \
                         \"message\" or \"summary\""
                    ),
                ));
            }
        };
        if table.scope.is_some() && name.contains('.') {
            return Err(self.invalid(name, "`scope` is only for header fields"));
        }
        let level = match &table.level {
            None => None,
            Some(_) if !(name.starts_with("lines.") || name.starts_with("packages.")) => {
                return Err(self.invalid(name, "`level` is only for line and package fields"));
            }
            Some(_) if !self.levels => {
                return Err(self.invalid(
                    name,
                    "`level` needs [levels]: which segment starts a level and how it names its parent",
                ));
            }
            Some(text) => Some(self.selector(name, text)?),
        };
        if table.decimals.is_some() && kind != Kind::Decimal {
            return Err(self.invalid(name, "`decimals` is only for amounts and quantities"));
        }
        Ok(Field {
            level,
            decimals: table.decimals,
            name: name.to_owned(),
            paths,
            required: table.required,
            default: table.default,
            codes: table.codes,
            date,
            scope,
        })
    }

    fn opt(
        &self,
        name: &str,
        raw: Option<RawField>,
        kind: Kind,
    ) -> Result<Option<Field>, LoadError> {
        raw.map(|r| self.field(name, r, kind)).transpose()
    }

    fn tag(&self, field: &str, tag: &str) -> Result<(), LoadError> {
        let ok = (2..=3).contains(&tag.len())
            && tag
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(())
        } else {
            Err(self.invalid(field, format!("{tag:?} is not a segment tag")))
        }
    }

    fn lp(&self, name: &str, raw: RawLoop) -> Result<LoopSpec, LoadError> {
        let field = format!("{name}.loop");
        let start = self.selector(&field, &raw.start)?;
        for tag in raw.segments.iter().chain(&raw.end) {
            self.tag(&field, tag)?;
        }
        Ok(LoopSpec {
            start,
            segments: raw.segments,
            end: raw.end,
        })
    }

    fn levels(&self, raw: RawLevels) -> Result<LevelsMapping, LoadError> {
        self.tag("levels.start", &raw.start)?;
        // The id and the parent are read from the start segment, so they must name it.
        let on_start = |field: &str, text: Option<String>| -> Result<Option<Path>, LoadError> {
            let Some(text) = text else { return Ok(None) };
            let p = self.path(field, &text)?;
            if p.tag() != raw.start || p.selector.is_some() {
                return Err(self.invalid(
                    field,
                    format!(
                        "{text:?}: write a field of the level's start segment {}, e.g. {}01",
                        raw.start, raw.start
                    ),
                ));
            }
            Ok(Some(p))
        };
        let id = on_start("levels.id", raw.id)?;
        let parent = on_start("levels.parent", raw.parent)?;
        if parent.is_some() && id.is_none() {
            return Err(self.invalid(
                "levels.id",
                "missing: `parent` names a level by its id, so `id` is needed too",
            ));
        }
        let header = raw
            .header
            .map(|h| self.selector("levels.header", &h))
            .transpose()?;
        if let Some(h) = &header
            && h.tag != raw.start
        {
            return Err(self.invalid(
                "levels.header",
                format!("{h}: select the level's start segment {}", raw.start),
            ));
        }
        Ok(LevelsMapping {
            start: raw.start,
            id,
            parent,
            header,
        })
    }
}

impl RawFieldTable {
    fn of(path: RawPaths) -> RawFieldTable {
        RawFieldTable {
            path,
            required: false,
            default: None,
            codes: None,
            date: None,
            date_code: None,
            date_default: None,
            scope: None,
            level: None,
            decimals: None,
        }
    }
}

impl Checker<'_> {
    fn party(&self, what: &str, p: RawParty) -> Result<PartyMapping, LoadError> {
        let n = |f: &str| format!("{what}.{f}");
        Ok(PartyMapping {
            r#loop: self.lp(what, p.r#loop)?,
            role: self.field(&n("role"), p.role, Kind::Role)?,
            id: self.opt(&n("id"), p.id, Kind::Text)?,
            id_qualifier: self.opt(&n("id_qualifier"), p.id_qualifier, Kind::Text)?,
            name: self.opt(&n("name"), p.name, Kind::Text)?,
            address_lines: p
                .address_lines
                .into_iter()
                .map(|f| self.field(&n("address_lines"), f, Kind::Text))
                .collect::<Result<_, _>>()?,
            city: self.opt(&n("city"), p.city, Kind::Text)?,
            region: self.opt(&n("region"), p.region, Kind::Text)?,
            postal_code: self.opt(&n("postal_code"), p.postal_code, Kind::Text)?,
            country: self.opt(&n("country"), p.country, Kind::Text)?,
        })
    }

    /// Checks that the fields a document needs are there and the ones it has no place for are
    /// not: `fields` is (name, given, documents it is a field of, documents that need it).
    fn shape(
        &self,
        doc: Document,
        fields: &[(&str, bool, &[Document], &[Document])],
    ) -> Result<(), LoadError> {
        for &(name, given, allowed, required) in fields {
            if given && !allowed.contains(&doc) {
                return Err(self.invalid(name, format!("not a field of event {:?}", doc.as_str())));
            }
            if !given && required.contains(&doc) {
                return Err(
                    self.invalid(name, format!("missing: event {:?} needs it", doc.as_str()))
                );
            }
        }
        Ok(())
    }
}

impl RawFile {
    fn check(self, origin: &FsPath) -> Result<MessageMapping, LoadError> {
        use Document::{
            InventoryReport, Invoice, Order, OrderChange, OrderResponse, ShipmentNotice,
        };
        let c = Checker {
            origin,
            codes: &self.codes,
            levels: self.levels.is_some(),
        };
        let Some(doc) = Document::from_event(&self.event) else {
            let names: Vec<String> = Document::ALL
                .iter()
                .map(|d| format!("{:?}", d.as_str()))
                .collect();
            return Err(c.invalid(
                "event",
                format!("{:?}: write one of {}", self.event, names.join(", ")),
            ));
        };
        if self.versions.is_empty() {
            return Err(c.invalid("versions", "list at least one version"));
        }
        // Checked last, so what reading needs is reported first.
        let raw_outbound = self.outbound;
        let h = self.header;
        let l = self.lines;
        const NONE: &[Document] = &[];
        const ORDERS: &[Document] = &[Order, OrderChange];
        const ORDERLIKE: &[Document] = &[Order, OrderChange, OrderResponse];
        const RESPONSE: &[Document] = &[OrderResponse];
        const INVENTORY: &[Document] = &[InventoryReport];
        const SHIPMENT: &[Document] = &[ShipmentNotice];
        const INVOICE: &[Document] = &[Invoice];
        const NOT_INVENTORY: &[Document] =
            &[Order, OrderChange, OrderResponse, ShipmentNotice, Invoice];
        const LINE_BASICS: &[Document] = &[Order, OrderChange, OrderResponse, Invoice];
        c.shape(
            doc,
            &[
                (
                    "order_number",
                    h.order_number.is_some(),
                    &[Order, OrderChange, OrderResponse, Invoice],
                    ORDERLIKE,
                ),
                ("purpose", h.purpose.is_some(), ORDERLIKE, ORDERLIKE),
                ("order_date", h.order_date.is_some(), ORDERLIKE, NONE),
                (
                    "currency",
                    h.currency.is_some(),
                    &[Order, OrderChange, OrderResponse, Invoice],
                    NONE,
                ),
                (
                    "requested_delivery_date",
                    h.requested_delivery_date.is_some(),
                    ORDERS,
                    NONE,
                ),
                ("status", h.status.is_some(), RESPONSE, RESPONSE),
                ("response_date", h.response_date.is_some(), RESPONSE, NONE),
                ("report_date", h.report_date.is_some(), INVENTORY, INVENTORY),
                ("shipment_id", h.shipment_id.is_some(), SHIPMENT, SHIPMENT),
                ("ship_date", h.ship_date.is_some(), SHIPMENT, NONE),
                (
                    "estimated_delivery_date",
                    h.estimated_delivery_date.is_some(),
                    SHIPMENT,
                    NONE,
                ),
                ("carrier_code", h.carrier_code.is_some(), SHIPMENT, NONE),
                ("carrier_name", h.carrier_name.is_some(), SHIPMENT, NONE),
                (
                    "tracking_number",
                    h.tracking_number.is_some(),
                    SHIPMENT,
                    NONE,
                ),
                ("order_numbers", h.order_numbers.is_some(), SHIPMENT, NONE),
                (
                    "invoice_number",
                    h.invoice_number.is_some(),
                    INVOICE,
                    INVOICE,
                ),
                ("invoice_date", h.invoice_date.is_some(), INVOICE, INVOICE),
                ("invoice_type", h.invoice_type.is_some(), INVOICE, NONE),
                ("total", h.total.is_some(), INVOICE, INVOICE),
                ("subtotal", h.subtotal.is_some(), INVOICE, NONE),
                ("tax", h.tax.is_some(), INVOICE, NONE),
                ("parties", !self.parties.is_empty(), NOT_INVENTORY, NONE),
                (
                    "references",
                    !self.references.is_empty(),
                    NOT_INVENTORY,
                    NONE,
                ),
                ("location", self.location.is_some(), INVENTORY, NONE),
                ("packages", self.packages.is_some(), SHIPMENT, NONE),
                (
                    "lines.line_number",
                    l.line_number.is_some(),
                    NOT_INVENTORY,
                    LINE_BASICS,
                ),
                (
                    "lines.quantity",
                    l.quantity.is_some(),
                    NOT_INVENTORY,
                    NOT_INVENTORY,
                ),
                ("lines.unit", l.unit.is_some(), NOT_INVENTORY, NOT_INVENTORY),
                (
                    "lines.unit_price",
                    l.unit_price.is_some(),
                    LINE_BASICS,
                    INVOICE,
                ),
                ("lines.amount", l.amount.is_some(), INVOICE, NONE),
                (
                    "lines.requested_delivery_date",
                    l.requested_delivery_date.is_some(),
                    ORDERS,
                    NONE,
                ),
                ("lines.change", l.change.is_some(), &[OrderChange], NONE),
                ("lines.status", l.status.is_some(), RESPONSE, NONE),
                (
                    "lines.scheduled_delivery_date",
                    l.scheduled_delivery_date.is_some(),
                    RESPONSE,
                    NONE,
                ),
                (
                    "lines.order_number",
                    l.order_number.is_some(),
                    SHIPMENT,
                    NONE,
                ),
                (
                    "lines.order_line_number",
                    l.order_line_number.is_some(),
                    SHIPMENT,
                    NONE,
                ),
                (
                    "lines.quantities",
                    !l.quantities.is_empty(),
                    INVENTORY,
                    INVENTORY,
                ),
            ],
        )?;
        let levels = self.levels.map(|lv| c.levels(lv)).transpose()?;
        let header = HeaderMapping {
            order_number: c.opt("order_number", h.order_number, Kind::Text)?,
            order_date: c.opt("order_date", h.order_date, Kind::Date)?,
            purpose: c.opt("purpose", h.purpose, Kind::Purpose)?,
            status: c.opt("status", h.status, Kind::Status)?,
            response_date: c.opt("response_date", h.response_date, Kind::Date)?,
            report_date: c.opt("report_date", h.report_date, Kind::Date)?,
            currency: c.opt("currency", h.currency, Kind::Text)?,
            requested_delivery_date: c.opt(
                "requested_delivery_date",
                h.requested_delivery_date,
                Kind::Date,
            )?,
            shipment_id: c.opt("shipment_id", h.shipment_id, Kind::Text)?,
            ship_date: c.opt("ship_date", h.ship_date, Kind::Date)?,
            estimated_delivery_date: c.opt(
                "estimated_delivery_date",
                h.estimated_delivery_date,
                Kind::Date,
            )?,
            carrier_code: c.opt("carrier_code", h.carrier_code, Kind::Text)?,
            carrier_name: c.opt("carrier_name", h.carrier_name, Kind::Text)?,
            tracking_number: c.opt("tracking_number", h.tracking_number, Kind::Text)?,
            order_numbers: c.opt("order_numbers", h.order_numbers, Kind::Text)?,
            invoice_number: c.opt("invoice_number", h.invoice_number, Kind::Text)?,
            invoice_date: c.opt("invoice_date", h.invoice_date, Kind::Date)?,
            invoice_type: c.opt("invoice_type", h.invoice_type, Kind::InvoiceType)?,
            total: c.opt("total", h.total, Kind::Decimal)?,
            subtotal: c.opt("subtotal", h.subtotal, Kind::Decimal)?,
            tax: c.opt("tax", h.tax, Kind::Decimal)?,
        };
        let parties = self
            .parties
            .into_iter()
            .map(|p| c.party("parties", p))
            .collect::<Result<Vec<_>, _>>()?;
        let location = self.location.map(|p| c.party("location", p)).transpose()?;
        let mut references = Vec::new();
        for r in self.references {
            references.push(ReferenceMapping {
                r#loop: c.lp("references", r.r#loop)?,
                qualifier: c.field("references.qualifier", r.qualifier, Kind::Text)?,
                value: c.field("references.value", r.value, Kind::Text)?,
                skip: r.skip,
            });
        }
        let packages = match self.packages {
            Some(p) => Some(PackageMapping {
                r#loop: c.lp("packages", p.r#loop)?,
                id: c.opt("packages.id", p.id, Kind::Text)?,
            }),
            None => None,
        };
        let n = |f: &str| format!("lines.{f}");
        let mut quantities = Vec::new();
        for q in l.quantities {
            let n = |f: &str| format!("lines.quantities.{f}");
            quantities.push(QuantityMapping {
                r#loop: c.lp("lines.quantities", q.r#loop)?,
                kind: c.field(&n("kind"), q.kind, Kind::Quantity)?,
                value: c.field(&n("value"), q.value, Kind::Decimal)?,
                unit: c.field(&n("unit"), q.unit, Kind::Unit)?,
            });
        }
        let lines = LineMapping {
            r#loop: c.lp("lines", l.r#loop)?,
            line_number: c.opt(&n("line_number"), l.line_number, Kind::Text)?,
            quantity: c.opt(&n("quantity"), l.quantity, Kind::Decimal)?,
            unit: c.opt(&n("unit"), l.unit, Kind::Unit)?,
            status: c.opt(&n("status"), l.status, Kind::Status)?,
            scheduled_delivery_date: c.opt(
                &n("scheduled_delivery_date"),
                l.scheduled_delivery_date,
                Kind::Date,
            )?,
            quantities,
            unit_price: c.opt(&n("unit_price"), l.unit_price, Kind::Decimal)?,
            gtin: c.opt(&n("gtin"), l.gtin, Kind::Text)?,
            vendor_sku: c.opt(&n("vendor_sku"), l.vendor_sku, Kind::Text)?,
            buyer_sku: c.opt(&n("buyer_sku"), l.buyer_sku, Kind::Text)?,
            description: c.opt(&n("description"), l.description, Kind::Text)?,
            requested_delivery_date: c.opt(
                &n("requested_delivery_date"),
                l.requested_delivery_date,
                Kind::Date,
            )?,
            change: c.opt(&n("change"), l.change, Kind::Change)?,
            amount: c.opt(&n("amount"), l.amount, Kind::Decimal)?,
            order_number: c.opt(&n("order_number"), l.order_number, Kind::Text)?,
            order_line_number: c.opt(&n("order_line_number"), l.order_line_number, Kind::Text)?,
        };
        let mut header = header;
        let mut lines = lines;
        // What the event cannot be without is required whatever the file says: a missing value
        // is then reported by name instead of silently dropping the line or the message.
        let need = |f: &mut Option<Field>| {
            if let Some(f) = f {
                f.required = true;
            }
        };
        match doc {
            Order | OrderChange | OrderResponse => {
                need(&mut header.order_number);
                need(&mut header.purpose);
                need(&mut header.status);
            }
            InventoryReport => need(&mut header.report_date),
            ShipmentNotice => need(&mut header.shipment_id),
            Invoice => {
                need(&mut header.invoice_number);
                need(&mut header.invoice_date);
                need(&mut header.total);
                need(&mut lines.unit_price);
            }
        }
        // A shipment line's number is optional in the event; every other line needs one.
        if doc != ShipmentNotice {
            need(&mut lines.line_number);
        }
        need(&mut lines.quantity);
        need(&mut lines.unit);
        for q in &mut lines.quantities {
            q.kind.required = true;
            q.value.required = true;
            q.unit.required = true;
        }
        let outbound = raw_outbound
            .map(|o| o.check(origin, self.syntax, doc, &self.codes))
            .transpose()?;
        Ok(MessageMapping {
            origin: origin.display().to_string(),
            syntax: self.syntax,
            document: doc,
            message: self.message,
            versions: self.versions,
            header,
            parties,
            references,
            location,
            levels,
            packages,
            lines,
            codes: self.codes,
            outbound,
        })
    }
}
