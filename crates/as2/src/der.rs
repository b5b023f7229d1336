//! The few DER encodings this crate writes itself: CMS compressed data (RFC 3274) and a CMS
//! signature with a chosen digest. The `openssl` crate has safe calls for neither
//! (`CMS_compress`, `CMS_add1_signer`) and the workspace forbids `unsafe`; OpenSSL still does all
//! the cryptography (digests, RSA), and reads back everything written here.

/// One DER element: `tag`, a definite length, `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already encoded elements.
pub(crate) fn seq(items: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

/// An OBJECT IDENTIFIER from its encoded content bytes.
pub(crate) fn oid(content: &[u8]) -> Vec<u8> {
    tlv(0x06, content)
}

/// A non-negative INTEGER from its big-endian magnitude.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = magnitude.iter().take_while(|&&b| b == 0).count();
        &magnitude[skip..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    // A leading 1 bit would make the number negative.
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(0x02, &content)
}

/// A DER SET OF: the elements sorted by their encodings (X.690 §11.6), which verifiers
/// re-encode before checking a signature over signed attributes.
pub(crate) fn set_of(mut items: Vec<Vec<u8>>, tag: u8) -> Vec<u8> {
    items.sort();
    tlv(tag, &items.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_and_integers() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![4, 2, 1, 2]);
        let big = tlv(0x04, &vec![0; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(uint(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
        assert_eq!(uint(&[]), vec![2, 1, 0]);
    }
}
