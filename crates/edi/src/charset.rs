//! Character sets: EDI moves bytes, and text is decoded only when a value is read, per the
//! interchange's declaration (EDIFACT UNB 0001; X12 has none, so UTF-8 when valid, else
//! Windows-1252, the usual superset of what X12 senders actually put in files).

use std::borrow::Cow;

use encoding_rs::Encoding;

/// A declared (or, for X12, assumed) character set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 when the bytes are valid UTF-8, otherwise Windows-1252 (X12's de facto rule).
    Auto,
    /// A known encoding.
    Known(&'static Encoding),
}

impl Charset {
    /// The character set an EDIFACT syntax identifier (UNB 0001: `UNOA`, `UNOC`, `UNOY`, …)
    /// declares; unknown identifiers fall back to [`Charset::Auto`].
    pub fn from_syntax_identifier(id: &[u8]) -> Charset {
        use encoding_rs::*;
        let enc: &'static Encoding = match id {
            // Levels A and B are subsets of ASCII; Latin-1 decodes them and tolerates the
            // Latin-1 bytes senders put there anyway (WHATWG maps ISO-8859-1 to Windows-1252).
            b"UNOA" | b"UNOB" | b"UNOC" => WINDOWS_1252,
            b"UNOD" => ISO_8859_2,
            b"UNOE" => ISO_8859_5,
            b"UNOF" => ISO_8859_7,
            b"UNOG" => ISO_8859_3,
            b"UNOH" => ISO_8859_4,
            b"UNOI" => ISO_8859_6,
            b"UNOJ" => ISO_8859_8,
            b"UNOK" => WINDOWS_1254,
            b"UNOW" | b"UNOY" => UTF_8,
            b"KECA" => EUC_KR,
            _ => return Charset::Auto,
        };
        Charset::Known(enc)
    }

    /// Decodes `bytes`, borrowing when they are already valid UTF-8 in an ASCII-compatible set.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            Charset::Auto => match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => {
                    encoding_rs::WINDOWS_1252
                        .decode_without_bom_handling(bytes)
                        .0
                }
            },
            Charset::Known(enc) => enc.decode_without_bom_handling(bytes).0,
        }
    }

    /// The name used in JSON output (`auto`, `windows-1252`, `UTF-8`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Charset::Auto => "auto",
            Charset::Known(e) => e.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_and_cyrillic_decode_per_declaration() {
        let c = Charset::from_syntax_identifier(b"UNOC");
        assert_eq!(c.decode(b"M\xfcller"), "Müller");
        let e = Charset::from_syntax_identifier(b"UNOE");
        assert_eq!(e.decode(b"\xb0"), "А");
        assert_eq!(Charset::Auto.decode("Müller".as_bytes()), "Müller");
        assert_eq!(Charset::Auto.decode(b"M\xfcller"), "Müller");
    }
}
