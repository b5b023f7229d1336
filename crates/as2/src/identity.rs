//! Our own signing/decryption identity and a partner's certificate.

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::Error;

/// Our private key with its certificate: signs what we send and decrypts what we receive.
pub struct Identity {
    pub(crate) key: PKey<Private>,
    pub(crate) cert: X509,
}

impl Identity {
    /// Reads a PEM private key (encrypted with `password`, or plain when `password` is `None`)
    /// and the certificate that goes with it; both may be in the same PEM text.
    pub fn from_pem(
        key_pem: &[u8],
        cert_pem: &[u8],
        password: Option<&[u8]>,
    ) -> Result<Self, Error> {
        let key = match password {
            Some(p) => PKey::private_key_from_pem_passphrase(key_pem, p),
            None => PKey::private_key_from_pem(key_pem),
        }
        .map_err(|source| Error::Credential {
            what: "private key",
            source,
        })?;
        let cert = X509::from_pem(cert_pem).map_err(|source| Error::Credential {
            what: "own certificate",
            source,
        })?;
        Ok(Self { key, cert })
    }

    /// Our certificate, as partners need it to encrypt to us and verify our signatures.
    pub fn certificate(&self) -> Certificate {
        Certificate(self.cert.clone())
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Identity")
            .field("subject", &self.cert.subject_name())
            .finish_non_exhaustive()
    }
}

/// A partner's certificate: what we encrypt to and verify their signatures with.
///
/// The certificate is pinned: a signature verifies only if made by this very certificate's key;
/// no chain or expiry check is made, as is usual between AS2 partners exchanging self-signed
/// certificates.
#[derive(Clone)]
pub struct Certificate(pub(crate) X509);

impl Certificate {
    /// Reads a PEM certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        X509::from_pem(pem)
            .map(Self)
            .map_err(|source| Error::Credential {
                what: "partner certificate",
                source,
            })
    }
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Certificate")
            .field(&self.0.subject_name())
            .finish()
    }
}
