//! Message specifications as data.
//!
//! `specs/` holds, per syntax and version, the data element dictionary (`elements.toml`), the
//! composites (`composites.toml`), the segments (`segments.toml`) and each message's structure
//! (`messages/*.toml`), in the format `specs/README.md` describes. This crate reads a version
//! directory — following its `extends` chain and any overlays (a partner's deviations) — and
//! resolves every reference, so the validator works only with checked definitions.

mod error;
mod load;
mod model;
mod raw;

pub use error::SpecError;
pub use load::{KeyHasher, SpecSet};
pub use model::{
    CompositeDef, DataType, ElementDef, Item, MaxUse, MessageDef, Node, NodeSummary, Position,
    Rule, RuleMask, SegmentDef, Syntax, Usage, code_key, tag_key,
};
