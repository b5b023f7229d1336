//! Our own signing/decryption identity and a partner's certificate.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509, X509NameBuilder};

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

    /// A new RSA 3072 key and a self-signed certificate for it, valid from now for `days`, with
    /// `common_name` as its subject: what a partner is sent when AS2 is set up (partners pin
    /// the certificate itself; no authority signs it).
    pub fn generate(common_name: &str, days: u32) -> Result<Self, Error> {
        let crypto = |operation| move |source| Error::Crypto { operation, source };
        let rsa = Rsa::generate(3072).map_err(crypto("generating the key"))?;
        let key = PKey::from_rsa(rsa).map_err(crypto("generating the key"))?;
        let mut name = X509NameBuilder::new().map_err(crypto("naming the certificate"))?;
        name.append_entry_by_text("CN", common_name)
            .map_err(crypto("naming the certificate"))?;
        let name = name.build();
        let mut serial = BigNum::new().map_err(crypto("numbering the certificate"))?;
        serial
            .rand(128, MsbOption::MAYBE_ZERO, false)
            .map_err(crypto("numbering the certificate"))?;
        let build = || -> Result<X509, openssl::error::ErrorStack> {
            let mut b = X509::builder()?;
            b.set_version(2)?;
            let serial = serial.to_asn1_integer()?;
            b.set_serial_number(&serial)?;
            b.set_subject_name(&name)?;
            b.set_issuer_name(&name)?;
            b.set_pubkey(&key)?;
            let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(days)?);
            b.set_not_before(&from)?;
            b.set_not_after(&until)?;
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            // Signing documents and MDNs, and receiving the content key of encrypted messages.
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()?,
            )?;
            let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
            b.append_extension(ski)?;
            b.sign(&key, MessageDigest::sha256())?;
            Ok(b.build())
        };
        let cert = build().map_err(crypto("making the certificate"))?;
        Ok(Self { key, cert })
    }

    /// The private key as PKCS#8 PEM, encrypted with AES-256 under `password` when given.
    pub fn key_pem(&self, password: Option<&[u8]>) -> Result<Vec<u8>, Error> {
        match password {
            Some(p) => self
                .key
                .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), p),
            None => self.key.private_key_to_pem_pkcs8(),
        }
        .map_err(|source| Error::Crypto {
            operation: "writing the key",
            source,
        })
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
    /// The certificate as PEM.
    pub fn to_pem(&self) -> Result<Vec<u8>, Error> {
        self.0.to_pem().map_err(|source| Error::Crypto {
            operation: "writing the certificate",
            source,
        })
    }

    /// The SHA-256 fingerprint of the DER certificate, as colon-separated hex: what two
    /// partners read to each other to confirm the certificate they received.
    pub fn fingerprint_sha256(&self) -> Result<String, Error> {
        let digest = self
            .0
            .digest(MessageDigest::sha256())
            .map_err(|source| Error::Crypto {
                operation: "fingerprinting the certificate",
                source,
            })?;
        Ok(digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"))
    }

    /// Whole days from now to the end of the certificate's validity (negative once expired).
    pub fn days_left(&self) -> Result<i64, Error> {
        let now = Asn1Time::days_from_now(0).map_err(|source| Error::Crypto {
            operation: "reading the clock",
            source,
        })?;
        let diff = now
            .diff(self.0.not_after())
            .map_err(|source| Error::Crypto {
                operation: "reading the certificate's validity",
                source,
            })?;
        // `diff` splits the span into days and seconds of the same sign.
        Ok(i64::from(diff.days))
    }

    /// The end of the certificate's validity, as OpenSSL prints it (`Nov 23 23:14:26 2028 GMT`).
    pub fn not_after(&self) -> String {
        self.0.not_after().to_string()
    }

    /// Refuses a certificate that is not valid at `at` (now when `None`): past its notAfter or
    /// before its notBefore. A pinned certificate is still only trusted for its stated lifetime:
    /// an expired one is neither verified with nor encrypted to. Passing the time a message was
    /// received lets a message spooled before the expiry be reprocessed after it.
    pub fn check_valid_at(&self, at: Option<std::time::SystemTime>) -> Result<(), Error> {
        let at = at.unwrap_or_else(std::time::SystemTime::now);
        let secs = match at.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let crypto = |source| Error::Crypto {
            operation: "reading the certificate's validity",
            source,
        };
        let t = Asn1Time::from_unix(secs).map_err(crypto)?;
        let subject = || format!("{:?}", self.0.subject_name());
        if self.0.not_after().compare(&t).map_err(crypto)? == std::cmp::Ordering::Less {
            return Err(Error::Certificate {
                subject: subject(),
                problem: format!("expired on {}", self.0.not_after()),
            });
        }
        if self.0.not_before().compare(&t).map_err(crypto)? == std::cmp::Ordering::Greater {
            return Err(Error::Certificate {
                subject: subject(),
                problem: format!("not valid before {}", self.0.not_before()),
            });
        }
        Ok(())
    }

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
