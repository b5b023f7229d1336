//! Identifiers and time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. Every operation takes the time from its caller, so tests
/// (and a replaying daemon) control the clock.
pub type Millis = u64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(u64);

        impl $name {
            /// The id with this number.
            pub const fn new(n: u64) -> Self {
                Self(n)
            }

            /// Its number.
            pub const fn get(self) -> u64 {
                self.0
            }

            pub(crate) fn key(self) -> [u8; 8] {
                self.0.to_be_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "-{:012}"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                // Digits only: `u64::from_str` alone would also take a leading `+`.
                s.strip_prefix(concat!($prefix, "-"))
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|d| d.parse().ok())
                    .map(Self)
                    .ok_or_else(|| ParseIdError(s.to_owned()))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseIdError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

id_type!(
    /// An inbound message (one spooled file), rendered `m-000000000042`. Assigned from a counter
    /// in the same transaction that stores the record, so ids grow by one and are never reused.
    MessageId,
    "m"
);

id_type!(
    /// An outbound delivery, rendered `d-000000000042`; ordered by creation.
    DeliveryId,
    "d"
);

/// A string that is not a [`MessageId`] or [`DeliveryId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an id: {0:?}")]
pub struct ParseIdError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = MessageId::new(42);
        assert_eq!(id.to_string(), "m-000000000042");
        assert_eq!("m-000000000042".parse::<MessageId>().unwrap(), id);
        assert_eq!("d-1".parse::<DeliveryId>().unwrap(), DeliveryId::new(1));
        assert!("m-".parse::<MessageId>().is_err());
        assert!("d-000000000042".parse::<MessageId>().is_err());
        assert!("m-+1".parse::<MessageId>().is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"m-000000000042\"");
        let back: MessageId = serde_json::from_str("\"m-000000000042\"").unwrap();
        assert_eq!(back, id);
    }
}
