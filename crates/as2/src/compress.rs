//! CMS compressed data (RFC 3274, used by AS2 per RFC 5402): zlib inside a small ASN.1 wrapper.
//!
//! The `openssl` crate has no safe call for `CMS_uncompress` or `CMS_compress` (and Debian's
//! OpenSSL is built without zlib), so the wrapper is the `cms` crate's `CompressedData`, encoded
//! and decoded by `der`, around flate2's zlib. What arrives is BER from Java peers (indefinite
//! lengths, OCTET STRINGs split into pieces) and DER from others: OpenSSL's CMS decoder reads
//! either and writes DER back, which the `cms` types then decode. What we send is DER.

use std::io::{Read as _, Write as _};

use cms::compressed_data::CompressedData;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::EncapsulatedContentInfo;
use const_oid::db::{rfc5911, rfc6268};
use der::asn1::OctetString;
use der::{Any, Decode as _, Encode as _};
use openssl::cms::CmsContentInfo;
use spki::AlgorithmIdentifierOwned;

/// A cap on what one message may decompress to, against decompression bombs.
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// `entity` as a DER CMS ContentInfo of type compressed data (zlib), as RFC 5402 sends it.
pub(crate) fn compress(entity: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(entity.len() / 3 + 64),
        flate2::Compression::default(),
    );
    z.write_all(entity)?;
    let zlib = z.finish()?;
    let asn1 = |e: der::Error| std::io::Error::other(format!("encoding CompressedData: {e}"));
    let compressed_data = CompressedData {
        version: CmsVersion::V0,
        // RFC 3274 §2: the zlib algorithm identifier has no parameters.
        compression_alg: AlgorithmIdentifierOwned {
            oid: rfc6268::ID_ALG_ZLIB_COMPRESS,
            parameters: None,
        },
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: Some(Any::encode_from(&OctetString::new(zlib).map_err(asn1)?).map_err(asn1)?),
        },
    };
    ContentInfo {
        content_type: rfc6268::ID_CT_COMPRESSED_DATA,
        content: Any::encode_from(&compressed_data).map_err(asn1)?,
    }
    .to_der()
    .map_err(asn1)
}

/// The MIME entity inside a CMS ContentInfo of type compressed data, in BER or DER.
pub(crate) fn decompress(ber: &[u8]) -> Result<Vec<u8>, String> {
    let der = CmsContentInfo::from_der(ber)
        .and_then(|ci| ci.to_der())
        .map_err(|e| format!("not CMS: {e}"))?;
    let ci = ContentInfo::from_der(&der).map_err(|e| format!("CMS ContentInfo: {e}"))?;
    if ci.content_type != rfc6268::ID_CT_COMPRESSED_DATA {
        return Err(format!("not CMS compressed data but {}", ci.content_type));
    }
    let cd: CompressedData = ci
        .content
        .decode_as()
        .map_err(|e| format!("CompressedData: {e}"))?;
    if cd.compression_alg.oid != rfc6268::ID_ALG_ZLIB_COMPRESS {
        return Err(format!(
            "compression algorithm {} is not zlib",
            cd.compression_alg.oid
        ));
    }
    let compressed: OctetString = cd
        .encap_content_info
        .econtent
        .ok_or("compressed data without content")?
        .decode_as()
        .map_err(|e| format!("compressed content: {e}"))?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_bytes())
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("zlib: {e}"))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err("decompresses to more than 1 GiB".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 128 {
            out.push(content.len() as u8);
        } else {
            out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn ber_indefinite(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, 0x80];
        out.extend_from_slice(content);
        out.extend_from_slice(&[0, 0]);
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("compress");
        e.finish().expect("compress")
    }

    fn compressed_data(octet_string: Vec<u8>, indefinite: bool) -> Vec<u8> {
        let wrap = if indefinite { ber_indefinite } else { der };
        let alg = der(0x30, &der(0x06, rfc6268::ID_ALG_ZLIB_COMPRESS.as_bytes()));
        let encap = [
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
            ),
            wrap(0xa0, &octet_string),
        ]
        .concat();
        let cd = [der(0x02, &[0]), alg, wrap(0x30, &encap)].concat();
        wrap(
            0x30,
            &[
                der(0x06, rfc6268::ID_CT_COMPRESSED_DATA.as_bytes()),
                wrap(0xa0, &wrap(0x30, &cd)),
            ]
            .concat(),
        )
    }

    #[test]
    fn der_and_ber_with_a_split_octet_string() {
        let entity = b"Content-Type: application/edi-x12\r\n\r\nISA*00~".repeat(20);
        let z = zlib(&entity);
        assert_eq!(
            decompress(&compressed_data(der(0x04, &z), false)).expect("der"),
            entity
        );
        let (a, b) = z.split_at(z.len() / 2);
        let pieces = ber_indefinite(0x24, &[der(0x04, a), der(0x04, b)].concat());
        assert_eq!(
            decompress(&compressed_data(pieces, true)).expect("ber"),
            entity
        );
    }

    #[test]
    fn what_we_compress_reads_back() {
        let entity = b"Content-Type: application/edi-x12\r\n\r\nISA*00~".repeat(5000);
        let ber = compress(&entity).expect("compress");
        assert!(ber.len() < entity.len() / 10);
        assert_eq!(decompress(&ber).expect("decompress"), entity);
    }

    #[test]
    fn another_algorithm_or_content_type_is_refused() {
        let entity = b"Content-Type: text/plain\r\n\r\nhello".to_vec();
        let ci = ContentInfo::from_der(&compress(&entity).expect("compress")).expect("decode");
        let mut cd: CompressedData = ci.content.decode_as().expect("CompressedData");
        cd.compression_alg.oid = rfc6268::ID_CT_COMPRESSED_DATA;
        let other_alg = ContentInfo {
            content_type: rfc6268::ID_CT_COMPRESSED_DATA,
            content: Any::encode_from(&cd).expect("encode"),
        };
        let err = decompress(&other_alg.to_der().expect("encode")).expect_err("not zlib");
        assert!(err.contains("not zlib"), "{err}");
        let signed_data = ContentInfo {
            content_type: rfc5911::ID_SIGNED_DATA,
            content: ci.content,
        };
        let err = decompress(&signed_data.to_der().expect("encode")).expect_err("not compressed");
        assert!(err.starts_with("not CMS"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x80\x30\x80",
            b"\x04\x80\x00\x00",
        ] {
            assert!(decompress(bad).is_err());
        }
    }
}
