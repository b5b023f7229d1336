//! Mapping EDI messages to canonical events, driven by mapping files.
//!
//! - [`path`]: the path language that says where a value is (`BEG03`, `N1[N101=ST]/N104`,
//!   `DTM[DTM01-1=137]/DTM01-2`) and which segments a loop or level starts at (`HL[HL03=I]`),
//!   parsed into a typed AST with errors that name the column.
//! - [`spec`]: mapping files (TOML, in `mappings/`), loaded and checked: the document made
//!   (`order`, `order.changed`, `order.response`, `inventory.report`, `shipment.notice`,
//!   `invoice`), header fields, party, reference, package and line loops, hierarchical levels
//!   (X12 `HL`, EDIFACT `CPS`), per-line quantity loops, code tables, date formats, implied
//!   decimals.
//! - [`translate`]: one interchange in, one `Result<Event, MappingError>` per message out. A
//!   message that cannot be translated is an error naming the message, the field, the path and
//!   the segment — never dropped, never half-mapped.
//! - [`xml`]: XML documents (UBL 2.1, cXML) through mapping files of their own
//!   (`syntax = "xml"`), with a path language over elements and attributes.
//!
//! ```
//! let input = b"UNB+UNOC:3+BUYER:14+SELLER:14+240101:1200+42'UNH+1+ORDERS:D:96A:UN'\
//! BGM+220+PO-1+9'DTM+137:20240115:102'LIN+1++4006381333931:EN'QTY+21:5:PCE'UNT+6+1'UNZ+1+42'";
//! let ic = &edi::Parser::new().lenient(true).parse(input).unwrap()[0];
//! let mappings = mapping::Mappings::builtin().unwrap();
//! let results = mapping::translate(ic, "acme", &mappings);
//! let event = results[0].as_ref().unwrap();
//! let json = serde_json::to_value(event).unwrap();
//! assert_eq!(json["type"], "order.created");
//! assert_eq!(json["data"]["order_date"], "2024-01-15");
//! assert_eq!(json["data"]["lines"][0]["product"]["gtin"], "04006381333931");
//! ```

mod engine;
pub mod outbound;
pub mod path;
pub mod spec;
pub mod xml;

pub use engine::{
    Explanation, MappingError, Problem, translate, translate_explained, translate_message,
};
pub use outbound::{ComposeError, Envelope, compose};
pub use path::{Path, PathError};
pub use spec::{LoadError, Mappings, builtin_sources};
