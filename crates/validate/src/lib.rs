//! Validating interchanges against the specs, and acknowledging them.
//!
//! Data flows top to bottom:
//!
//! - [`Specs`]: every spec version under `specs/`, chosen per group by GS08 (X12) or per message
//!   by UNH S009 (EDIFACT).
//! - [`validate`]: the envelope (header fields, trailer counts, control numbers), then each
//!   message's segment order against its structure, then each placed segment's elements. Every
//!   finding carries its standard code ([`codes`]) and where it is (segment position, tag, element,
//!   component, byte offset), collected in a [`report::InterchangeReport`].
//! - [`ack`]: TA1, 997, 999 and CONTRL built from the report alone.
//!
//! A message with errors is rejected on its own; its siblings are judged on theirs, so a group can
//! be partially accepted.

pub mod ack;
pub mod codes;
mod elements;
mod envelope;
pub mod report;
mod structure;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

use edi::{Interchange, Message, Standard};
use spec::{MessageDef, SpecError, SpecSet, Syntax};

use crate::codes::{GroupError, MessageError, SegmentError};
use crate::elements::{Classes, Context};
use crate::report::{GroupReport, InterchangeReport, MessageReport, SegmentFinding, Verdict};

/// Why the specs could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A spec file is wrong.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The directory holds no spec version.
    #[error(
        "{0}: no spec versions found (expected x12/VERSION/ or edifact/VERSION/ directories with a spec.toml and messages/)"
    )]
    Empty(std::path::PathBuf),
}

/// Every spec version the gateway knows.
#[derive(Clone, Debug, Default)]
pub struct Specs {
    sets: Vec<SpecSet>,
}

impl Specs {
    /// Loads every version directory under `dir/x12` and `dir/edifact` that defines messages.
    pub fn load(dir: &Path) -> Result<Specs, LoadError> {
        let mut sets = Vec::new();
        for syntax in ["x12", "edifact"] {
            let Ok(entries) = std::fs::read_dir(dir.join(syntax)) else {
                continue;
            };
            let mut dirs: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("spec.toml").is_file() && p.join("messages").is_dir())
                .collect();
            dirs.sort();
            for d in dirs {
                sets.push(SpecSet::load(&d)?);
            }
        }
        if sets.is_empty() {
            return Err(LoadError::Empty(dir.to_path_buf()));
        }
        Ok(Specs { sets })
    }

    /// Specs from already loaded sets.
    pub fn from_sets(sets: Vec<SpecSet>) -> Specs {
        Specs { sets }
    }

    /// The X12 spec for a GS08 version (`004010`, `005010X222A1` → `005010`).
    pub fn x12(&self, gs08: &str) -> Option<&SpecSet> {
        let v = gs08.get(..6)?;
        self.sets
            .iter()
            .find(|s| s.syntax() == Syntax::X12 && s.version() == v)
    }

    /// The EDIFACT directory for UNH S009 version and release (`D`, `96A` → `D96A`).
    pub fn edifact(&self, version: &str, release: &str) -> Option<&SpecSet> {
        let v = format!("{version}{release}");
        self.sets
            .iter()
            .find(|s| s.syntax() == Syntax::Edifact && s.version().eq_ignore_ascii_case(&v))
    }

    /// The directory holding the EDIFACT service message `id` (CONTRL), which UNH identifies by
    /// syntax version (`2:2`, `4:1`) rather than by directory.
    pub fn edifact_service(&self, id: &str) -> Option<&SpecSet> {
        self.sets
            .iter()
            .rev()
            .find(|s| s.syntax() == Syntax::Edifact && s.message(id).is_some())
    }

    /// The loaded versions, as (syntax, version).
    pub fn versions(&self) -> Vec<(Syntax, &str)> {
        self.sets
            .iter()
            .map(|s| (s.syntax(), s.version()))
            .collect()
    }
}

/// Validates one interchange.
pub fn validate(ic: &Interchange<'_>, specs: &Specs) -> InterchangeReport {
    let mut errors = envelope::interchange(ic);
    let classes = Classes::for_interchange(ic);
    let mut directories = None;
    // EDIFACT: UNB against the service segment spec (character set, lengths, code lists).
    if ic.standard() == Standard::Edifact
        && let Some(spec) = specs
            .sets
            .iter()
            .find(|s| s.syntax() == Syntax::Edifact && s.segment("UNB").is_some())
        && let Some(def) = spec.segment("UNB")
    {
        let ctx = Context::new(spec, &classes);
        for f in elements::check_segment(ic.header(), def, &ctx) {
            let place = match f.component {
                Some(c) => format!("UNB{:02}-{c}", f.position),
                None => format!("UNB{:02}", f.position),
            };
            errors.push(report::InterchangeFinding {
                code: codes::InterchangeError::HeaderElement(f.code),
                detail: format!("{place} ({}) {:?}: {}", f.element_id, f.value, f.detail),
                offset: f.offset,
            });
        }
    }
    let mut groups = Vec::new();
    let mut seen_groups = HashSet::new();
    for g in ic.groups() {
        let (mut gerrors, declared) = envelope::group(&g, &mut seen_groups);
        let version = g.version();
        let spec = match ic.standard() {
            Standard::X12 => {
                let s = specs.x12(&version);
                if s.is_none() {
                    gerrors.push(GroupError::VersionNotSupported);
                }
                s
            }
            Standard::Edifact => None,
        };
        // GS against its definition (dates, times, lengths): a bad group header is invalid
        // interchange content (TA1 024).
        if let Some(spec) = spec
            && let Some(def) = spec.segment(g.header().tag().as_str())
        {
            let ctx = Context::new(spec, &classes);
            for f in elements::check_segment(g.header(), def, &ctx) {
                errors.push(report::InterchangeFinding {
                    code: codes::InterchangeError::HeaderElement(f.code),
                    detail: format!(
                        "{}{:02} ({}) {:?}: {}",
                        g.header().tag(),
                        f.position,
                        f.element_id,
                        f.value,
                        f.detail
                    ),
                    offset: f.offset,
                });
            }
        }
        let functional_id = g.functional_id();
        let mut seen = HashSet::new();
        let messages: Vec<MessageReport> = g
            .messages()
            .map(|m| {
                let (mut r, def) = message(
                    &m,
                    spec,
                    Some(&version),
                    specs,
                    &classes,
                    &mut seen,
                    &mut directories,
                );
                // An X12 message's definition comes from the group's spec (EDIFACT groups
                // have none here): the same one the group's spec names for its type.
                if spec.is_some()
                    && let Some(def) = def
                    && let Some(fg) = &def.functional_group
                    && *fg != functional_id
                {
                    r.errors.push(MessageError::InvalidIdentifier);
                    r.verdict = Verdict::Rejected;
                }
                r
            })
            .collect();
        let accepted = messages
            .iter()
            .filter(|m| m.verdict != Verdict::Rejected)
            .count();
        let verdict = if !gerrors.is_empty() || (accepted == 0 && !messages.is_empty()) {
            Verdict::Rejected
        } else if accepted == messages.len() {
            if messages.iter().all(|m| m.verdict == Verdict::Accepted) {
                Verdict::Accepted
            } else {
                Verdict::AcceptedWithErrors
            }
        } else {
            Verdict::PartiallyAccepted
        };
        groups.push(GroupReport {
            functional_id,
            control_number: g.control_number(),
            version,
            offset: g.header().offset(),
            errors: gerrors,
            messages,
            declared,
            verdict,
        });
    }
    let mut seen = HashSet::new();
    let messages = ic
        .messages()
        .filter(|m| m.group().is_none())
        .map(|m| message(&m, None, None, specs, &classes, &mut seen, &mut directories).0)
        .collect();
    InterchangeReport {
        standard: ic.standard(),
        control_number: ic.control_number(),
        offset: ic.offset(),
        errors,
        groups,
        messages,
        ack_requested: ic.acknowledgement_requested(),
    }
}

/// What a message's header says, each value read once.
struct Header<'a> {
    /// [`Message::message_type`].
    message_type: String,
    /// [`Message::control_number`].
    control_number: String,
    /// [`Message::version`].
    version: String,
    /// EDIFACT: UNH S009 version and release, which choose the directory.
    directory: Option<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Header<'a> {
    /// Reads `m`'s header; `group_version` is the version of the group that holds it, which an
    /// X12 message without ST03 takes.
    fn read(m: &Message<'_, 'a>, group_version: Option<&str>) -> Header<'a> {
        let ic = m.interchange();
        match ic.standard() {
            Standard::X12 => {
                // ST01–ST03 in one walk, each as `Segment::text` reads it.
                let cs = ic.charset();
                let mut elements = m.header().elements();
                let mut text = || {
                    elements
                        .next()
                        .and_then(|e| e.component(1))
                        .map(|v| cs.decode(&v.value()).into_owned())
                        .unwrap_or_default()
                };
                let message_type = text();
                let control_number = text();
                let st03 = text();
                Header {
                    message_type,
                    control_number,
                    version: if st03.is_empty() {
                        group_version.unwrap_or_default().to_string()
                    } else {
                        st03
                    },
                    directory: None,
                }
            }
            Standard::Edifact => {
                // S009 holds the type, the version and the directory: its components read in
                // one walk, each as `Segment::text` and `Message::version` read them.
                let cs = ic.charset();
                let h = m.header();
                let mut message_type = String::new();
                let mut version = String::new();
                let mut directory = (Cow::Borrowed(""), Cow::Borrowed(""));
                for (i, c) in h.element(2).iter().flat_map(|e| e.components()).enumerate() {
                    let text = c.text(cs);
                    // The version is the components after the type, joined by colons.
                    if i > 1 {
                        version.push(':');
                    }
                    if i > 0 {
                        version.push_str(&text);
                    }
                    match i {
                        0 => message_type = text.into_owned(),
                        1 => directory.0 = text,
                        2 => directory.1 = text,
                        _ => {}
                    }
                }
                Header {
                    message_type,
                    control_number: h.text(1, 1, cs),
                    version,
                    directory: Some(directory),
                }
            }
        }
    }
}

/// The EDIFACT directory last chosen in an interchange, by UNH S009 version and release: the
/// messages of one interchange nearly always share it.
type DirectoryCache<'s> = Option<(String, String, Option<&'s SpecSet>)>;

/// Validates one message: envelope, structure, elements. `group_spec` and `group_version` are
/// those of the X12 group that holds it. Returns the message's definition too, when found.
fn message<'s>(
    m: &Message<'_, '_>,
    group_spec: Option<&'s SpecSet>,
    group_version: Option<&str>,
    specs: &'s Specs,
    classes: &Classes,
    seen: &mut HashSet<String>,
    directories: &mut DirectoryCache<'s>,
) -> (MessageReport, Option<&'s MessageDef>) {
    let header = Header::read(m, group_version);
    let mut errors = envelope::message(m, &header.control_number, seen);
    let message_type = header.message_type;
    let spec = match header.directory {
        None => group_spec,
        Some((version, release)) => {
            let found = match directories {
                Some((v, r, found)) if *v == version && *r == release => *found,
                _ => {
                    let found = specs.edifact(&version, &release);
                    *directories = Some((version.into_owned(), release.into_owned(), found));
                    found
                }
            };
            found.or_else(|| {
                (message_type == "CONTRL")
                    .then(|| specs.edifact_service("CONTRL"))
                    .flatten()
            })
        }
    };
    let def = spec.and_then(|s| s.message(&message_type));
    let mut segments = Vec::new();
    match (spec, def) {
        (Some(spec), Some(def)) => {
            let ctx = Context::new(spec, classes);
            let segs = m.segments();
            let keys: Vec<u32> = segs
                .iter()
                .map(|s| spec::tag_key(s.tag().as_bytes()))
                .collect();
            let (placements, placed) = structure::walk(def, spec, segs, &keys);
            // A missing trailer is the message-level error "trailer missing"; the structure
            // walk's "mandatory segment missing" for it would say the same thing twice.
            let trailer_tag = def
                .structure
                .last()
                .map(spec::Node::trigger)
                .unwrap_or_default();
            let placements = placements.into_iter().filter(|p| {
                !(m.trailer().is_none()
                    && p.code == SegmentError::MandatorySegmentMissing
                    && p.tag == trailer_tag)
            });
            for p in placements {
                let seg = &segs[p.index.min(segs.len().saturating_sub(1))];
                segments.push(SegmentFinding {
                    code: p.code,
                    tag: p.tag,
                    position: p.index + 1,
                    loop_id: p.loop_id,
                    offset: seg.offset(),
                    elements: Vec::new(),
                    detail: p.detail,
                });
            }
            for (i, (seg, place)) in segs.iter().zip(&placed).enumerate() {
                let Some(place) = place else { continue };
                let loop_id = place.loop_id;
                // The node that took the segment names its definition: no lookup by tag.
                let Some(sdef) = place.segment.and_then(|s| spec.segment_at(s)) else {
                    continue;
                };
                let elements = elements::check_segment(seg, sdef, &ctx);
                if !elements.is_empty() {
                    segments.push(SegmentFinding {
                        code: SegmentError::HasElementErrors,
                        tag: seg.tag().to_string(),
                        position: i + 1,
                        loop_id: loop_id.map(str::to_string),
                        offset: seg.offset(),
                        detail: format!("{} element error(s)", elements.len()),
                        elements,
                    });
                }
            }
            segments.sort_by_key(|s| s.position);
        }
        _ => errors.insert(0, MessageError::NotSupported),
    }
    if !segments.is_empty() {
        errors.push(MessageError::SegmentsInError);
    }
    let verdict = if errors.is_empty() {
        Verdict::Accepted
    } else {
        Verdict::Rejected
    };
    let report = MessageReport {
        message_type,
        control_number: header.control_number,
        version: header.version,
        offset: m.header().offset(),
        segments,
        errors,
        verdict,
    };
    (report, def)
}
