//! The validated spec types. The raw TOML (see `raw.rs`) is turned into these once, with every
//! reference resolved, so validation never meets a dangling id.

use std::collections::BTreeMap;
use std::fmt;

/// Which syntax a spec describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// ASC X12.
    X12,
    /// UN/EDIFACT.
    Edifact,
}

/// How often a segment, element or component must appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// Mandatory (X12 `M`, EDIFACT `M`).
    Mandatory,
    /// Optional (X12 `O`) or conditional (EDIFACT `C`): present or not, subject to rules.
    Optional,
    /// Not used (X12 `X` in an implementation guide): must be absent.
    NotUsed,
}

impl Usage {
    /// Parses `M`, `O`, `C`, `X`.
    pub fn parse(s: &str) -> Option<Usage> {
        match s {
            "M" | "R" => Some(Usage::Mandatory),
            "O" | "C" | "S" => Some(Usage::Optional),
            "X" | "N" => Some(Usage::NotUsed),
            _ => None,
        }
    }
}

/// The largest number of occurrences allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxUse {
    /// At most this many.
    Limited(u32),
    /// No limit (`>1` in X12 tables).
    Unbounded,
}

impl MaxUse {
    /// True when `n` occurrences exceed the limit.
    pub fn exceeded_by(self, n: u32) -> bool {
        matches!(self, MaxUse::Limited(m) if n > m)
    }
}

impl fmt::Display for MaxUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUse::Limited(n) => write!(f, "{n}"),
            MaxUse::Unbounded => f.write_str(">1"),
        }
    }
}

/// A data element's representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// X12 `AN` / EDIFACT `an`: any characters of the syntax's character set.
    Alphanumeric,
    /// X12 `ID`: a code from a list.
    Identifier,
    /// EDIFACT `a`: letters only.
    Alphabetic,
    /// X12 `N0`–`N9`: an integer with an implied number of decimal places.
    Numeric {
        /// Implied decimal places.
        decimals: u8,
    },
    /// X12 `R` / EDIFACT `n`: a decimal number with an explicit decimal mark.
    Decimal,
    /// X12 `DT`: a date, CCYYMMDD or YYMMDD by length.
    Date,
    /// X12 `TM`: a time, HHMM[SS[d..]].
    Time,
    /// X12 `B`: binary data.
    Binary,
}

impl DataType {
    /// Parses the type notation of the standards (`AN`, `ID`, `N0`…`N9`, `N`, `R`, `DT`, `TM`,
    /// `B`, `an`, `a`, `n`).
    pub fn parse(s: &str) -> Option<DataType> {
        Some(match s {
            "AN" | "an" => DataType::Alphanumeric,
            "ID" => DataType::Identifier,
            "a" | "A" => DataType::Alphabetic,
            "N" => DataType::Numeric { decimals: 0 },
            "R" | "n" => DataType::Decimal,
            "DT" => DataType::Date,
            "TM" => DataType::Time,
            "B" => DataType::Binary,
            s if s.len() == 2 && s.starts_with('N') => {
                let d = s.as_bytes()[1];
                if !d.is_ascii_digit() {
                    return None;
                }
                DataType::Numeric { decimals: d - b'0' }
            }
            _ => return None,
        })
    }
}

/// A data element from the dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementDef {
    /// The element id (`353`, `1001`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Representation.
    pub data_type: DataType,
    /// Minimum length.
    pub min: u32,
    /// Maximum length.
    pub max: u32,
    /// Allowed codes with their meaning; empty means any value of the type.
    pub codes: BTreeMap<String, String>,
    /// The same codes as bytes, for lookups without decoding the value.
    pub code_bytes:
        std::collections::HashSet<Vec<u8>, std::hash::BuildHasherDefault<crate::load::KeyHasher>>,
    /// The codes of up to 15 bytes packed into numbers ([`code_key`]): a code lookup per element
    /// is on the validator's hot path, and hashing one number beats hashing a byte string.
    pub code_keys:
        std::collections::HashSet<u128, std::hash::BuildHasherDefault<crate::load::KeyHasher>>,
    /// Whether some code is longer than [`code_key`] packs, so [`Self::code_bytes`] must be asked
    /// for long values.
    pub long_codes: bool,
}

impl ElementDef {
    /// Whether `value` is one of the codes (the same answer as [`Self::code_bytes`]).
    #[inline]
    pub fn has_code(&self, value: &[u8]) -> bool {
        match code_key(value) {
            Some(k) => self.code_keys.contains(&k),
            None => self.long_codes && self.code_bytes.contains(value),
        }
    }
}

/// A value of up to 15 bytes as one number: the bytes, little-endian, and the length in the top
/// byte, so different values never share a key. `None` for longer values.
#[inline]
pub fn code_key(value: &[u8]) -> Option<u128> {
    if value.len() > 15 {
        return None;
    }
    // Byte by byte rather than through a copy of variable length, which becomes a `memcpy`
    // call; codes are one to three bytes.
    let length = (value.len() as u128) << 120;
    Some(
        value
            .iter()
            .enumerate()
            .fold(length, |k, (i, b)| k | (u128::from(*b) << (8 * i))),
    )
}

/// One position in a segment or composite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// What stands here.
    pub item: Item,
    /// Mandatory, optional, not used.
    pub usage: Usage,
    /// How many repetitions are allowed (1 for a plain element).
    pub repeat: MaxUse,
    /// Where the definition is: [`crate::SpecSet::element_at`] for an element,
    /// [`crate::SpecSet::composite_at`] for a composite (resolved once, at load).
    pub index: usize,
}

/// A simple element or a composite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A simple data element (by id, resolved in the dictionary).
    Element(String),
    /// A composite data element (by id).
    Composite(String),
}

impl Item {
    /// The referenced id.
    pub fn id(&self) -> &str {
        match self {
            Item::Element(id) | Item::Composite(id) => id,
        }
    }
}

/// A composite data element: components that are simple elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompositeDef {
    /// The composite id (`C001`, `C002`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The components, in order (each an element; `repeat` is always 1).
    pub components: Vec<Position>,
    /// Conditional rules between components.
    pub rules: Vec<Rule>,
    /// [`Self::rules`] as bit masks over component positions; `None` when one cannot be
    /// expressed so ([`RuleMask::new`]) and the rules must be read one by one.
    pub rule_masks: Option<Vec<RuleMask>>,
    /// Whether a component after the first is mandatory: a composite sent as one plain value
    /// then lacks it.
    pub mandatory_after_first: bool,
}

/// A segment definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentDef {
    /// The tag.
    pub tag: String,
    /// Its name.
    pub name: String,
    /// The elements, in order.
    pub elements: Vec<Position>,
    /// Conditional rules between elements.
    pub rules: Vec<Rule>,
    /// [`Self::rules`] as bit masks over element positions; `None` when one cannot be expressed
    /// so ([`RuleMask::new`]) and the rules must be read one by one.
    pub rule_masks: Option<Vec<RuleMask>>,
    /// One past the index of the last mandatory element (0 when none is): a segment that ends
    /// at or after it lacks no mandatory element at its end.
    pub mandatory_end: usize,
}

/// Rules as bit masks, for a whole list of them: `None` when any one cannot be expressed.
pub(crate) fn rule_masks(rules: &[Rule]) -> Option<Vec<RuleMask>> {
    rules.iter().map(RuleMask::new).collect()
}

/// A [`Rule`] as bit masks over positions (bit `p - 1` for position `p`), so the validator
/// decides whether it is met from the set of present positions in a few instructions instead of
/// walking position lists. It answers exactly as the rule read position by position would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleMask {
    kind: RuleKind,
    /// The first position, for `C` and `L`.
    first: u64,
    /// Every position (`P`, `R`, `E`) or the positions after the first (`C`, `L`).
    rest: u64,
    /// Positions an `E` rule names more than once: one of those present counts twice.
    twice: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleKind {
    Paired,
    RequiredOne,
    Exclusive,
    Conditional,
    ListConditional,
}

impl RuleMask {
    /// The masks for `rule`; `None` when it names no position or one outside 1–64, which the
    /// masks do not hold (rules name positions up to 99, nearly always below 64).
    pub fn new(rule: &Rule) -> Option<RuleMask> {
        let bit = |p: u8| (1..=64).contains(&p).then(|| 1u64 << (p - 1));
        let mask = |ps: &[u8]| -> Option<u64> {
            if ps.is_empty() {
                return None;
            }
            ps.iter().try_fold(0u64, |m, p| Some(m | bit(*p)?))
        };
        let (kind, first, rest, list) = match rule {
            Rule::Paired(ps) => (RuleKind::Paired, 0, mask(ps)?, ps.as_slice()),
            Rule::RequiredOne(ps) => (RuleKind::RequiredOne, 0, mask(ps)?, ps.as_slice()),
            Rule::Exclusive(ps) => (RuleKind::Exclusive, 0, mask(ps)?, ps.as_slice()),
            Rule::Conditional(f, rest) => (
                RuleKind::Conditional,
                bit(*f)?,
                mask(rest)?,
                rest.as_slice(),
            ),
            Rule::ListConditional(f, rest) => (
                RuleKind::ListConditional,
                bit(*f)?,
                mask(rest)?,
                rest.as_slice(),
            ),
        };
        let mut seen = 0u64;
        let mut twice = 0u64;
        for p in list {
            let b = bit(*p)?;
            twice |= seen & b;
            seen |= b;
        }
        Some(RuleMask {
            kind,
            first,
            rest,
            twice: if kind == RuleKind::Exclusive {
                twice
            } else {
                0
            },
        })
    }

    /// Whether the rule is met when exactly the positions in `present` (bit `p - 1` for
    /// position `p`) hold data.
    #[inline]
    pub fn is_met(&self, present: u128) -> bool {
        // Every position the masks name is below 64.
        let present = present as u64;
        let hit = present & self.rest;
        match self.kind {
            RuleKind::Paired => hit == 0 || hit == self.rest,
            RuleKind::RequiredOne => hit != 0,
            RuleKind::Exclusive => hit.count_ones() < 2 && hit & self.twice == 0,
            RuleKind::Conditional => present & self.first == 0 || hit == self.rest,
            RuleKind::ListConditional => present & self.first == 0 || hit != 0,
        }
    }
}

/// An X12 syntax note (also used for EDIFACT dependency notes): which positions depend on which.
/// Positions are 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `P`: if any is present, all must be.
    Paired(Vec<u8>),
    /// `R`: at least one must be present.
    RequiredOne(Vec<u8>),
    /// `E`: at most one may be present.
    Exclusive(Vec<u8>),
    /// `C`: if the first is present, all the others must be.
    Conditional(u8, Vec<u8>),
    /// `L`: if the first is present, at least one of the others must be.
    ListConditional(u8, Vec<u8>),
}

impl Rule {
    /// Parses an X12 syntax note such as `P0304`, `R020304`, `C0405`, `L010203`.
    pub fn parse(s: &str) -> Option<Rule> {
        let (kind, digits) = s.split_at_checked(1)?;
        if digits.len() < 4 || digits.len() % 2 != 0 || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let positions: Vec<u8> = digits
            .as_bytes()
            .chunks(2)
            .map(|p| (p[0] - b'0') * 10 + (p[1] - b'0'))
            .collect();
        if positions.contains(&0) {
            return None;
        }
        let (first, rest) = positions.split_first()?;
        Some(match kind {
            "P" => Rule::Paired(positions.clone()),
            "R" => Rule::RequiredOne(positions.clone()),
            "E" => Rule::Exclusive(positions.clone()),
            "C" => Rule::Conditional(*first, rest.to_vec()),
            "L" => Rule::ListConditional(*first, rest.to_vec()),
            _ => return None,
        })
    }

    /// Every position the rule names.
    pub fn positions(&self) -> Vec<u8> {
        match self {
            Rule::Paired(p) | Rule::RequiredOne(p) | Rule::Exclusive(p) => p.clone(),
            Rule::Conditional(f, r) | Rule::ListConditional(f, r) => {
                let mut v = vec![*f];
                v.extend(r);
                v
            }
        }
    }
}

/// A segment tag packed into an integer (its bytes, little-endian), so the hot paths compare
/// and hash tags as numbers. Tags are 2–3 ASCII characters; longer input is cut at 4 bytes.
pub fn tag_key(tag: &[u8]) -> u32 {
    let mut k = 0u32;
    for (i, b) in tag.iter().take(4).enumerate() {
        k |= u32::from(*b) << (8 * i);
    }
    k
}

/// One node of a message's structure: a segment or a loop (EDIFACT segment group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A segment position.
    Segment {
        /// The tag.
        tag: String,
        /// [`tag_key`] of the tag.
        key: u32,
        /// Where the segment's definition is: [`crate::SpecSet::segment_at`] (resolved once, at
        /// load).
        segment: usize,
        /// Mandatory or optional.
        usage: Usage,
        /// Maximum use.
        max: MaxUse,
    },
    /// A loop: entered by its first segment, repeated up to `max` times.
    Loop {
        /// The loop id (`N1`, `PO1`, `SG2`).
        id: String,
        /// [`tag_key`] of the trigger segment's tag.
        key: u32,
        /// Mandatory or optional.
        usage: Usage,
        /// Maximum repetitions of the whole loop.
        max: MaxUse,
        /// The loop's content; the first node is the loop's trigger segment.
        children: Vec<Node>,
        /// What the structure walk needs about `children`, derived at load.
        summary: NodeSummary,
    },
}

/// A list of structure nodes summed up for the structure walk: their [`tag_key`]s side by side,
/// so a search for the position that takes a segment reads a few cache lines instead of every
/// node, and where the last mandatory one stands, so the walk stops looking for missing ones
/// early.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSummary {
    /// [`Node::key`] of each node, in order.
    pub keys: Vec<u32>,
    /// One past the index of the last mandatory node (0 when none is mandatory).
    pub mandatory_end: usize,
}

impl NodeSummary {
    /// The summary of `nodes`.
    pub fn new(nodes: &[Node]) -> NodeSummary {
        NodeSummary {
            keys: nodes.iter().map(Node::key).collect(),
            mandatory_end: nodes
                .iter()
                .rposition(|n| n.usage() == Usage::Mandatory)
                .map_or(0, |i| i + 1),
        }
    }
}

impl Node {
    /// [`tag_key`] of the segment that starts this node.
    #[inline]
    pub fn key(&self) -> u32 {
        match self {
            Node::Segment { key, .. } | Node::Loop { key, .. } => *key,
        }
    }

    /// [`crate::SpecSet::segment_at`] index of the segment that starts this node.
    #[inline]
    pub fn segment(&self) -> Option<usize> {
        match self {
            Node::Segment { segment, .. } => Some(*segment),
            Node::Loop { children, .. } => children.first().and_then(Node::segment),
        }
    }

    /// Mandatory or optional.
    #[inline]
    pub fn usage(&self) -> Usage {
        match self {
            Node::Segment { usage, .. } | Node::Loop { usage, .. } => *usage,
        }
    }

    /// The tag of the segment that starts this node.
    pub fn trigger(&self) -> &str {
        match self {
            Node::Segment { tag, .. } => tag,
            Node::Loop { children, .. } => children.first().map_or("", Node::trigger),
        }
    }
}

/// A message (transaction set) definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageDef {
    /// The message id (`850`, `ORDERS`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// X12: the functional identifier code of its group (GS01, `PO` for 850).
    pub functional_group: Option<String>,
    /// The structure, header (ST/UNH) through trailer (SE/UNT).
    pub structure: Vec<Node>,
    /// What the structure walk needs about `structure`, derived at load.
    pub summary: NodeSummary,
}
