//! What validation found, level by level, with the standard codes and the human detail (segment
//! position, tag, element, byte offset). The acknowledgement builders read only this.

use crate::codes::{ElementError, GroupError, InterchangeError, MessageError, SegmentError};

/// The outcome for a message or a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No errors (X12 `A`).
    Accepted,
    /// Errors noted but accepted (X12 `E`).
    AcceptedWithErrors,
    /// Some messages of the group rejected, others accepted (X12 AK9 `P`).
    PartiallyAccepted,
    /// Rejected (X12 `R`).
    Rejected,
}

impl Verdict {
    /// The X12 acknowledgment code (AK501, AK901, IK501).
    pub fn x12(self) -> &'static str {
        match self {
            Verdict::Accepted => "A",
            Verdict::AcceptedWithErrors => "E",
            Verdict::PartiallyAccepted => "P",
            Verdict::Rejected => "R",
        }
    }

    /// The EDIFACT action code (0083): 7 = acknowledged, 4 = rejected.
    pub fn edifact(self) -> &'static str {
        match self {
            Verdict::Rejected => "4",
            _ => "7",
        }
    }
}

/// An element (or component) error inside a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementFinding {
    /// The standard code.
    pub code: ElementError,
    /// 1-based element position in the segment.
    pub position: usize,
    /// 1-based component position, when the error is in a component.
    pub component: Option<usize>,
    /// 1-based repetition, when the element repeats.
    pub repetition: Option<usize>,
    /// The data element id (`353`, `1001`), when known.
    pub element_id: String,
    /// A copy of the bad data (empty when missing), for AK404.
    pub value: String,
    /// Absolute byte offset of the element (of the segment when the element is missing).
    pub offset: u64,
    /// What was expected.
    pub detail: String,
    /// For a syntax rule between elements (X12 P, C, E, L): the 1-based position of the present
    /// element that made this one required or forbidden — the situational trigger a 999 names in
    /// its CTX.
    pub trigger: Option<usize>,
}

/// A segment error (with its element errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFinding {
    /// The standard code.
    pub code: SegmentError,
    /// The segment tag (for a missing segment, the tag that was expected).
    pub tag: String,
    /// 1-based position in the message (ST/UNH is 1).
    pub position: usize,
    /// The loop the segment belongs to, when known.
    pub loop_id: Option<String>,
    /// Absolute byte offset (of the segment where the error was noticed).
    pub offset: u64,
    /// The element errors (for `HasElementErrors`).
    pub elements: Vec<ElementFinding>,
    /// What was expected.
    pub detail: String,
}

/// One message's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageReport {
    /// ST01 / UNH 0065.
    pub message_type: String,
    /// ST02 / UNH 0062.
    pub control_number: String,
    /// ST03 (X12 005010) or UNH S009 `version:release:agency[:association]`.
    pub version: String,
    /// Absolute byte offset of the header.
    pub offset: u64,
    /// Segment errors.
    pub segments: Vec<SegmentFinding>,
    /// Message-level errors.
    pub errors: Vec<MessageError>,
    /// Accepted or rejected.
    pub verdict: Verdict,
}

/// One functional group's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupReport {
    /// GS01 / UNG 0038.
    pub functional_id: String,
    /// GS06 / UNG 0048.
    pub control_number: String,
    /// GS08 / UNG S008.
    pub version: String,
    /// Absolute byte offset of the header.
    pub offset: u64,
    /// Group-level errors.
    pub errors: Vec<GroupError>,
    /// The messages.
    pub messages: Vec<MessageReport>,
    /// Messages the trailer declares (GE01), if readable.
    pub declared: Option<usize>,
    /// A, E, P or R.
    pub verdict: Verdict,
}

impl GroupReport {
    /// Messages accepted (with or without noted errors).
    pub fn accepted(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| m.verdict != Verdict::Rejected)
            .count()
    }
}

/// An interchange-level error with the detail people need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterchangeFinding {
    /// The standard code.
    pub code: InterchangeError,
    /// Where and what.
    pub detail: String,
    /// Absolute byte offset.
    pub offset: u64,
}

/// One interchange's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterchangeReport {
    /// X12 or EDIFACT.
    pub standard: edi::Standard,
    /// ISA13 / UNB 0020.
    pub control_number: String,
    /// Absolute byte offset.
    pub offset: u64,
    /// Interchange-level errors.
    pub errors: Vec<InterchangeFinding>,
    /// Functional groups.
    pub groups: Vec<GroupReport>,
    /// EDIFACT messages outside groups.
    pub messages: Vec<MessageReport>,
    /// Whether the sender asked for an interchange acknowledgement.
    pub ack_requested: bool,
}

impl InterchangeReport {
    /// True when nothing at any level is in error.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
            && self.groups.iter().all(|g| g.verdict == Verdict::Accepted)
            && self.messages.iter().all(|m| m.verdict == Verdict::Accepted)
    }

    /// Every message, grouped or not.
    pub fn all_messages(&self) -> impl Iterator<Item = &MessageReport> {
        self.groups
            .iter()
            .flat_map(|g| g.messages.iter())
            .chain(self.messages.iter())
    }

    /// True when the interchange as a whole is rejected (an envelope error).
    pub fn is_rejected(&self) -> bool {
        !self.errors.is_empty()
    }
}
