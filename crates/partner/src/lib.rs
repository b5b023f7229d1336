//! Trading partners, one TOML file each (`partners/*.toml`; the format is documented in
//! `deploy/examples/partners/README.md`): who they are in the envelope, what they exchange, how they want to be
//! acknowledged, what to do with a duplicate interchange, where their documents go, and the few
//! places where their mapping deviates from the built-in defaults.
//!
//! - [`Partners::load`] reads a directory and returns every problem of every file at once, each
//!   with its file, line and column and what to write instead.
//! - [`Partners::identify`] finds the partner an interchange comes from by its envelope ids;
//!   [`Partners::identify_xml`] finds the partner an XML document comes from by the sender id
//!   its mapping reads (`[xml] partner` in the partner file).
//!
//! ```
//! let text = r#"
//! name = "ACME Retail"
//! [x12]
//! version = "005010"
//! partner = { qualifier = "ZZ", id = "ACMERETAIL" }
//! messages = ["850"]
//! "#;
//! let acme = partner::Partner::from_toml(std::path::Path::new("acme.toml"), text).unwrap();
//! assert_eq!(acme.id, "acme");
//! assert_eq!(acme.exchange.messages(), ["850"]);
//! ```

mod config;
pub mod email;
mod error;
mod overrides;

use std::fs;
use std::path::{Path, PathBuf};

pub use config::{
    As2Canonicalization, As2Certificate, As2MdnMode, As2Partnership, As2Retransmission,
    ContrlPolicy, DEFAULT_FILE_NAME, DuplicateAction, DuplicatePolicy, EdifactExchange, EdifactId,
    Exchange, FILE_NAME_VARIABLES, FunctionalAck, Outbound, Partner, Ta1Policy, X12Exchange, X12Id,
    XmlId, XmlIdentity,
};
pub use error::{Diagnostic, LoadError};

impl Partner {
    /// Reads one partner file's text; `path` names it in problems and gives the default id
    /// (the file name without `.toml`).
    pub fn from_toml(path: &Path, text: &str) -> Result<Partner, LoadError> {
        config::parse(path, text).map_err(LoadError)
    }

    /// Reads one partner file.
    pub fn from_file(path: &Path) -> Result<Partner, LoadError> {
        let text = fs::read_to_string(path).map_err(|e| {
            LoadError(vec![Diagnostic::file(
                path,
                format!("cannot read: {e}"),
                None,
            )])
        })?;
        Partner::from_toml(path, &text)
    }

    /// Whether an interchange's sender is this partner.
    fn sent(&self, sender: &edi::Party) -> bool {
        match &self.exchange {
            Exchange::X12(x) => {
                x.partner.qualifier == sender.qualifier && x.partner.id == sender.id
            }
            Exchange::Edifact(e) => {
                e.partner.id == sender.id
                    && e.partner
                        .qualifier
                        .as_ref()
                        .is_none_or(|q| *q == sender.qualifier)
            }
        }
    }

    /// Whether an interchange's receiver is us, as this partner knows us (any receiver when the
    /// file does not say).
    fn addressed_us(&self, receiver: &edi::Party) -> bool {
        match &self.exchange {
            Exchange::X12(x) => {
                x.us.as_ref()
                    .is_none_or(|us| us.qualifier == receiver.qualifier && us.id == receiver.id)
            }
            Exchange::Edifact(e) => e.us.as_ref().is_none_or(|us| {
                us.id == receiver.id
                    && us
                        .qualifier
                        .as_ref()
                        .is_none_or(|q| *q == receiver.qualifier)
            }),
        }
    }
}

/// Every configured partner.
#[derive(Debug, Clone, Default)]
pub struct Partners {
    all: Vec<Partner>,
}

/// Who an interchange is from, as far as the envelope tells.
#[derive(Debug)]
pub enum Identified<'p> {
    /// A configured partner, addressed to us.
    Partner(&'p Partner),
    /// No partner has these sender ids.
    Unknown {
        /// The sender ids in the envelope.
        sender: edi::Party,
    },
    /// A configured partner, but addressed to someone other than us.
    NotForUs {
        /// The partner.
        partner: &'p Partner,
        /// The receiver ids in the envelope.
        receiver: edi::Party,
    },
}

/// Who an XML document is from, as far as the ids its mapping reads tell.
#[derive(Debug)]
pub enum IdentifiedXml<'p> {
    /// A configured partner, addressed to us.
    Partner(&'p Partner),
    /// No partner has this sender id in its `[xml]` table.
    Unknown,
    /// A configured partner, but addressed to someone other than us.
    NotForUs(&'p Partner),
}

impl Partners {
    /// Finds the partner an XML document comes from: `sender` and `receiver` are `(qualifier,
    /// id)` as the document's mapping reads them (see `mapping::xml::XmlDocument::sender`).
    pub fn identify_xml(
        &self,
        sender: (Option<&str>, &str),
        receiver: Option<(Option<&str>, &str)>,
    ) -> IdentifiedXml<'_> {
        let (qualifier, id) = sender;
        let found = self.all.iter().find(|p| {
            p.xml
                .as_ref()
                .is_some_and(|x| x.partner.matches(id, qualifier))
        });
        let Some(p) = found else {
            return IdentifiedXml::Unknown;
        };
        let ours = p
            .xml
            .as_ref()
            .and_then(|x| x.us.as_ref())
            .is_none_or(|us| receiver.is_some_and(|(q, id)| us.matches(id, q)));
        if ours {
            IdentifiedXml::Partner(p)
        } else {
            IdentifiedXml::NotForUs(p)
        }
    }

    /// Every `*.toml` file in `dir`, in name order. All problems of all files are returned
    /// together; two files claiming the same id or the same envelope identity are a problem too.
    pub fn load(dir: &Path) -> Result<Partners, LoadError> {
        let files = partner_files(dir).map_err(|e| {
            LoadError(vec![Diagnostic::file(
                dir,
                format!("cannot read the partner directory: {e}"),
                None,
            )])
        })?;
        let mut problems = Vec::new();
        let mut all: Vec<Partner> = Vec::new();
        for file in files {
            match Partner::from_file(&file) {
                Ok(p) => {
                    if let Some(other) = all.iter().find(|o| o.id == p.id) {
                        problems.push(Diagnostic::file(
                            &file,
                            format!(
                                "partner id {:?} is already used by {}",
                                p.id,
                                other.origin.display()
                            ),
                            Some("give each partner its own id".into()),
                        ));
                    } else if let Some((other, address)) = all.iter().find_map(|o| {
                        p.inbound_email
                            .iter()
                            .find(|a| o.inbound_email.contains(a))
                            .map(|a| (o, a))
                    }) {
                        problems.push(Diagnostic::file(
                            &file,
                            format!(
                                "[inbound.email] from: {address:?} is already {}'s ({})",
                                other.id,
                                other.origin.display()
                            ),
                            Some("a sender address must identify exactly one partner".into()),
                        ));
                    } else if let Some(other) = all
                        .iter()
                        .find(|o| same_identity(o, &p) || same_xml_identity(o, &p))
                    {
                        problems.push(Diagnostic::file(
                            &file,
                            format!(
                                "these envelope ids are already {}'s ({})",
                                other.id,
                                other.origin.display()
                            ),
                            Some("an interchange must identify exactly one partner".into()),
                        ));
                    } else {
                        all.push(p);
                    }
                }
                Err(LoadError(mut found)) => problems.append(&mut found),
            }
        }
        if problems.is_empty() {
            Ok(Partners { all })
        } else {
            Err(LoadError(problems))
        }
    }

    /// A set of partners built in code (tests, embedding).
    pub fn from_partners(all: Vec<Partner>) -> Partners {
        Partners { all }
    }

    /// Every partner, in file name order.
    pub fn all(&self) -> &[Partner] {
        &self.all
    }

    /// The partner that mails from `address` (`[inbound.email] from`), compared without regard
    /// to case.
    pub fn by_email_sender(&self, address: &str) -> Option<&Partner> {
        let address = address.trim().to_ascii_lowercase();
        self.all.iter().find(|p| p.inbound_email.contains(&address))
    }

    /// The partner with this id.
    pub fn get(&self, id: &str) -> Option<&Partner> {
        self.all.iter().find(|p| p.id == id)
    }

    /// Finds the partner `ic` comes from: the sender ids (ISA05/06, UNB 0004/0007) pick the
    /// partner; the receiver ids must then be ours as that partner knows us.
    pub fn identify(&self, ic: &edi::Interchange<'_>) -> Identified<'_> {
        let sender = ic.sender();
        let syntax_matches = |p: &&Partner| {
            matches!(
                (&p.exchange, ic.standard()),
                (Exchange::X12(_), edi::Standard::X12)
                    | (Exchange::Edifact(_), edi::Standard::Edifact)
            )
        };
        match self
            .all
            .iter()
            .filter(syntax_matches)
            .find(|p| p.sent(&sender))
        {
            None => Identified::Unknown { sender },
            Some(p) => {
                let receiver = ic.receiver();
                if p.addressed_us(&receiver) {
                    Identified::Partner(p)
                } else {
                    Identified::NotForUs {
                        partner: p,
                        receiver,
                    }
                }
            }
        }
    }
}

fn same_identity(a: &Partner, b: &Partner) -> bool {
    match (&a.exchange, &b.exchange) {
        (Exchange::X12(x), Exchange::X12(y)) => {
            x.partner.qualifier == y.partner.qualifier && x.partner.id == y.partner.id
        }
        (Exchange::Edifact(x), Exchange::Edifact(y)) => {
            x.partner.id == y.partner.id
                && (x.partner.qualifier.is_none()
                    || y.partner.qualifier.is_none()
                    || x.partner.qualifier == y.partner.qualifier)
        }
        _ => false,
    }
}

fn same_xml_identity(a: &Partner, b: &Partner) -> bool {
    match (&a.xml, &b.xml) {
        (Some(x), Some(y)) => {
            x.partner.id == y.partner.id
                && (x.partner.qualifier.is_none()
                    || y.partner.qualifier.is_none()
                    || x.partner.qualifier == y.partner.qualifier)
        }
        _ => false,
    }
}

fn partner_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
