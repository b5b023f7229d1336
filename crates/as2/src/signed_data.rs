//! A detached CMS signature (RFC 5652 SignedData) with the digest the partnership asks for.
//!
//! OpenSSL's `CMS_sign` always uses the key's default digest (SHA-256 for RSA) and the `openssl`
//! crate exposes no `CMS_add1_signer`; so for SHA-1, SHA-384 and SHA-512 the SignedData is
//! assembled from the `cms` crate's types and encoded by `der`, while OpenSSL computes the
//! digests and the RSA PKCS#1 v1.5 signature over the DER of the signed attributes.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::sign::Signer;
use openssl::x509::X509Ref;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate as X509Certificate;
use x509_cert::attr::Attribute;

use crate::Error;
use crate::send::Digest;

fn digest_oid(d: Digest) -> ObjectIdentifier {
    match d {
        Digest::Sha1 => rfc5912::ID_SHA_1,
        Digest::Sha256 => rfc5912::ID_SHA_256,
        Digest::Sha384 => rfc5912::ID_SHA_384,
        Digest::Sha512 => rfc5912::ID_SHA_512,
    }
}

/// An algorithm with explicit NULL parameters, as RFC 3370 writes the SHA and RSA identifiers
/// and as OpenSSL's own signatures carry them.
fn algorithm(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: Some(Any::null()),
    }
}

/// Why a step failed: OpenSSL's cryptography, or the ASN.1 around it.
enum Failed {
    Crypto(ErrorStack),
    Asn1(&'static str, der::Error),
    NotReproducible,
}

impl From<ErrorStack> for Failed {
    fn from(e: ErrorStack) -> Self {
        Self::Crypto(e)
    }
}

fn asn1(what: &'static str) -> impl FnOnce(der::Error) -> Failed {
    move |e| Failed::Asn1(what, e)
}

/// The DER ContentInfo of a detached signature over `content` by `key` (RSA) and `cert`.
pub(crate) fn sign_detached(
    content: &[u8],
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    digest: Digest,
) -> Result<Vec<u8>, Error> {
    if key.id() != Id::RSA {
        return Err(Error::Unsupported(format!(
            "signing with {} needs an RSA key; other keys sign with SHA-256 only",
            digest.micalg()
        )));
    }
    build(content, key, cert, digest).map_err(|failed| match failed {
        Failed::Crypto(source) => Error::Crypto {
            operation: "sign",
            source,
        },
        // Only our own certificate can make this fail (one the X.509 types cannot represent).
        Failed::Asn1(what, e) => Error::Unsupported(format!(
            "signing with {}: cannot encode {what}: {e}",
            digest.micalg()
        )),
        Failed::NotReproducible => Error::Unsupported(format!(
            "signing with {}: our certificate is not in the strict DER of RFC 5280 (such as a \
             GeneralizedTime before 2050) and could not be embedded unchanged; \
             sign with sha-256 or reissue the certificate",
            digest.micalg()
        )),
    })
}

fn build(
    content: &[u8],
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    digest: Digest,
) -> Result<Vec<u8>, Failed> {
    let md: MessageDigest = digest.message_digest();
    let content_digest = hash(md, content)?;
    let attribute = |oid, value: Any| -> Result<Attribute, Failed> {
        Ok(Attribute {
            oid,
            values: SetOfVec::try_from(vec![value]).map_err(asn1("an attribute"))?,
        })
    };
    let content_type = Any::encode_from(&rfc5911::ID_DATA).map_err(asn1("the content type"))?;
    let message_digest =
        Any::encode_from(&OctetString::new(&*content_digest).map_err(asn1("the message digest"))?)
            .map_err(asn1("the message digest"))?;
    // A SetOfVec keeps its elements in DER order, which is what verifiers re-encode and check.
    let signed_attrs = SetOfVec::try_from(vec![
        attribute(rfc5911::ID_CONTENT_TYPE, content_type)?,
        attribute(rfc5911::ID_MESSAGE_DIGEST, message_digest)?,
    ])
    .map_err(asn1("the signed attributes"))?;
    // RFC 5652 §5.4: the signature covers the attributes' DER with the SET OF tag; they travel
    // as [0] IMPLICIT, which the SignerInfo's encoder writes.
    let signed_attrs_der = signed_attrs
        .to_der()
        .map_err(asn1("the signed attributes"))?;
    let mut signer = Signer::new(md, key)?;
    signer.update(&signed_attrs_der)?;
    let signature = signer.sign_to_vec()?;

    let cert_der = cert.to_der()?;
    let certificate = X509Certificate::from_der(&cert_der).map_err(asn1("the certificate"))?;
    // The X.509 types re-encode what they decoded, and their RFC 5280 profile rewrites a
    // GeneralizedTime before 2050 as UTCTime: a certificate that does not come back byte for
    // byte would travel with a broken signature of its own, so it is refused instead.
    if certificate.to_der().map_err(asn1("the certificate"))? != cert_der {
        return Err(Failed::NotReproducible);
    }
    let tbs = certificate.tbs_certificate();
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: algorithm(digest_oid(digest)),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm(rfc5912::RSA_ENCRYPTION),
        signature: OctetString::new(signature).map_err(asn1("the signature"))?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![algorithm(digest_oid(digest))])
            .map_err(asn1("the digest algorithms"))?,
        // Detached: the content travels as the first part of the multipart/signed.
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: None,
        },
        certificates: Some(
            CertificateSet::try_from(vec![CertificateChoices::Certificate(certificate)])
                .map_err(asn1("the certificate"))?,
        ),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(asn1("the signer info"))?,
    };
    ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(asn1("the signed data"))?,
    }
    .to_der()
    .map_err(asn1("the content info"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;
    use openssl::x509::{X509, X509NameBuilder};

    use super::*;

    fn self_signed(key: &PKeyRef<Private>, not_before: &str) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "edigate test").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_hex_str("00ff0102").unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::from_str(not_before).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn signer_info_names_the_digest_and_openssl_signature_covers_the_attributes() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let cert = self_signed(&key, "250101000000Z");
        let content = b"Content-Type: application/edi-x12\r\n\r\nISA*00~";
        for digest in [Digest::Sha1, Digest::Sha384, Digest::Sha512] {
            let der = sign_detached(content, &key, &cert, digest).unwrap();
            let ci = ContentInfo::from_der(&der).unwrap();
            assert_eq!(ci.content_type, rfc5911::ID_SIGNED_DATA);
            let sd: SignedData = ci.content.decode_as().unwrap();
            assert!(sd.encap_content_info.econtent.is_none(), "detached");
            let embedded = sd.certificates.unwrap().0.into_vec();
            let [CertificateChoices::Certificate(embedded)] = embedded.as_slice() else {
                panic!("one certificate");
            };
            assert_eq!(embedded.to_der().unwrap(), cert.to_der().unwrap());
            let [si] = sd.signer_infos.0.as_slice() else {
                panic!("one signer");
            };
            assert_eq!(si.digest_alg.oid, digest_oid(digest));
            let attrs = si.signed_attrs.as_ref().unwrap();
            let md = attrs
                .iter()
                .find(|a| a.oid == rfc5911::ID_MESSAGE_DIGEST)
                .unwrap();
            let md: OctetString = md.values.get(0).unwrap().decode_as().unwrap();
            assert_eq!(
                md.as_bytes(),
                &*hash(digest.message_digest(), content).unwrap()
            );
            let mut verifier = Verifier::new(digest.message_digest(), &key).unwrap();
            verifier.update(&attrs.to_der().unwrap()).unwrap();
            assert!(
                verifier.verify(si.signature.as_bytes()).unwrap(),
                "{digest:?}"
            );
        }
    }

    #[test]
    fn a_certificate_that_would_not_travel_unchanged_is_refused() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        // GeneralizedTime for a date before 2050: valid DER, but not RFC 5280's choice.
        let cert = self_signed(&key, "20250101000000Z");
        let err = sign_detached(b"x", &key, &cert, Digest::Sha384).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported(m) if m.contains("unchanged")),
            "{err}"
        );
    }
}
