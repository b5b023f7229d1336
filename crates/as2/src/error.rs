//! The crate's one error type.

/// What went wrong, and whose fault it is.
///
/// Problems with what a partner sent that an MDN can report are not errors: they are a
/// [`crate::Failure`] inside a [`crate::Reception`], so the partner still gets a signed answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Our own key or a configured certificate could not be read (our configuration is at fault).
    #[error("cannot read {what}: {source}")]
    Credential {
        /// Which credential.
        what: &'static str,
        /// OpenSSL's reason.
        source: openssl::error::ErrorStack,
    },
    /// OpenSSL failed while signing or encrypting our own message (not the partner's fault).
    #[error("{operation} failed: {source}")]
    Crypto {
        /// The operation (sign, encrypt, random).
        operation: &'static str,
        /// OpenSSL's reason.
        source: openssl::error::ErrorStack,
    },
    /// A required AS2 header is missing or unusable, so not even an MDN can be addressed.
    #[error("AS2 header {name}: {problem}")]
    Header {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A certificate that may not be used at the time it is needed (expired, not yet valid).
    #[error("certificate {subject}: {problem}")]
    Certificate {
        /// The certificate's subject, as OpenSSL prints it.
        subject: String,
        /// What is wrong: expired on ..., not valid before ....
        problem: String,
    },
    /// A combination this crate does not do (a chosen signing digest with a non-RSA key).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The MIME structure of a message or MDN could not be read.
    #[error("malformed MIME: {0}")]
    Mime(String),
}
