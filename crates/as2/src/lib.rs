//! AS2 (RFC 4130) messages: building, reading and answering them.
//!
//! The roles:
//! - [`build`] makes an outgoing message from a payload: a MIME entity, optionally signed
//!   (detached `multipart/signed`, SHA-256) and encrypted (CMS enveloped data, AES-CBC, RSA key
//!   transport), with the AS2 header fields and the MIC the partner's MDN must return.
//! - [`receive`] reads an incoming message: decrypts it, verifies its signature against the
//!   partner's pinned certificate (as received, then in canonical CRLF form, which senders such
//!   as pyas2lib sign for text-like content types), undoes zlib CMS compression (before or after
//!   signing), extracts the payload and computes the MIC.
//!   A refused message is not an error: its [`Reception`] carries a [`Failure`] with the standard
//!   code (`decryption-failed`, `authentication-failed`, `integrity-check-failed`, ...).
//! - [`build_mdn`] answers a [`Reception`] with an MDN, signed when asked for.
//! - [`read_mdn`] checks a partner's MDN: its signature, that it answers our message, and the MIC.
//!
//! The crate does no I/O: callers move the header fields and bodies over HTTP. All cryptography
//! is OpenSSL's CMS through the `openssl` crate.
//!
//! Asynchronous MDNs: [`MdnRequest::Async`] asks for one; a received request shows in
//! [`MdnRequested::async_url`], where the caller POSTs what [`build_mdn`] made; an MDN arriving on
//! its own is matched to its message with [`mdn_original_message_id`], then checked with
//! [`read_mdn`].
//!
//! Not here yet: retrying async MDNs and noticing those that never come (the caller's outbox),
//! compressing what we send, partner configuration, and wiring into the gateway.

mod compress;
mod der;
mod error;
mod identity;
mod mdn;
mod mime;
mod receive;
mod send;
mod signed_data;

pub use error::Error;
pub use identity::{Certificate, Identity};
pub use mdn::{
    MdnCheck, MdnReport, MdnResponse, MdnStatus, build_mdn, mdn_original_message_id, read_mdn,
    read_mdn_with,
};
pub use mime::Mic;
pub use receive::{
    Canonicalization, Failure, FailureCode, MdnRequested, Payload, ReceiveOptions, Receiver,
    Reception, receive, receive_with,
};
pub use send::{
    Digest, Encryption, MdnRequest, Outgoing, OutgoingMessage, SendOptions, TransferEncoding,
    build, build_with,
};
