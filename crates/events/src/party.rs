//! Who is involved (parties and their roles) and what a document points at (references).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The part a party plays in a document.
///
/// Known roles have a variant; anything else is kept as the partner's code in [`OtherRole`],
/// which can only be made from text that is not a known role name, so `buyer` is always
/// [`PartyRole::Buyer`] and consumers can match on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PartyRole {
    /// Orders the goods (X12 `BY`, EDIFACT `BY`).
    Buyer,
    /// Sells the goods (X12 `SE`, EDIFACT `SE`).
    Seller,
    /// Supplies or ships the goods on the seller's behalf (X12 `SU`/`VN`, EDIFACT `SU`).
    Supplier,
    /// Receives the goods (X12 `ST`, EDIFACT `DP`/`ST`).
    ShipTo,
    /// Where the goods leave from (X12 `SF`, EDIFACT `SF`).
    ShipFrom,
    /// Receives the invoice (X12 `BT`, EDIFACT `IV`).
    BillTo,
    /// Receives payment (X12 `RI`).
    RemitTo,
    /// Moves the goods (X12 `CA`, EDIFACT `CA`).
    Carrier,
    /// Any other role, by the partner's code.
    Other(OtherRole),
}

/// A role code with no named [`PartyRole`]; never the name of a known role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherRole(String);

impl OtherRole {
    /// The partner's code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const ROLE_NAMES: &[(&str, PartyRole)] = &[
    ("buyer", PartyRole::Buyer),
    ("seller", PartyRole::Seller),
    ("supplier", PartyRole::Supplier),
    ("ship_to", PartyRole::ShipTo),
    ("ship_from", PartyRole::ShipFrom),
    ("bill_to", PartyRole::BillTo),
    ("remit_to", PartyRole::RemitTo),
    ("carrier", PartyRole::Carrier),
];

impl PartyRole {
    /// The role named by `name` (`"buyer"`, `"ship_to"`, …), or [`PartyRole::Other`] holding it.
    pub fn from_name(name: &str) -> PartyRole {
        ROLE_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| PartyRole::Other(OtherRole(name.to_owned())))
    }

    /// The role for an X12 entity identifier code (element 98, `N101`).
    pub fn from_x12(code: &str) -> PartyRole {
        match code.trim() {
            "BY" => PartyRole::Buyer,
            "SE" => PartyRole::Seller,
            "SU" | "VN" => PartyRole::Supplier,
            "ST" => PartyRole::ShipTo,
            "SF" => PartyRole::ShipFrom,
            "BT" => PartyRole::BillTo,
            "RI" => PartyRole::RemitTo,
            "CA" => PartyRole::Carrier,
            other => PartyRole::from_name(other),
        }
    }

    /// The role for an EDIFACT party function code qualifier (3035, `NAD`).
    pub fn from_edifact(code: &str) -> PartyRole {
        match code.trim() {
            "BY" => PartyRole::Buyer,
            "SE" => PartyRole::Seller,
            "SU" => PartyRole::Supplier,
            "DP" | "ST" => PartyRole::ShipTo,
            "SF" => PartyRole::ShipFrom,
            "IV" => PartyRole::BillTo,
            "CA" => PartyRole::Carrier,
            other => PartyRole::from_name(other),
        }
    }

    /// The name used in JSON.
    pub fn as_str(&self) -> &str {
        match self {
            PartyRole::Buyer => "buyer",
            PartyRole::Seller => "seller",
            PartyRole::Supplier => "supplier",
            PartyRole::ShipTo => "ship_to",
            PartyRole::ShipFrom => "ship_from",
            PartyRole::BillTo => "bill_to",
            PartyRole::RemitTo => "remit_to",
            PartyRole::Carrier => "carrier",
            PartyRole::Other(o) => &o.0,
        }
    }
}

impl fmt::Display for PartyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PartyRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PartyRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = Cow::<str>::deserialize(d)?;
        if name.is_empty() {
            return Err(serde::de::Error::custom("empty party role"));
        }
        Ok(PartyRole::from_name(&name))
    }
}

impl JsonSchema for PartyRole {
    fn schema_name() -> Cow<'static, str> {
        "PartyRole".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "buyer, seller, supplier, ship_to, ship_from, bill_to, remit_to, carrier, or the partner's own role code.",
            "type": "string",
            "minLength": 1,
            "examples": ["buyer", "ship_to"]
        })
    }
}

/// A party named in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Party {
    /// What the party does in this document.
    pub role: PartyRole,
    /// The party's identifier (a GLN, DUNS number, or the partner's own code).
    pub id: Option<String>,
    /// What kind of identifier `id` is, as the partner coded it (X12 66, EDIFACT 3055).
    pub id_qualifier: Option<String>,
    /// The party's name.
    pub name: Option<String>,
    /// The party's postal address.
    pub address: Option<Address>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    /// Street lines, in order.
    pub lines: Vec<String>,
    /// City.
    pub city: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country, as sent (usually ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

/// A reference to another document or identifier, kept as the partner coded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reference {
    /// What the value is (X12 128, EDIFACT 1153), e.g. `"IA"` or `"ON"`.
    pub qualifier: String,
    /// The referenced identifier.
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_never_become_other() {
        assert_eq!(PartyRole::from_name("buyer"), PartyRole::Buyer);
        assert_eq!(PartyRole::from_x12("ST"), PartyRole::ShipTo);
        assert_eq!(PartyRole::from_edifact("DP"), PartyRole::ShipTo);
        let other = PartyRole::from_x12("ZZ");
        assert_eq!(other.as_str(), "ZZ");
        assert!(matches!(other, PartyRole::Other(_)));
        for (name, role) in ROLE_NAMES {
            assert_eq!(role.as_str(), *name);
        }
    }
}
