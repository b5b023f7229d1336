//! The business documents events carry: orders, order responses, shipment notices, invoices and
//! inventory reports.
//!
//! Fields hold what the partner sent; coded values keep the partner's code beside their meaning
//! (a `kind` and a `code`), so an unmapped code is visible rather than dropped.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::party::{Party, Reference};
use crate::values::{Date, Decimal, Gtin, Quantity, Unit};

/// What a product is, by any identifier the partner gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Product {
    /// GTIN, 14 digits with a verified check digit.
    pub gtin: Option<Gtin>,
    /// The seller's item number.
    pub vendor_sku: Option<String>,
    /// The buyer's item number.
    pub buyer_sku: Option<String>,
    /// Free-text description.
    pub description: Option<String>,
}

/// What a purchase order document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PurposeKind {
    /// A new order.
    Original,
    /// Changes to an earlier order.
    Change,
    /// Replaces an earlier order entirely.
    Replace,
    /// Cancels an earlier order.
    Cancel,
    /// Confirms an order agreed elsewhere.
    Confirmation,
    /// A copy of an order already sent.
    Duplicate,
    /// A code not mapped here; see `code`.
    Other,
}

/// A document's purpose: its meaning and the partner's code (X12 353, EDIFACT 1225).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Purpose {
    /// What the code means.
    pub kind: PurposeKind,
    /// The code as sent.
    pub code: String,
}

impl Purpose {
    /// From an X12 transaction set purpose code (353, e.g. `BEG01`, `BCH01`).
    pub fn from_x12(code: &str) -> Purpose {
        let kind = match code.trim() {
            "00" => PurposeKind::Original,
            "01" => PurposeKind::Cancel,
            "04" => PurposeKind::Change,
            "05" => PurposeKind::Replace,
            "06" => PurposeKind::Confirmation,
            "07" => PurposeKind::Duplicate,
            _ => PurposeKind::Other,
        };
        Purpose {
            kind,
            code: code.trim().to_owned(),
        }
    }

    /// From an EDIFACT message function code (1225, `BGM` 4th element).
    pub fn from_edifact(code: &str) -> Purpose {
        let kind = match code.trim() {
            "9" => PurposeKind::Original,
            "1" => PurposeKind::Cancel,
            "4" => PurposeKind::Change,
            "5" => PurposeKind::Replace,
            "6" => PurposeKind::Confirmation,
            "7" => PurposeKind::Duplicate,
            _ => PurposeKind::Other,
        };
        Purpose {
            kind,
            code: code.trim().to_owned(),
        }
    }
}

/// A purchase order, new, changed or cancelled (X12 850/860, EDIFACT ORDERS/ORDCHG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    /// The buyer's order number.
    pub order_number: String,
    /// When the order was issued.
    pub order_date: Option<Date>,
    /// What the document does to the order.
    pub purpose: Purpose,
    /// ISO 4217 currency of the prices.
    pub currency: Option<String>,
    /// When the buyer wants the goods, for the whole order.
    pub requested_delivery_date: Option<Date>,
    /// Buyer, seller, ship-to and the rest.
    pub parties: Vec<Party>,
    /// Other documents and identifiers the order refers to.
    pub references: Vec<Reference>,
    /// The order lines.
    pub lines: Vec<OrderLine>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    /// The line's number as sent (X12 `PO101`, EDIFACT `LIN` 1082).
    pub line_number: String,
    /// How much is ordered.
    pub quantity: Quantity,
    /// Price per unit, in the order's currency.
    pub unit_price: Option<Decimal>,
    /// What is ordered.
    pub product: Product,
    /// When this line is wanted, if it differs from the order's date.
    pub requested_delivery_date: Option<Date>,
    /// What a change document does to this line; null in new orders and when not stated.
    pub change: Option<LineChange>,
}

/// What an order change does to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A line added to the order.
    Add,
    /// A line taken out of the order.
    Delete,
    /// A line whose quantity, price, dates or terms changed.
    Change,
    /// A line repeated without change, for context.
    NoChange,
    /// A code not mapped here; see `code`.
    Other,
}

/// A line's change: its meaning and the partner's code (X12 670 `POC02`, EDIFACT 1229 `LIN02`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct LineChange {
    /// What the code means.
    pub kind: ChangeKind,
    /// The code as sent.
    pub code: String,
}

/// How a seller answered an order or an order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AckKind {
    /// Accepted as ordered.
    Accepted,
    /// Accepted with changes (quantity, price, date or item).
    AcceptedWithChanges,
    /// Accepted, but to be delivered later.
    Backordered,
    /// Not accepted.
    Rejected,
    /// A code not mapped here; see `code`.
    Other,
}

/// A response status: its meaning and the partner's code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct AckStatus {
    /// What the code means.
    pub kind: AckKind,
    /// The code as sent (X12 587 or 668, EDIFACT 1225 or 1229).
    pub code: String,
}

impl AckStatus {
    /// From an X12 acknowledgment type (587, `BAK02`).
    pub fn from_x12_order(code: &str) -> AckStatus {
        let kind = match code.trim() {
            "AD" | "AK" => AckKind::Accepted,
            "AC" => AckKind::AcceptedWithChanges,
            "RD" | "RJ" => AckKind::Rejected,
            _ => AckKind::Other,
        };
        AckStatus::new(kind, code)
    }

    /// From an X12 line item status code (668, `ACK01`).
    pub fn from_x12_line(code: &str) -> AckStatus {
        let kind = match code.trim() {
            "IA" => AckKind::Accepted,
            "IC" => AckKind::AcceptedWithChanges,
            "IB" => AckKind::Backordered,
            "IR" => AckKind::Rejected,
            _ => AckKind::Other,
        };
        AckStatus::new(kind, code)
    }

    /// From an EDIFACT ORDRSP message function code (1225, `BGM`).
    pub fn from_edifact_order(code: &str) -> AckStatus {
        let kind = match code.trim() {
            "29" => AckKind::Accepted,
            "4" => AckKind::AcceptedWithChanges,
            "27" => AckKind::Rejected,
            _ => AckKind::Other,
        };
        AckStatus::new(kind, code)
    }

    fn new(kind: AckKind, code: &str) -> AckStatus {
        AckStatus {
            kind,
            code: code.trim().to_owned(),
        }
    }
}

/// A seller's answer to an order (X12 855, EDIFACT ORDRSP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderResponse {
    /// The buyer's order number being answered.
    pub order_number: String,
    /// The order's date, as echoed back.
    pub order_date: Option<Date>,
    /// When the response was issued.
    pub response_date: Option<Date>,
    /// What the response document is (original, replace, …).
    pub purpose: Purpose,
    /// The answer for the order as a whole.
    pub status: AckStatus,
    /// ISO 4217 currency of the prices.
    pub currency: Option<String>,
    /// Parties named in the response.
    pub parties: Vec<Party>,
    /// Other documents and identifiers referred to.
    pub references: Vec<Reference>,
    /// The answer per order line.
    pub lines: Vec<ResponseLine>,
}

/// The answer to one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResponseLine {
    /// The order line answered.
    pub line_number: String,
    /// The answer for this line.
    pub status: AckStatus,
    /// The quantity the seller will supply.
    pub quantity: Quantity,
    /// The price per unit the seller confirms.
    pub unit_price: Option<Decimal>,
    /// The item.
    pub product: Product,
    /// When the seller expects to deliver this line.
    pub scheduled_delivery_date: Option<Date>,
}

/// Goods dispatched (X12 856, EDIFACT DESADV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentNotice {
    /// The shipper's identifier for the shipment (X12 `BSN02`, EDIFACT `BGM` document number).
    pub shipment_id: String,
    /// When the goods left.
    pub ship_date: Option<Date>,
    /// When the goods are expected.
    pub estimated_delivery_date: Option<Date>,
    /// Who moves the goods.
    pub carrier: Option<Carrier>,
    /// The buyer's order numbers this shipment fills.
    pub order_numbers: Vec<String>,
    /// Ship-from, ship-to and the rest.
    pub parties: Vec<Party>,
    /// Other documents and identifiers referred to (bill of lading, …).
    pub references: Vec<Reference>,
    /// The packages and what is in each; a shipment not packed by package has one with no id.
    pub packages: Vec<Package>,
}

/// A carrier and how it is identified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Carrier {
    /// The carrier's code (e.g. an SCAC).
    pub code: Option<String>,
    /// The carrier's name.
    pub name: Option<String>,
    /// The tracking or pro number.
    pub tracking_number: Option<String>,
}

/// A package (carton, pallet) in a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Package {
    /// The package's serial shipping container code or other marking.
    pub id: Option<String>,
    /// What is in it.
    pub lines: Vec<ShipmentLine>,
}

/// A product shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentLine {
    /// The line's number as sent.
    pub line_number: Option<String>,
    /// The order the goods are for, when the notice says per line.
    pub order_number: Option<String>,
    /// The order line the goods are for.
    pub order_line_number: Option<String>,
    /// How much was shipped.
    pub quantity: Quantity,
    /// The item.
    pub product: Product,
}

/// A bill for goods (X12 810, EDIFACT INVOIC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Invoice {
    /// The seller's invoice number.
    pub invoice_number: String,
    /// When the invoice was issued.
    pub invoice_date: Date,
    /// Whether the document bills (invoice, debit note) or refunds (credit note); null when the
    /// document does not say (X12 `BIG07` is optional).
    pub invoice_type: Option<InvoiceType>,
    /// The buyer's order number invoiced.
    pub order_number: Option<String>,
    /// ISO 4217 currency of all amounts.
    pub currency: Option<String>,
    /// Seller, bill-to, remit-to and the rest.
    pub parties: Vec<Party>,
    /// Other documents and identifiers referred to.
    pub references: Vec<Reference>,
    /// The invoiced lines.
    pub lines: Vec<InvoiceLine>,
    /// The invoice's totals as the seller stated them (not recomputed).
    pub totals: InvoiceTotals,
}

/// What kind of bill an invoice document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvoiceKind {
    /// A bill for goods or services (X12 `DI`, EDIFACT 380).
    Invoice,
    /// Money owed back to the buyer (X12 `CR`, EDIFACT 381): its amounts reduce what is due.
    CreditNote,
    /// An additional charge to an earlier invoice (X12 `DR`, EDIFACT 383).
    DebitNote,
    /// A code not mapped here; see `code`.
    Other,
}

/// An invoice's type: its meaning and the partner's code (X12 640 `BIG07`, EDIFACT 1001 `BGM`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceType {
    /// What the code means.
    pub kind: InvoiceKind,
    /// The code as sent.
    pub code: String,
}

/// One invoiced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceLine {
    /// The line's number as sent.
    pub line_number: String,
    /// How much is invoiced.
    pub quantity: Quantity,
    /// Price per unit.
    pub unit_price: Decimal,
    /// The line amount, when stated.
    pub amount: Option<Decimal>,
    /// The item.
    pub product: Product,
}

/// Invoice totals, in the invoice's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceTotals {
    /// The amount due (X12 `TDS01`, EDIFACT `MOA` 77 or 9).
    pub total: Decimal,
    /// The sum of the lines before tax, allowances and charges.
    pub subtotal: Option<Decimal>,
    /// Total tax.
    pub tax: Option<Decimal>,
}

/// Stock positions at a location (X12 846, EDIFACT INVRPT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryReport {
    /// The date the positions are for.
    pub report_date: Date,
    /// Where the stock is.
    pub location: Option<Party>,
    /// The products reported.
    pub items: Vec<InventoryItem>,
}

/// Stock of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryItem {
    /// The item.
    pub product: Product,
    /// Each kind of quantity reported for it.
    pub quantities: Vec<InventoryQuantity>,
}

/// What an inventory quantity counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QuantityKind {
    /// Physically in stock.
    OnHand,
    /// In stock and free to promise.
    Available,
    /// Ordered from suppliers, not yet received.
    OnOrder,
    /// Promised to customers, not yet shipped.
    Committed,
    /// Ordered by customers but not in stock.
    Backordered,
    /// Shipped towards the location.
    InTransit,
    /// A code not mapped here; see `code`.
    Other,
}

/// One inventory quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InventoryQuantity {
    /// What it counts.
    pub kind: QuantityKind,
    /// The partner's quantity qualifier (X12 673, EDIFACT 6063).
    pub code: String,
    /// How many, exactly.
    pub value: Decimal,
    /// Of what unit.
    pub unit: Unit,
}
