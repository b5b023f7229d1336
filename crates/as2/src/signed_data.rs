//! A detached CMS signature (RFC 5652 SignedData) with the digest the partnership asks for.
//!
//! OpenSSL's `CMS_sign` always uses the key's default digest (SHA-256 for RSA) and the `openssl`
//! crate exposes no `CMS_add1_signer`; so for SHA-1, SHA-384 and SHA-512 the SignedData is
//! assembled here, with OpenSSL computing the digests and the RSA PKCS#1 v1.5 signature.

use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKeyRef, Private};
use openssl::sign::Signer;
use openssl::x509::X509Ref;

use crate::Error;
use crate::der::{oid, seq, set_of, tlv, uint};
use crate::send::Digest;

const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const NULL: &[u8] = &[0x05, 0x00];

fn digest_oid(d: Digest) -> &'static [u8] {
    match d {
        Digest::Sha1 => &[0x2b, 0x0e, 0x03, 0x02, 0x1a],
        Digest::Sha256 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
        Digest::Sha384 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02],
        Digest::Sha512 => &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03],
    }
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
    build(content, key, cert, digest).map_err(|source| Error::Crypto {
        operation: "sign",
        source,
    })
}

fn build(
    content: &[u8],
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    digest: Digest,
) -> Result<Vec<u8>, ErrorStack> {
    let md: MessageDigest = digest.message_digest();
    let digest_alg = seq(&[&oid(digest_oid(digest)), NULL]);
    let content_digest = hash(md, content)?;
    let attributes = vec![
        seq(&[&oid(OID_CONTENT_TYPE), &set_of(vec![oid(OID_DATA)], 0x31)]),
        seq(&[
            &oid(OID_MESSAGE_DIGEST),
            &set_of(vec![tlv(0x04, &content_digest)], 0x31),
        ]),
    ];
    // The signature covers the attributes encoded as a SET OF; they travel as [0] IMPLICIT.
    let signed_attrs = set_of(attributes, 0x31);
    let mut signer = Signer::new(md, key)?;
    signer.update(&signed_attrs)?;
    let signature = signer.sign_to_vec()?;
    let mut implicit_attrs = signed_attrs;
    implicit_attrs[0] = 0xa0;

    let issuer = cert.issuer_name().to_der()?;
    let serial = cert.serial_number().to_bn()?.to_vec();
    let signer_info = seq(&[
        &uint(&[1]),
        &seq(&[&issuer, &uint(&serial)]),
        &digest_alg,
        &implicit_attrs,
        &seq(&[&oid(OID_RSA_ENCRYPTION), NULL]),
        &tlv(0x04, &signature),
    ]);
    let signed_data = seq(&[
        &uint(&[1]),
        &tlv(0x31, &digest_alg),
        &seq(&[&oid(OID_DATA)]),
        &tlv(0xa0, &cert.to_der()?),
        &tlv(0x31, &signer_info),
    ]);
    Ok(seq(&[&oid(OID_SIGNED_DATA), &tlv(0xa0, &signed_data)]))
}
