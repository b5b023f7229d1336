//! Canonical business events: what the gateway publishes once an EDI message is understood.
//!
//! The roles:
//!
//! - [`Event`]: the envelope every event shares — a deterministic [`EventId`], the
//!   [`EventType`], the partner, the [`SCHEMA_VERSION`], where it came from ([`Source`]) and the
//!   document itself ([`Payload`]). The payload decides the type, so an `invoice` event holding
//!   an order cannot be built.
//! - [`documents`]: the documents — [`Order`] (created, changed, cancelled), [`OrderResponse`],
//!   [`ShipmentNotice`], [`Invoice`], [`InventoryReport`].
//! - [`values`] and [`party`]: the value types those are made of. Each accepts only valid values:
//!   a [`Decimal`] is exact text, never a float; a [`Date`] exists in the calendar; a [`Gtin`] is
//!   14 digits with a verified check digit; a [`Unit`] carries its UN/ECE Recommendation 20 code
//!   beside the partner's.
//! - [`schema`]: the JSON Schema of [`Event`], generated from these types. The published copy is
//!   `specs/canonical/event.schema.json`; a test fails when it drifts from the types.
//!
//! ```
//! use events::{Event, Payload, Source, Standard};
//! use events::documents::{Invoice, InvoiceTotals};
//! use events::values::{Date, Decimal};
//!
//! let source = Source {
//!     standard: Standard::X12,
//!     version: "004010".into(),
//!     message: "810".into(),
//!     sender: "ACME".into(),
//!     receiver: "SHOP".into(),
//!     interchange_control: "000000042".into(),
//!     group_control: Some("42".into()),
//!     message_control: "0001".into(),
//! };
//! let invoice = Invoice {
//!     invoice_number: "INV-1".into(),
//!     invoice_date: Date::from_ccyymmdd("20240115").unwrap(),
//!     invoice_type: None,
//!     order_number: None,
//!     currency: Some("USD".into()),
//!     parties: vec![],
//!     references: vec![],
//!     lines: vec![],
//!     totals: InvoiceTotals { total: Decimal::parse("0.00").unwrap(), subtotal: None, tax: None },
//! };
//! let event = Event::new("acme", source, 0, Payload::Invoice(invoice));
//! let json = serde_json::to_value(&event).unwrap();
//! assert_eq!(json["type"], "invoice");
//! assert_eq!(json["data"]["totals"]["total"], "0.00");
//! ```

pub mod documents;
mod id;
pub mod party;
pub mod values;

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use documents::{InventoryReport, Invoice, Order, OrderResponse, ShipmentNotice};
pub use id::EventId;
pub use party::{Address, Party, PartyRole, Reference};
pub use values::{Date, Decimal, Gtin, Quantity, Unit, ValueError};

/// The version of the event format. It changes only when a change would break a consumer
/// (a field removed, renamed or retyped); added optional fields keep it.
pub const SCHEMA_VERSION: &str = "1";

/// The JSON Schema (draft 2020-12) of [`Event`], as published in
/// `specs/canonical/event.schema.json`.
pub fn schema() -> Schema {
    schemars::schema_for!(Event)
}

/// A canonical event.
///
/// Serialised as `{"id", "type", "partner", "schema_version", "source", "data"}`, in that order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(
    title = "edigate canonical event",
    description = "A business document received over EDI, in edigate's canonical form."
)]
pub struct Event {
    /// Deterministic id: the same message re-sent gives the same id.
    id: EventId,
    /// The trading partner, by the gateway's name for it.
    partner: String,
    /// The event format version.
    schema_version: SchemaVersion,
    /// The EDI message this event was read from.
    source: Source,
    /// `type` and `data`: which event this is and its document.
    #[serde(flatten)]
    payload: Payload,
}

impl Event {
    /// An event for the message at `position` (from 0) in its interchange; the id is derived
    /// from these (see [`EventId`]).
    pub fn new(
        partner: impl Into<String>,
        source: Source,
        position: u32,
        payload: Payload,
    ) -> Event {
        let partner = partner.into();
        Event {
            id: EventId::derive(&partner, &source, position),
            partner,
            schema_version: SchemaVersion,
            source,
            payload,
        }
    }

    /// The event's id.
    pub fn id(&self) -> &EventId {
        &self.id
    }
    /// Which event this is.
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }
    /// The trading partner.
    pub fn partner(&self) -> &str {
        &self.partner
    }
    /// The event format version, [`SCHEMA_VERSION`].
    pub fn schema_version(&self) -> &'static str {
        SCHEMA_VERSION
    }
    /// The EDI message the event was read from.
    pub fn source(&self) -> &Source {
        &self.source
    }
    /// The document.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }
}

// By hand so `type` comes before `partner` and `data` comes last, the order the envelope is
// documented in; the derived `Deserialize` and `JsonSchema` describe the same shape.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("type", &self.event_type())?;
        map.serialize_entry("partner", &self.partner)?;
        map.serialize_entry("schema_version", &self.schema_version)?;
        map.serialize_entry("source", &self.source)?;
        match &self.payload {
            Payload::OrderCreated(d) | Payload::OrderChanged(d) | Payload::OrderCancelled(d) => {
                map.serialize_entry("data", d)?
            }
            Payload::OrderResponse(d) => map.serialize_entry("data", d)?,
            Payload::ShipmentNotice(d) => map.serialize_entry("data", d)?,
            Payload::Invoice(d) => map.serialize_entry("data", d)?,
            Payload::InventoryReport(d) => map.serialize_entry("data", d)?,
        }
        map.end()
    }
}

/// An event's document, tagged with its type: the variant is the type, so the two cannot
/// disagree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data")]
#[non_exhaustive]
pub enum Payload {
    /// A new order (X12 850, EDIFACT ORDERS, purpose original).
    #[serde(rename = "order.created")]
    OrderCreated(Order),
    /// A change to an order (X12 860, EDIFACT ORDCHG).
    #[serde(rename = "order.changed")]
    OrderChanged(Order),
    /// An order cancelled (X12 850/860 or EDIFACT ORDERS/ORDCHG whose purpose is cancel).
    #[serde(rename = "order.cancelled")]
    OrderCancelled(Order),
    /// The seller's answer to an order (X12 855, EDIFACT ORDRSP).
    #[serde(rename = "order.response")]
    OrderResponse(OrderResponse),
    /// Goods dispatched (X12 856, EDIFACT DESADV).
    #[serde(rename = "shipment.notice")]
    ShipmentNotice(ShipmentNotice),
    /// A bill (X12 810, EDIFACT INVOIC).
    #[serde(rename = "invoice")]
    Invoice(Invoice),
    /// Stock positions (X12 846, EDIFACT INVRPT).
    #[serde(rename = "inventory.report")]
    InventoryReport(InventoryReport),
}

impl Payload {
    /// The event type this document makes.
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::OrderCreated(_) => EventType::OrderCreated,
            Payload::OrderChanged(_) => EventType::OrderChanged,
            Payload::OrderCancelled(_) => EventType::OrderCancelled,
            Payload::OrderResponse(_) => EventType::OrderResponse,
            Payload::ShipmentNotice(_) => EventType::ShipmentNotice,
            Payload::Invoice(_) => EventType::Invoice,
            Payload::InventoryReport(_) => EventType::InventoryReport,
        }
    }
}

/// Which event an [`Event`] is; serialised as its dotted name (`"order.created"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum EventType {
    /// `order.created`
    #[serde(rename = "order.created")]
    OrderCreated,
    /// `order.changed`
    #[serde(rename = "order.changed")]
    OrderChanged,
    /// `order.cancelled`
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// `order.response`
    #[serde(rename = "order.response")]
    OrderResponse,
    /// `shipment.notice`
    #[serde(rename = "shipment.notice")]
    ShipmentNotice,
    /// `invoice`
    #[serde(rename = "invoice")]
    Invoice,
    /// `inventory.report`
    #[serde(rename = "inventory.report")]
    InventoryReport,
}

impl EventType {
    /// Every event type, in documentation order.
    pub const ALL: [EventType; 7] = [
        EventType::OrderCreated,
        EventType::OrderChanged,
        EventType::OrderCancelled,
        EventType::OrderResponse,
        EventType::ShipmentNotice,
        EventType::Invoice,
        EventType::InventoryReport,
    ];

    /// The dotted name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderChanged => "order.changed",
            EventType::OrderCancelled => "order.cancelled",
            EventType::OrderResponse => "order.response",
            EventType::ShipmentNotice => "shipment.notice",
            EventType::Invoice => "invoice",
            EventType::InventoryReport => "inventory.report",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The syntax a document was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Standard {
    /// ASC X12.
    X12,
    /// UN/EDIFACT.
    Edifact,
    /// An XML document (UBL, cXML): `message` is the document element's local name (`Order`,
    /// `OrderRequest`), `version` what the document says of itself (UBL `cbc:UBLVersionID`,
    /// cXML `version`).
    Xml,
}

/// Where an event came from: the EDI message's identity, enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// X12, EDIFACT or XML.
    pub standard: Standard,
    /// The message's version: X12 `GS08` (e.g. `004010`), EDIFACT `UNH` S009 (e.g. `D96A`).
    pub version: String,
    /// The message type: X12 `ST01` (e.g. `850`), EDIFACT `UNH` S009 (e.g. `ORDERS`).
    pub message: String,
    /// The interchange sender id (X12 `ISA06`, EDIFACT `UNB` S002; XML: the sending party's
    /// id where the mapping says, UBL `cbc:EndpointID`, cXML `From` credential).
    pub sender: String,
    /// The interchange receiver id (X12 `ISA08`, EDIFACT `UNB` S003; XML: as for the sender).
    pub receiver: String,
    /// X12 `ISA13`, EDIFACT `UNB` 0020; XML: cXML `payloadID`, UBL `cbc:UUID` (else the
    /// document's id).
    pub interchange_control: String,
    /// X12 `GS06`, EDIFACT `UNG` 0048; null when the interchange has no groups (EDIFACT, XML).
    pub group_control: Option<String>,
    /// X12 `ST02`, EDIFACT `UNH` 0062; XML: the document's id (UBL `cbc:ID`, cXML `orderID`).
    pub message_control: String,
}

/// The schema version, which only ever holds [`SCHEMA_VERSION`]: reading an event of another
/// version fails instead of misreading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Cow::<str>::deserialize(d)?;
        if v == SCHEMA_VERSION {
            Ok(SchemaVersion)
        } else {
            Err(serde::de::Error::custom(format!(
                "unsupported schema_version {v:?}: this build reads {SCHEMA_VERSION:?}"
            )))
        }
    }
}

impl JsonSchema for SchemaVersion {
    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "const": SCHEMA_VERSION })
    }
}
