//! The spec files as written (see `specs/README.md`): TOML read with serde, merged layer over
//! layer, then resolved into the types of `model.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `spec.toml`: what a directory describes and what it extends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    pub syntax: String,
    pub version: String,
    /// A directory (relative to this one) loaded first, which this one overrides.
    #[serde(default)]
    pub extends: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawElement {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub min: u32,
    pub max: u32,
    #[serde(default)]
    pub codes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComposite {
    pub name: String,
    /// `"ID USAGE"` per component.
    pub components: Vec<String>,
    #[serde(default)]
    pub rules: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSegment {
    pub name: String,
    /// `"ID USAGE [REPEAT]"` per position.
    #[serde(default)]
    pub elements: Vec<String>,
    #[serde(default)]
    pub rules: Vec<String>,
}

/// A maximum: a number, or `">1"` for unbounded.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawMax {
    Number(u32),
    Text(String),
}

/// A structure entry: `"TAG USAGE MAX"` or a loop table.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawNode {
    Segment(String),
    Loop(RawLoop),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoop {
    #[serde(rename = "loop")]
    pub id: String,
    pub usage: String,
    pub max: RawMax,
    pub structure: Vec<RawNode>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMessage {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub functional_group: Option<String>,
    pub structure: Vec<RawNode>,
}
