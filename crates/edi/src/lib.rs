//! Reading and writing X12 and EDIFACT.
//!
//! The roles, in the order data flows through them:
//!
//! - [`delimiters`]: which bytes separate what, read from an X12 `ISA` or an EDIFACT `UNA`/`UNB`.
//! - the tokenizer (internal): finds segment boundaries with `memchr`, honouring EDIFACT's release
//!   character, X12's binary segments and the line breaks real files put between (and inside)
//!   segments.
//! - [`Parser`]: fits segments into the envelope model — [`Interchange`] → [`Group`] →
//!   [`Message`] → [`Segment`] → [`Element`] (components, repetitions) — every level borrowing
//!   the input and knowing its byte offset. Values are unescaped and decoded only when read.
//! - [`Reader`]: the same over any `BufRead` (and tokio's `AsyncRead` with the `tokio` feature),
//!   one interchange at a time, so file size never decides memory; [`MessageReader`] goes one
//!   message at a time, for interchanges too large to hold.
//! - [`writer`]: the byte-exact round trip of a parsed interchange, and a builder that creates
//!   new interchanges (acknowledgements, outbound documents) with any delimiters, escaping or
//!   refusing values that contain a delimiter.
//!
//! Nothing here panics on input: every failure is a [`ParseError`] naming the interchange, the
//! segment position, the tag and the byte offset, and saying what was expected.
//!
//! ```
//! let input = b"UNB+UNOC:3+SENDER:14+RECEIVER:14+240101:1200+42'UNH+1+ORDERS:D:96A:UN'BGM+220+PO?+1+9'UNT+3+1'UNZ+1+42'";
//! let interchanges = edi::parse(input).unwrap();
//! let ic = &interchanges[0];
//! assert_eq!(ic.sender().id, "SENDER");
//! let msg = ic.messages().next().unwrap();
//! assert_eq!(msg.message_type(), "ORDERS");
//! let bgm = &msg.segments()[1];
//! assert_eq!(&*bgm.value(2, 1), b"PO+1");
//! assert_eq!(ic.to_bytes(), input);
//! ```

pub mod charset;
pub mod delimiters;
mod error;
mod interchange;
mod limits;
mod messages;
mod parser;
mod reader;
mod scan;
mod segment;
mod tokens;
pub mod writer;

pub use charset::Charset;
pub use delimiters::{DelimiterError, Delimiters, Standard};
pub use error::{ErrorKind, Location, ParseError, ParseErrorDetail};
pub use interchange::{EnvelopeIssue, EnvelopeIssueKind, Group, Interchange, Message, Party};
pub use limits::Limits;
pub use messages::{ItemKind, MessageReader, StreamItem};
pub use parser::{Interchanges, Parser, parse};
#[cfg(feature = "tokio")]
pub use reader::AsyncReader;
pub use reader::{OwnedInterchange, Reader};
pub use segment::{Element, Elements, Segment, Split, Tag};
pub use tokens::{Tokens, tokenize};
