//! Value types that hold only valid values: exact decimals, calendar dates, GTINs, units.
//!
//! Each is built by a parsing constructor that says what was wrong, and deserialises through the
//! same constructor, so an event read back from JSON is held to the same rules as one mapped from
//! EDI.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not a decimal number: digits with an optional sign and at most one decimal mark.
    #[error("invalid decimal {text:?}: {reason}")]
    Decimal {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a calendar date in the expected format.
    #[error("invalid date {text:?}: {reason}")]
    Date {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not 8, 12, 13 or 14 digits.
    #[error("invalid GTIN {text:?}: {reason}")]
    Gtin {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The right shape, but the last digit is not the GS1 check digit of the others — usually a
    /// typo or a truncated number, so it is refused rather than passed on.
    #[error("invalid GTIN {text:?}: check digit is {found}, expected {expected}")]
    GtinCheckDigit {
        /// The text as given.
        text: String,
        /// The check digit computed from the other digits.
        expected: u8,
        /// The last digit as given.
        found: u8,
    },
    /// An EDIFACT date/time format code (2379) this crate does not read.
    #[error("unsupported EDIFACT date format code {0:?} (expected 101, 102 or 203)")]
    DateFormat(String),
}

/// Implements `Serialize`/`Deserialize` as a JSON string through `Display` and `parse`.
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = Cow::<str>::deserialize(d)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// An exact decimal number, kept as text.
///
/// EDI amounts and quantities are decimal text; turning them into floats would change
/// `0.1` and lose trailing zeros a partner may compare on, so the digits are kept exactly and
/// serialised as a JSON string. Normalisation is limited to what cannot change the value: a `,`
/// decimal mark becomes `.`, a leading `+` is dropped, a bare leading mark gains a `0` (`.5` →
/// `0.5`) and a trailing mark is dropped (`5.` → `5`). Trailing and leading zeros are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// Parses `[+-]digits[.digits]` (the mark may be `.` or `,`; at least one digit).
    pub fn parse(text: &str) -> Result<Decimal, ValueError> {
        let fail = |reason| ValueError::Decimal {
            text: text.to_owned(),
            reason,
        };
        let (negative, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            Some(_) => (false, text),
            None => return Err(fail("empty")),
        };
        let (int, frac) = match body.find(['.', ',']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let frac = frac.unwrap_or("");
        if frac.contains(['.', ',']) {
            return Err(fail("more than one decimal mark"));
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(fail(
                "only digits, one sign and one decimal mark are allowed",
            ));
        }
        if int.is_empty() && frac.is_empty() {
            return Err(fail("no digits"));
        }
        let mut out = String::with_capacity(text.len() + 1);
        if negative {
            out.push('-');
        }
        out.push_str(if int.is_empty() { "0" } else { int });
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        Ok(Decimal(out))
    }

    /// The normalised text, e.g. `"12.50"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Decimal {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::parse(s)
    }
}

string_serde!(Decimal);

impl JsonSchema for Decimal {
    fn schema_name() -> Cow<'static, str> {
        "Decimal".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An exact decimal number as a string, '.' as the decimal mark, never a float.",
            "type": "string",
            "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
            "examples": ["12.50"]
        })
    }
}

/// A calendar date (ISO 8601 `YYYY-MM-DD`), checked against the real calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A date, if it exists (years 1–9999, leap years honoured).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=9999).contains(&year) && (1..=days).contains(&day)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses ISO 8601 `YYYY-MM-DD`, the form events carry.
    pub fn parse(text: &str) -> Result<Date, ValueError> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(date_error(text, "expected YYYY-MM-DD"));
        }
        Date::from_parts(text, &text[0..4], &text[5..7], &text[8..10])
    }

    /// Parses `CCYYMMDD` (X12 DT, EDIFACT format 102).
    pub fn from_ccyymmdd(text: &str) -> Result<Date, ValueError> {
        if text.len() != 8 {
            return Err(date_error(text, "expected CCYYMMDD"));
        }
        Date::from_parts(text, &text[0..4], &text[4..6], &text[6..8])
    }

    /// Parses `YYMMDD` (X12 004010 and earlier, EDIFACT format 101) as a date in 2000–2099.
    ///
    /// Six-digit years are ambiguous; documents exchanged today are about this century, and a
    /// sliding window would make the same bytes mean different dates in different years.
    pub fn from_yymmdd(text: &str) -> Result<Date, ValueError> {
        if text.len() != 6 || !text.is_ascii() {
            return Err(date_error(text, "expected YYMMDD"));
        }
        Date::from_parts(
            text,
            &format!("20{}", &text[0..2]),
            &text[2..4],
            &text[4..6],
        )
    }

    /// Parses an EDIFACT `DTM` value by its format code (2379): `102` `CCYYMMDD`, `101` `YYMMDD`,
    /// `203` `CCYYMMDDHHMM` (the time is checked, then dropped: events carry dates).
    pub fn from_edifact(format: &str, text: &str) -> Result<Date, ValueError> {
        match format {
            "102" => Date::from_ccyymmdd(text),
            "101" => Date::from_yymmdd(text),
            "203" => {
                let ok = text.len() == 12
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && text[8..10] < *"24"
                    && text[10..12] < *"60";
                if !ok {
                    return Err(date_error(text, "expected CCYYMMDDHHMM"));
                }
                Date::from_ccyymmdd(&text[..8])
            }
            other => Err(ValueError::DateFormat(other.to_owned())),
        }
    }

    fn from_parts(text: &str, y: &str, m: &str, d: &str) -> Result<Date, ValueError> {
        let num = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let (Some(year), Some(month), Some(day)) = (num(y), num(m), num(d)) else {
            return Err(date_error(text, "not all digits"));
        };
        Date::new(year, month as u8, day as u8)
            .ok_or_else(|| date_error(text, "no such day in the calendar"))
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }
    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }
}

fn date_error(text: &str, reason: &'static str) -> ValueError {
    ValueError::Date {
        text: text.to_owned(),
        reason,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

string_serde!(Date);

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An ISO 8601 calendar date.",
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        })
    }
}

/// A GS1 Global Trade Item Number, always 14 digits with a verified check digit.
///
/// GTIN-8, UPC-A (12) and EAN-13 are the same number space left-padded with zeros, so one form
/// lets consumers compare products without knowing which the partner sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gtin(String);

impl Gtin {
    /// Parses 8, 12, 13 or 14 digits, left-pads to 14 and verifies the check digit.
    pub fn parse(text: &str) -> Result<Gtin, ValueError> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValueError::Gtin {
                text: text.to_owned(),
                reason: "only digits are allowed",
            });
        }
        if !matches!(text.len(), 8 | 12 | 13 | 14) {
            return Err(ValueError::Gtin {
                text: text.to_owned(),
                reason: "expected 8, 12, 13 or 14 digits",
            });
        }
        let padded = format!("{text:0>14}");
        let digits: Vec<u8> = padded.bytes().map(|b| b - b'0').collect();
        // GS1: weights 3,1,3,… from the left of the 13 data digits of a GTIN-14.
        let sum: u32 = digits[..13]
            .iter()
            .enumerate()
            .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        let expected = ((10 - sum % 10) % 10) as u8;
        let found = digits[13];
        if expected != found {
            return Err(ValueError::GtinCheckDigit {
                text: text.to_owned(),
                expected,
                found,
            });
        }
        Ok(Gtin(padded))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(Gtin);

impl JsonSchema for Gtin {
    fn schema_name() -> Cow<'static, str> {
        "Gtin".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A GTIN as 14 digits (shorter forms left-padded with zeros), check digit verified.",
            "type": "string",
            "pattern": "^[0-9]{14}$"
        })
    }
}

/// A unit of measure: the UN/ECE Recommendation 20 code when the mapping is known, and always
/// the partner's own code, so nothing is lost when a code is not (yet) mapped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Unit {
    /// The UN/ECE Recommendation 20 code, or null when the partner's code has no known mapping.
    pub code: Option<String>,
    /// The partner's code as sent (surrounding spaces trimmed).
    pub original: String,
}

/// X12 element 355 codes whose Rec 20 equivalent is certain.
const X12_UNITS: &[(&str, &str)] = &[
    ("BX", "BX"),
    ("CA", "CS"),
    ("CT", "CT"),
    ("DZ", "DZN"),
    ("EA", "EA"),
    ("FT", "FOT"),
    ("GA", "GLL"),
    ("IN", "INH"),
    ("KG", "KGM"),
    ("LB", "LBR"),
    ("OZ", "ONZ"),
    ("PC", "H87"),
    ("PK", "PK"),
    ("PR", "PR"),
    ("YD", "YRD"),
];

/// EDIFACT 6411 is Rec 20 itself; these are the codes known to be current Rec 20 codes, plus
/// EANCOM's `PCE` (piece), which Rec 20 spells `H87`.
const EDIFACT_UNITS: &[(&str, &str)] = &[
    ("BX", "BX"),
    ("C62", "C62"),
    ("CMT", "CMT"),
    ("CS", "CS"),
    ("CT", "CT"),
    ("DZN", "DZN"),
    ("EA", "EA"),
    ("FOT", "FOT"),
    ("GLL", "GLL"),
    ("GRM", "GRM"),
    ("H87", "H87"),
    ("INH", "INH"),
    ("KGM", "KGM"),
    ("LBR", "LBR"),
    ("LTR", "LTR"),
    ("MLT", "MLT"),
    ("MMT", "MMT"),
    ("MTK", "MTK"),
    ("MTQ", "MTQ"),
    ("MTR", "MTR"),
    ("ONZ", "ONZ"),
    ("PCE", "H87"),
    ("PK", "PK"),
    ("PR", "PR"),
    ("SET", "SET"),
    ("TNE", "TNE"),
];

impl Unit {
    /// A unit from an X12 unit-or-basis-for-measurement code (element 355).
    pub fn from_x12(code: &str) -> Unit {
        Unit::lookup(X12_UNITS, code)
    }

    /// A unit from an EDIFACT measurement unit code (6411).
    pub fn from_edifact(code: &str) -> Unit {
        Unit::lookup(EDIFACT_UNITS, code)
    }

    /// The X12 355 code to send for this unit: the partner's own code when it means the same
    /// Rec 20 unit (or no Rec 20 code is known), else the X12 code of the Rec 20 code.
    pub fn x12_code(&self) -> &str {
        self.send_as(X12_UNITS)
    }

    /// The EDIFACT 6411 code to send for this unit, chosen like [`Unit::x12_code`].
    pub fn edifact_code(&self) -> &str {
        self.send_as(EDIFACT_UNITS)
    }

    fn send_as<'u>(&'u self, table: &'u [(&'u str, &'u str)]) -> &'u str {
        let Some(code) = self.code.as_deref() else {
            return &self.original;
        };
        if table
            .iter()
            .any(|(from, to)| *from == self.original && *to == code)
        {
            return &self.original;
        }
        table
            .iter()
            .find(|(_, to)| *to == code)
            .map_or(self.original.as_str(), |(from, _)| from)
    }

    fn lookup(table: &[(&str, &str)], code: &str) -> Unit {
        let original = code.trim();
        Unit {
            code: table
                .iter()
                .find(|(from, _)| *from == original)
                .map(|(_, to)| (*to).to_owned()),
            original: original.to_owned(),
        }
    }
}

/// An amount of something in a unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Quantity {
    /// How many, exactly.
    pub value: Decimal,
    /// Of what unit.
    pub unit: Unit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_sent_as_the_partner_code_of_its_meaning() {
        // Its own code when that means the same, else the other standard's code for it.
        assert_eq!(Unit::from_x12("CA").x12_code(), "CA");
        assert_eq!(Unit::from_x12("CA").edifact_code(), "CS");
        assert_eq!(Unit::from_edifact("PCE").edifact_code(), "PCE");
        assert_eq!(Unit::from_edifact("PCE").x12_code(), "PC");
        assert_eq!(Unit::from_edifact("KGM").x12_code(), "KG");
        // Unknown: sent as it came.
        assert_eq!(Unit::from_x12("ZZ").edifact_code(), "ZZ");
    }

    #[test]
    fn decimal_keeps_digits_and_normalises_the_mark() {
        let ok = |t: &str| Decimal::parse(t).map(|d| d.0).ok();
        assert_eq!(ok("12.50").as_deref(), Some("12.50"));
        assert_eq!(ok("12,50").as_deref(), Some("12.50"));
        assert_eq!(ok("+7").as_deref(), Some("7"));
        assert_eq!(ok("-.5").as_deref(), Some("-0.5"));
        assert_eq!(ok("5.").as_deref(), Some("5"));
        for bad in ["", "-", ".", "1.2.3", "1,2.3", "abc", "1e5", " 1", "--1"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn dates_follow_the_calendar() {
        assert_eq!(
            Date::from_ccyymmdd("20240229").map(|d| d.to_string()),
            Ok("2024-02-29".to_owned())
        );
        assert!(Date::from_ccyymmdd("20230229").is_err());
        assert!(Date::from_ccyymmdd("19000229").is_err());
        assert!(Date::from_ccyymmdd("20000229").is_ok());
        assert_eq!(Date::from_yymmdd("240115").map(|d| d.year()), Ok(2024));
        assert!(Date::from_yymmdd("24011").is_err());
        assert!(Date::from_edifact("203", "202401151260").is_err());
        assert_eq!(
            Date::from_edifact("203", "202401152359").map(|d| d.to_string()),
            Ok("2024-01-15".to_owned())
        );
        assert_eq!(
            Date::from_edifact("718", "20240101-20240131"),
            Err(ValueError::DateFormat("718".to_owned()))
        );
        assert!(Date::parse("2024-1-15").is_err());
        assert!(Date::parse("2024-13-01").is_err());
    }

    #[test]
    fn gtins_are_padded_and_checked() {
        assert_eq!(
            Gtin::parse("96385074").map(|g| g.0),
            Ok("00000096385074".to_owned())
        );
        assert!(matches!(
            Gtin::parse("4000862141405"),
            Err(ValueError::GtinCheckDigit {
                expected: 4,
                found: 5,
                ..
            })
        ));
        assert!(Gtin::parse("1234567").is_err());
        assert!(Gtin::parse("40008621414O4").is_err());
    }

    #[test]
    fn units_map_only_known_codes() {
        assert_eq!(Unit::from_x12("CA").code.as_deref(), Some("CS"));
        assert_eq!(Unit::from_x12("LB").code.as_deref(), Some("LBR"));
        assert_eq!(Unit::from_edifact("PCE").code.as_deref(), Some("H87"));
        let unknown = Unit::from_x12(" ZZ ");
        assert_eq!(unknown.code, None);
        assert_eq!(unknown.original, "ZZ");
    }
}
