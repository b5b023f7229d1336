//! CMS compressed data (RFC 3274, used by AS2 per RFC 5402): zlib inside a small ASN.1 wrapper.
//!
//! The `openssl` crate has no safe call for `CMS_uncompress` or `CMS_compress` (and Debian's
//! OpenSSL is built without zlib), so the wrapper is read and written here; what arrives is BER,
//! with indefinite lengths and constructed OCTET STRINGs from Java peers, DER from others; what
//! we send is DER.

use std::io::{Read as _, Write as _};

use crate::der::{oid, seq, tlv};

/// id-ct-compressedData, 1.2.840.113549.1.9.16.1.9.
const OID_COMPRESSED_DATA: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09,
];
/// id-alg-zlibCompress, 1.2.840.113549.1.9.16.3.8.
const OID_ZLIB: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x03, 0x08,
];
/// A cap on what one message may decompress to, against decompression bombs.
const MAX_DECOMPRESSED: u64 = 1 << 30;
/// Nesting deeper than this is not a CompressedData (and would only cost stack).
const MAX_DEPTH: usize = 16;

/// One BER element: its tag byte and its content (for an indefinite length, up to the
/// end-of-contents marker).
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
}

/// Reads one element from the front of `data`; returns it and what follows.
fn read_tlv(data: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), String> {
    if depth > MAX_DEPTH {
        return Err("ASN.1 nested too deeply".into());
    }
    let (&tag, rest) = data.split_first().ok_or("truncated ASN.1")?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte ASN.1 tags are not part of CompressedData".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated ASN.1 length")?;
    if first == 0x80 {
        // Indefinite length (constructed only): the children run up to 00 00.
        if tag & 0x20 == 0 {
            return Err("indefinite length on a primitive ASN.1 element".into());
        }
        let mut cur = rest;
        loop {
            if cur.starts_with(&[0, 0]) {
                let len = rest.len() - cur.len();
                return Ok((
                    Tlv {
                        tag,
                        content: &rest[..len],
                    },
                    &cur[2..],
                ));
            }
            let (_, next) = read_tlv(cur, depth + 1)?;
            cur = next;
        }
    }
    let len = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad ASN.1 length".into());
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        return split(tag, &rest[n..], len);
    };
    split(tag, rest, len)
}

fn split(tag: u8, data: &[u8], len: usize) -> Result<(Tlv<'_>, &[u8]), String> {
    if data.len() < len {
        return Err("ASN.1 length beyond the data".into());
    }
    Ok((
        Tlv {
            tag,
            content: &data[..len],
        },
        &data[len..],
    ))
}

/// The children of a constructed element.
fn children(content: &[u8], depth: usize) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    let mut cur = content;
    while !cur.is_empty() {
        let (t, next) = read_tlv(cur, depth + 1)?;
        out.push(t);
        cur = next;
    }
    Ok(out)
}

/// The bytes of an OCTET STRING, primitive or constructed (BER splits long ones into pieces).
fn octets(t: &Tlv<'_>, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match t.tag {
        0x04 => {
            out.extend_from_slice(t.content);
            Ok(())
        }
        0x24 => children(t.content, depth)?
            .iter()
            .try_for_each(|c| octets(c, depth + 1, out)),
        other => Err(format!("expected an OCTET STRING, found tag {other:#04x}")),
    }
}

/// id-data, 1.2.840.113549.1.7.1.
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

/// `entity` as a DER CMS ContentInfo of type compressed data (zlib), as RFC 5402 sends it.
pub(crate) fn compress(entity: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut z = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(entity.len() / 3 + 64),
        flate2::Compression::default(),
    );
    z.write_all(entity)?;
    let zlib = z.finish()?;
    let encap = seq(&[&oid(OID_DATA), &tlv(0xa0, &tlv(0x04, &zlib))]);
    let compressed_data = seq(&[&tlv(0x02, &[0]), &seq(&[&oid(OID_ZLIB)]), &encap]);
    Ok(seq(&[
        &oid(OID_COMPRESSED_DATA),
        &tlv(0xa0, &compressed_data),
    ]))
}

/// The MIME entity inside a CMS ContentInfo of type compressed data.
pub(crate) fn decompress(ber: &[u8]) -> Result<Vec<u8>, String> {
    let (ci, _) = read_tlv(ber, 0)?;
    let ci = children(ci.content, 0)?;
    match ci.as_slice() {
        [oid, wrapped, ..]
            if oid.tag == 0x06 && oid.content == OID_COMPRESSED_DATA && wrapped.tag == 0xa0 =>
        {
            let (cd, _) = read_tlv(wrapped.content, 1)?;
            let cd = children(cd.content, 1)?;
            // CompressedData ::= SEQUENCE { version, compressionAlgorithm, encapContentInfo }
            let [_version, alg, encap, ..] = cd.as_slice() else {
                return Err("CompressedData needs three fields".into());
            };
            let alg = children(alg.content, 2)?;
            if !alg
                .first()
                .is_some_and(|o| o.tag == 0x06 && o.content == OID_ZLIB)
            {
                return Err("compression algorithm is not zlib".into());
            }
            let encap = children(encap.content, 2)?;
            let Some(explicit) = encap.get(1).filter(|t| t.tag == 0xa0) else {
                return Err("compressed data without content".into());
            };
            let mut compressed = Vec::new();
            for t in children(explicit.content, 3)? {
                octets(&t, 4, &mut compressed)?;
            }
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(compressed.as_slice())
                .take(MAX_DECOMPRESSED + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("zlib: {e}"))?;
            if out.len() as u64 > MAX_DECOMPRESSED {
                return Err("decompresses to more than 1 GiB".into());
            }
            Ok(out)
        }
        _ => Err("not CMS compressed data".into()),
    }
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
        let alg = der(0x30, &der(0x06, OID_ZLIB));
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
            &[der(0x06, OID_COMPRESSED_DATA), wrap(0xa0, &wrap(0x30, &cd))].concat(),
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
