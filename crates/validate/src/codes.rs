//! The standard error codes, one enum per level, each knowing its X12 number and its EDIFACT
//! syntax error code (0085). A finding is classified once, here; the acknowledgement builders only
//! copy the numbers out.

/// Segment-level errors: X12 AK304 / IK304 (element 720 / 620).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentError {
    /// 1: the tag is not a segment of the standard.
    UnrecognizedSegment,
    /// 2: a segment of this message, but not allowed where it stands.
    UnexpectedSegment,
    /// 3: a mandatory segment (or loop) is missing.
    MandatorySegmentMissing,
    /// 4: a loop repeats more often than allowed.
    LoopOverMaximum,
    /// 5: a segment repeats more often than allowed.
    SegmentOverMaximumUse,
    /// 6: a segment of the standard that this message does not define.
    NotInTransactionSet,
    /// 7: a segment of this message that stands after its proper place.
    OutOfSequence,
    /// 8: the segment has element errors.
    HasElementErrors,
}

impl SegmentError {
    /// The X12 code (AK304/IK304).
    pub fn x12(self) -> &'static str {
        match self {
            SegmentError::UnrecognizedSegment => "1",
            SegmentError::UnexpectedSegment => "2",
            SegmentError::MandatorySegmentMissing => "3",
            SegmentError::LoopOverMaximum => "4",
            SegmentError::SegmentOverMaximumUse => "5",
            SegmentError::NotInTransactionSet => "6",
            SegmentError::OutOfSequence => "7",
            SegmentError::HasElementErrors => "8",
        }
    }

    /// The EDIFACT syntax error code (0085) for UCS.
    pub fn edifact(self) -> &'static str {
        match self {
            SegmentError::UnrecognizedSegment
            | SegmentError::UnexpectedSegment
            | SegmentError::NotInTransactionSet
            | SegmentError::OutOfSequence => "15",
            SegmentError::MandatorySegmentMissing => "13",
            SegmentError::LoopOverMaximum => "36",
            SegmentError::SegmentOverMaximumUse => "35",
            SegmentError::HasElementErrors => "12",
        }
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            SegmentError::UnrecognizedSegment => "unrecognized segment ID",
            SegmentError::UnexpectedSegment => "unexpected segment",
            SegmentError::MandatorySegmentMissing => "mandatory segment missing",
            SegmentError::LoopOverMaximum => "loop occurs over maximum times",
            SegmentError::SegmentOverMaximumUse => "segment exceeds maximum use",
            SegmentError::NotInTransactionSet => "segment not in defined transaction set",
            SegmentError::OutOfSequence => "segment not in proper sequence",
            SegmentError::HasElementErrors => "segment has data element errors",
        }
    }
}

/// Element-level errors: X12 AK403 / IK403 (element 723 / 621).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementError {
    /// 1: a mandatory element (or component) is empty.
    MandatoryMissing,
    /// 2: an element a syntax rule requires is empty.
    ConditionalMissing,
    /// 3: more elements than the segment defines.
    TooManyElements,
    /// 4: shorter than the minimum length.
    TooShort,
    /// 5: longer than the maximum length.
    TooLong,
    /// 6: a character the type or character set does not allow.
    InvalidCharacter,
    /// 7: not one of the element's codes.
    InvalidCode,
    /// 8: not a valid date.
    InvalidDate,
    /// 9: not a valid time.
    InvalidTime,
    /// 10: an element present that an exclusion rule forbids.
    ExclusionViolated,
    /// 12: more repetitions than allowed.
    TooManyRepetitions,
    /// 13: more components than the composite defines.
    TooManyComponents,
}

impl ElementError {
    /// The X12 code (AK403/IK403). 12 and 13 exist from 005010 on; the 997 of older versions
    /// reports them as 3 (too many data elements), the nearest code it has.
    pub fn x12(self, version_5010: bool) -> &'static str {
        match self {
            ElementError::MandatoryMissing => "1",
            ElementError::ConditionalMissing => "2",
            ElementError::TooManyElements => "3",
            ElementError::TooShort => "4",
            ElementError::TooLong => "5",
            ElementError::InvalidCharacter => "6",
            ElementError::InvalidCode => "7",
            ElementError::InvalidDate => "8",
            ElementError::InvalidTime => "9",
            ElementError::ExclusionViolated => "10",
            ElementError::TooManyRepetitions if version_5010 => "12",
            ElementError::TooManyComponents if version_5010 => "13",
            ElementError::TooManyRepetitions | ElementError::TooManyComponents => "3",
        }
    }

    /// The EDIFACT syntax error code (0085) for UCD.
    pub fn edifact(self) -> &'static str {
        match self {
            ElementError::MandatoryMissing | ElementError::ConditionalMissing => "13",
            ElementError::TooManyElements
            | ElementError::TooManyRepetitions
            | ElementError::TooManyComponents => "16",
            ElementError::TooShort => "40",
            ElementError::TooLong => "39",
            ElementError::InvalidCharacter => "21",
            ElementError::InvalidCode | ElementError::InvalidDate | ElementError::InvalidTime => {
                "12"
            }
            ElementError::ExclusionViolated => "15",
        }
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            ElementError::MandatoryMissing => "mandatory data element missing",
            ElementError::ConditionalMissing => "conditional required data element missing",
            ElementError::TooManyElements => "too many data elements",
            ElementError::TooShort => "data element too short",
            ElementError::TooLong => "data element too long",
            ElementError::InvalidCharacter => "invalid character in data element",
            ElementError::InvalidCode => "invalid code value",
            ElementError::InvalidDate => "invalid date",
            ElementError::InvalidTime => "invalid time",
            ElementError::ExclusionViolated => "exclusion condition violated",
            ElementError::TooManyRepetitions => "too many repetitions",
            ElementError::TooManyComponents => "too many components",
        }
    }
}

/// Message-level errors: X12 AK502–AK506 / IK502–IK506 (element 718 / 618).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageError {
    /// 1: the message type is not supported.
    NotSupported,
    /// 2: the trailer (SE/UNT) is missing.
    TrailerMissing,
    /// 3: the control numbers of header and trailer differ.
    ControlNumberMismatch,
    /// 4: the trailer's segment count is wrong.
    SegmentCountMismatch,
    /// 5: one or more segments are in error.
    SegmentsInError,
    /// 6: the message type is missing or invalid (or does not belong in its group).
    InvalidIdentifier,
    /// 7: the control number is missing or invalid.
    InvalidControlNumber,
    /// 18: the message is not in a functional group (X12 005010).
    NotInGroup,
    /// 23: the control number repeats within the group.
    DuplicateControlNumber,
}

impl MessageError {
    /// The X12 code.
    pub fn x12(self) -> &'static str {
        match self {
            MessageError::NotSupported => "1",
            MessageError::TrailerMissing => "2",
            MessageError::ControlNumberMismatch => "3",
            MessageError::SegmentCountMismatch => "4",
            MessageError::SegmentsInError => "5",
            MessageError::InvalidIdentifier => "6",
            MessageError::InvalidControlNumber => "7",
            MessageError::NotInGroup => "18",
            MessageError::DuplicateControlNumber => "23",
        }
    }

    /// The EDIFACT syntax error code (0085) for UCM.
    pub fn edifact(self) -> &'static str {
        match self {
            MessageError::NotSupported | MessageError::InvalidIdentifier => "14",
            MessageError::TrailerMissing => "13",
            MessageError::ControlNumberMismatch => "28",
            MessageError::SegmentCountMismatch => "29",
            MessageError::SegmentsInError => "18",
            MessageError::InvalidControlNumber => "12",
            MessageError::NotInGroup => "33",
            MessageError::DuplicateControlNumber => "26",
        }
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            MessageError::NotSupported => "message type not supported",
            MessageError::TrailerMissing => "message trailer missing",
            MessageError::ControlNumberMismatch => {
                "control numbers in header and trailer do not match"
            }
            MessageError::SegmentCountMismatch => {
                "number of included segments does not match the count"
            }
            MessageError::SegmentsInError => "one or more segments in error",
            MessageError::InvalidIdentifier => "missing or invalid message type",
            MessageError::InvalidControlNumber => "missing or invalid message control number",
            MessageError::NotInGroup => "message not in a functional group",
            MessageError::DuplicateControlNumber => {
                "message control number not unique within the group"
            }
        }
    }
}

/// Group-level errors: X12 AK905–AK909 (element 716).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupError {
    /// 1: the functional group is not supported.
    NotSupported,
    /// 2: the version (GS08) is not supported.
    VersionNotSupported,
    /// 3: the trailer (GE/UNE) is missing.
    TrailerMissing,
    /// 4: the control numbers of header and trailer differ.
    ControlNumberMismatch,
    /// 5: the trailer's message count is wrong.
    CountMismatch,
    /// 6: the control number is not valid.
    InvalidControlNumber,
    /// 19: the control number repeats within the interchange (005010).
    DuplicateControlNumber,
}

impl GroupError {
    /// The X12 code.
    pub fn x12(self) -> &'static str {
        match self {
            GroupError::NotSupported => "1",
            GroupError::VersionNotSupported => "2",
            GroupError::TrailerMissing => "3",
            GroupError::ControlNumberMismatch => "4",
            GroupError::CountMismatch => "5",
            GroupError::InvalidControlNumber => "6",
            GroupError::DuplicateControlNumber => "19",
        }
    }

    /// The EDIFACT syntax error code (0085) for UCF.
    pub fn edifact(self) -> &'static str {
        match self {
            GroupError::NotSupported | GroupError::VersionNotSupported => "14",
            GroupError::TrailerMissing => "13",
            GroupError::ControlNumberMismatch => "28",
            GroupError::CountMismatch => "29",
            GroupError::InvalidControlNumber => "12",
            GroupError::DuplicateControlNumber => "26",
        }
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            GroupError::NotSupported => "functional group not supported",
            GroupError::VersionNotSupported => "functional group version not supported",
            GroupError::TrailerMissing => "functional group trailer missing",
            GroupError::ControlNumberMismatch => {
                "group control numbers in header and trailer do not agree"
            }
            GroupError::CountMismatch => "number of included messages does not match the count",
            GroupError::InvalidControlNumber => "group control number violates syntax",
            GroupError::DuplicateControlNumber => {
                "group control number not unique within the interchange"
            }
        }
    }
}

/// Interchange-level errors: the X12 TA1 note codes (I18) and their EDIFACT equivalents (UCI 0085).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterchangeError {
    /// 001: header and trailer control numbers differ.
    ControlNumberMismatch,
    /// 002: the standard is not supported.
    StandardNotSupported,
    /// 003: the version of the controls is not supported.
    VersionNotSupported,
    /// 005: invalid sender qualifier.
    InvalidSenderQualifier,
    /// 006: invalid sender id.
    InvalidSender,
    /// 007: invalid receiver qualifier.
    InvalidReceiverQualifier,
    /// 008: invalid receiver id.
    InvalidReceiver,
    /// 010: invalid authorization information qualifier.
    InvalidAuthorizationQualifier,
    /// 011: invalid authorization information value.
    InvalidAuthorizationValue,
    /// 012: invalid security information qualifier.
    InvalidSecurityQualifier,
    /// 013: invalid security information value.
    InvalidSecurityValue,
    /// 014: invalid date.
    InvalidDate,
    /// 015: invalid time.
    InvalidTime,
    /// 016: invalid standards identifier (ISA11 before 00402).
    InvalidStandardsIdentifier,
    /// 017: invalid version (ISA12).
    InvalidVersion,
    /// 018: invalid control number.
    InvalidControlNumber,
    /// 019: invalid acknowledgment-requested value.
    InvalidAckRequested,
    /// 020: invalid test indicator.
    InvalidTestIndicator,
    /// 021: the trailer's group count is wrong.
    InvalidGroupCount,
    /// 022: invalid control structure (fixed widths, segments outside groups, mixed groups).
    InvalidControlStructure,
    /// 023: the input ends before the trailer.
    PrematureEnd,
    /// 024: invalid content (an unreadable group header).
    InvalidContent,
    /// 025: duplicate interchange control number.
    Duplicate,
    /// 027: invalid component element separator (ISA16).
    InvalidComponentSeparator,
    /// An element of the interchange header breaks its definition (EDIFACT UNB against the
    /// service segment spec): the element's own code, TA1 024 in X12 terms.
    HeaderElement(ElementError),
}

impl InterchangeError {
    /// The TA1 note code (TA105).
    pub fn x12(self) -> &'static str {
        match self {
            InterchangeError::ControlNumberMismatch => "001",
            InterchangeError::StandardNotSupported => "002",
            InterchangeError::VersionNotSupported => "003",
            InterchangeError::InvalidSenderQualifier => "005",
            InterchangeError::InvalidSender => "006",
            InterchangeError::InvalidReceiverQualifier => "007",
            InterchangeError::InvalidReceiver => "008",
            InterchangeError::InvalidAuthorizationQualifier => "010",
            InterchangeError::InvalidAuthorizationValue => "011",
            InterchangeError::InvalidSecurityQualifier => "012",
            InterchangeError::InvalidSecurityValue => "013",
            InterchangeError::InvalidDate => "014",
            InterchangeError::InvalidTime => "015",
            InterchangeError::InvalidStandardsIdentifier => "016",
            InterchangeError::InvalidVersion => "017",
            InterchangeError::InvalidControlNumber => "018",
            InterchangeError::InvalidAckRequested => "019",
            InterchangeError::InvalidTestIndicator => "020",
            InterchangeError::InvalidGroupCount => "021",
            InterchangeError::InvalidControlStructure => "022",
            InterchangeError::PrematureEnd => "023",
            InterchangeError::InvalidContent => "024",
            InterchangeError::Duplicate => "025",
            InterchangeError::InvalidComponentSeparator => "027",
            InterchangeError::HeaderElement(_) => "024",
        }
    }

    /// The EDIFACT syntax error code (0085) for UCI.
    pub fn edifact(self) -> &'static str {
        match self {
            InterchangeError::ControlNumberMismatch => "28",
            InterchangeError::StandardNotSupported | InterchangeError::VersionNotSupported => "2",
            InterchangeError::InvalidSenderQualifier | InterchangeError::InvalidSender => "23",
            InterchangeError::InvalidReceiverQualifier | InterchangeError::InvalidReceiver => "43",
            InterchangeError::InvalidGroupCount => "29",
            InterchangeError::InvalidControlStructure => "30",
            InterchangeError::PrematureEnd => "13",
            InterchangeError::Duplicate => "26",
            InterchangeError::InvalidTestIndicator => "25",
            InterchangeError::HeaderElement(e) => e.edifact(),
            _ => "12",
        }
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            InterchangeError::ControlNumberMismatch => {
                "interchange control numbers in header and trailer do not match"
            }
            InterchangeError::StandardNotSupported => "standard not supported",
            InterchangeError::VersionNotSupported => "version of the controls not supported",
            InterchangeError::InvalidSenderQualifier => {
                "invalid interchange ID qualifier for sender"
            }
            InterchangeError::InvalidSender => "invalid interchange sender ID",
            InterchangeError::InvalidReceiverQualifier => {
                "invalid interchange ID qualifier for receiver"
            }
            InterchangeError::InvalidReceiver => "invalid interchange receiver ID",
            InterchangeError::InvalidAuthorizationQualifier => {
                "invalid authorization information qualifier"
            }
            InterchangeError::InvalidAuthorizationValue => {
                "invalid authorization information value"
            }
            InterchangeError::InvalidSecurityQualifier => "invalid security information qualifier",
            InterchangeError::InvalidSecurityValue => "invalid security information value",
            InterchangeError::InvalidDate => "invalid interchange date",
            InterchangeError::InvalidTime => "invalid interchange time",
            InterchangeError::InvalidStandardsIdentifier => {
                "invalid interchange standards identifier"
            }
            InterchangeError::InvalidVersion => "invalid interchange version",
            InterchangeError::InvalidControlNumber => "invalid interchange control number",
            InterchangeError::InvalidAckRequested => "invalid acknowledgment requested value",
            InterchangeError::InvalidTestIndicator => "invalid test indicator",
            InterchangeError::InvalidGroupCount => "invalid number of included groups",
            InterchangeError::InvalidControlStructure => "invalid control structure",
            InterchangeError::PrematureEnd => "improper (premature) end of file",
            InterchangeError::InvalidContent => "invalid interchange content",
            InterchangeError::Duplicate => "duplicate interchange control number",
            InterchangeError::InvalidComponentSeparator => "invalid component element separator",
            InterchangeError::HeaderElement(e) => e.describe(),
        }
    }
}
