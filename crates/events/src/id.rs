//! Deterministic event ids, so a re-sent message yields the same event and consumers can drop
//! the duplicate.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::Source;

/// Hex digits kept from the digest: 128 bits, far beyond any collision risk at EDI volumes,
/// and short enough to read in a log line.
const HEX_LEN: usize = 32;
const PREFIX: &str = "evt_";

/// An event's id: `evt_` and 32 lowercase hex digits.
///
/// Derived from exactly these inputs, in this order:
///
/// 1. the partner id (the gateway's name for the trading partner, not an EDI sender id, so a
///    partner that changes its interchange id keeps its events apart from another partner's);
/// 2. the interchange control number (X12 `ISA13`, EDIFACT `UNB` 0020);
/// 3. the group control number (X12 `GS06`, EDIFACT `UNG` 0048), or its absence — which hashes
///    differently from an empty one;
/// 4. the message control number (X12 `ST02`, EDIFACT `UNH` 0062);
/// 5. the message's position within the interchange, counting from 0, which separates messages
///    that reuse a control number inside one interchange.
///
/// The recipe, exactly (so another system can reproduce an id): SHA-256 over a sequence of
/// fields, each written as its length (8 bytes, big-endian) then its bytes — the tag
/// `edigate-event-id/1`, the partner, the interchange control, then `g` and the group control
/// or just `-` when there is none, the message control, and the position as 4 big-endian
/// bytes; the id is `evt_` and the first 16 bytes of the digest in lowercase hex. The length
/// prefixes keep `("ab", "c")` and `("a", "bc")` apart; the tag lets the recipe change without
/// colliding with old ids. The standard, version and message type are deliberately not inputs: a re-sent message is
/// the same message whatever its content says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

impl EventId {
    /// The id for a message at `position` in its interchange, from `partner`, whose envelope is
    /// `source`.
    pub fn derive(partner: &str, source: &Source, position: u32) -> EventId {
        EventId::from_parts(
            partner,
            &source.interchange_control,
            source.group_control.as_deref(),
            &source.message_control,
            position,
        )
    }

    /// The id from its inputs one by one (see the type's documentation).
    pub fn from_parts(
        partner: &str,
        interchange_control: &str,
        group_control: Option<&str>,
        message_control: &str,
        position: u32,
    ) -> EventId {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(b"edigate-event-id/1");
        field(partner.as_bytes());
        field(interchange_control.as_bytes());
        match group_control {
            Some(g) => {
                field(b"g");
                field(g.as_bytes());
            }
            None => field(b"-"),
        }
        field(message_control.as_bytes());
        field(&position.to_be_bytes());
        let digest = hash.finalize();
        let mut id = String::with_capacity(PREFIX.len() + HEX_LEN);
        id.push_str(PREFIX);
        for byte in digest.iter().take(HEX_LEN / 2) {
            // Writing to a String cannot fail.
            let _ = write!(id, "{byte:02x}");
        }
        EventId(id)
    }

    /// Accepts an id in the `evt_<32 hex>` form (ids are not re-derived: the inputs are gone).
    pub fn parse(text: &str) -> Option<EventId> {
        let hex = text.strip_prefix(PREFIX)?;
        let ok = hex.len() == HEX_LEN
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| EventId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        EventId::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid event id {text:?}: expected evt_ and 32 lowercase hex digits"
            ))
        })
    }
}

impl JsonSchema for EventId {
    fn schema_name() -> Cow<'static, str> {
        "EventId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "evt_ and 32 hex digits of SHA-256 over partner, interchange, group and message control numbers and the message's position in the interchange; a re-sent message has the same id.",
            "type": "string",
            "pattern": "^evt_[0-9a-f]{32}$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_unambiguous() {
        let a = EventId::from_parts("acme", "1", Some("2"), "3", 0);
        assert_eq!(a, EventId::from_parts("acme", "1", Some("2"), "3", 0));
        assert_eq!(a.as_str().len(), 4 + 32);
        assert_eq!(EventId::parse(a.as_str()), Some(a.clone()));
        assert_ne!(
            EventId::from_parts("ab", "c", None, "3", 0),
            EventId::from_parts("a", "bc", None, "3", 0)
        );
        assert_ne!(
            EventId::from_parts("acme", "1", None, "3", 0),
            EventId::from_parts("acme", "1", Some(""), "3", 0)
        );
        assert_eq!(EventId::parse("evt_XYZ"), None);
    }
}
