//! AS2 (RFC 4130) messages: building, reading and answering them.
//!
//! The roles:
//! - [`build`] / [`build_with`] make an outgoing message from a payload: a MIME entity (binary
//!   or base64), optionally compressed (RFC 5402, zlib CMS compressed data, before signing),
//!   signed (detached `multipart/signed`, SHA-1/256/384/512 per [`Digest`]) and encrypted (CMS
//!   enveloped data with AES-128/192/256-CBC or 3DES, or AuthEnvelopedData with AES-GCM, RSA key
//!   transport; see [`Encryption`]), with the AS2 header fields and the MIC the partner's MDN must
//!   return. A signed MDN is asked for with the same digest (`signed-receipt-micalg`).
//! - [`receive`] / [`receive_with`] read an incoming message: decrypt it (any of those ciphers),
//!   verify its signature (RSA PKCS#1 v1.5 or RSASSA-PSS, any of those digests) against the
//!   partner's pinned certificate, undo zlib CMS compression (before or after signing), decode
//!   a binary or base64 payload and compute the MIC with the algorithm the sender asked for.
//!   Which bytes a signature is checked over is the partnership's [`Canonicalization`]: as
//!   received, then header fields in CRLF form with the body untouched (what Mendelson AS2 signs),
//!   then everything CRLF (what pyas2lib signs for text); or fewer of these.
//!   A refused message is not an error: its [`Reception`] carries a [`Failure`] with the standard
//!   code (`decryption-failed`, `authentication-failed`, `integrity-check-failed`,
//!   `insufficient-message-security` when [`Receiver`] requires a signature or encryption that
//!   is missing, ...).
//! - [`build_mdn`] answers a [`Reception`] with an MDN, signed when asked for, with the digest
//!   asked for.
//! - [`read_mdn`] / [`read_mdn_with`] check a partner's MDN: its signature (refused when missing
//!   but asked for), that it answers our Message-ID, and the MIC.
//!
//! Certificates are pinned, and only trusted within their validity: an expired partner
//! certificate is not encrypted to ([`Error::Certificate`]) and signatures made with it are
//! refused; [`ReceiveOptions::certificates_valid_at`] checks a spooled message as of its
//! reception instead of now.
//!
//! The crate does no I/O: callers move the header fields and bodies over HTTP. The cryptography
//! is OpenSSL's (CMS through the `openssl` crate). Two CMS structures that crate cannot make
//! without `unsafe` — CompressedData (`CMS_compress`/`CMS_uncompress`, and Debian's OpenSSL has
//! no zlib) and SignedData with another digest than SHA-256 (`CMS_add1_signer`) — are the
//! RustCrypto `cms` crate's types, encoded and decoded by `der`; OpenSSL still computes every
//! digest and signature (the signature over the `der` encoding of the signed attributes), zlib
//! is flate2's, and received BER (indefinite lengths, split OCTET STRINGs from Java peers) is
//! read by OpenSSL's CMS decoder and re-encoded as DER before the `cms` types decode it. No
//! ASN.1 is written or parsed by hand. The one consequence: signing with SHA-1/384/512 embeds
//! our certificate through the X.509 types, so a certificate they would not re-encode byte for
//! byte (a GeneralizedTime before 2050, against RFC 5280) is refused with
//! [`Error::Unsupported`] rather than sent altered; SHA-256 signatures are OpenSSL's own.
//!
//! Asynchronous MDNs: [`MdnRequest::Async`] asks for one; a received request shows in
//! [`MdnRequested::async_url`], where the caller POSTs what [`build_mdn`] made; an MDN arriving on
//! its own is matched to its message with [`mdn_original_message_id`], then checked with
//! [`read_mdn`].
//!
//! Not here: retrying async MDNs and noticing those that never come (the caller's outbox),
//! partner configuration and the HTTP channel (the gateway), certificate chains (partners'
//! certificates are pinned), RSASSA-PSS and RSAES-OAEP when sending.

mod compress;
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
    MdnCheck, MdnReport, MdnResponse, MdnStatus, build_mdn, build_mdn_warning,
    mdn_original_message_id, read_mdn, read_mdn_with,
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
