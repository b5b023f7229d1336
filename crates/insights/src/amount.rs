//! Exact sums of decimal amounts: order values are added up without ever becoming floats.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most fraction digits kept: more than any currency or price in EDI uses.
const MAX_SCALE: u32 = 12;

/// An exact decimal amount: `units × 10^-scale`. Serialised as decimal text (`"1234.50"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    units: i128,
    scale: u32,
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount { units: 0, scale: 0 };

    /// Parses `[-]digits[.digits]`, the normalised text of an event's decimal.
    pub fn parse(text: &str) -> Option<Amount> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac = frac.trim_end_matches('0');
        let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= MAX_SCALE)?;
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Amount {
            units: if negative { -units } else { units },
            scale,
        })
    }

    /// The sum, exactly; `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        let scale = self.scale.max(other.scale);
        let a = self
            .units
            .checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let b = other
            .units
            .checked_mul(10i128.checked_pow(scale - other.scale)?)?;
        Some(
            Amount {
                units: a.checked_add(b)?,
                scale,
            }
            .normalised(),
        )
    }

    /// The product (a quantity times a unit price), exactly; `None` on overflow or when the
    /// product would need more than twelve fraction digits.
    pub fn checked_mul(self, other: Amount) -> Option<Amount> {
        let scale = self.scale + other.scale;
        let units = self.units.checked_mul(other.units)?;
        let product = Amount { units, scale }.normalised();
        (product.scale <= MAX_SCALE).then_some(product)
    }

    /// The nearest float, for shares and charts (never for sums).
    pub fn to_f64(self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }

    fn normalised(mut self) -> Amount {
        while self.scale > 0 && self.units % 10 == 0 {
            self.units /= 10;
            self.scale -= 1;
        }
        self
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        // At least two fraction digits: amounts read as money.
        let shown = scale.max(2);
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac:0<shown$}")
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Amount::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a decimal amount")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn a(text: &str) -> Amount {
        Amount::parse(text).unwrap()
    }

    #[test]
    fn sums_and_products_are_exact() {
        let mut sum = Amount::ZERO;
        for _ in 0..10 {
            sum = sum.checked_add(a("0.1")).unwrap();
        }
        assert_eq!(sum.to_string(), "1.00");
        assert_eq!(
            a("12").checked_mul(a("2.505")).unwrap().to_string(),
            "30.06"
        );
        assert_eq!(a("3").checked_mul(a("0.333")).unwrap().to_string(), "0.999");
        assert_eq!(
            a("-1.5").checked_add(a("1.25")).unwrap().to_string(),
            "-0.25"
        );
        assert_eq!(a("007.50").to_string(), "7.50");
        assert!(Amount::parse("1e5").is_none() && Amount::parse("").is_none());
        assert!(Amount::parse(".5").is_none());
    }

    #[test]
    fn an_amount_round_trips_as_text() {
        let json = serde_json::to_string(&a("1234.5")).unwrap();
        assert_eq!(json, "\"1234.50\"");
        assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), a("1234.5"));
    }
}
