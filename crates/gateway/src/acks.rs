//! Acknowledgements for one inbound interchange, per the partner's policy, rendered from
//! control numbers the outbox assigns.
//!
//! The outbox assigns numbers and enqueues the document in one transaction, and the render runs
//! inside it (possibly more than once), so rendering must be a pure function of the numbers. It
//! is done in two steps: a dry run counts how many numbers of each kind the document takes, then
//! the real render draws them, in the same order, from what the outbox handed out.

use edi::Interchange;
use partner::{ContrlPolicy, Exchange, FunctionalAck, Partner, Ta1Policy};
use validate::ack::{self, AckPolicy, ControlNumbers, NumberKind, Timestamp, X12Ack};
use validate::report::InterchangeReport;

/// Which acknowledgement a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    /// X12 TA1.
    Ta1,
    /// X12 997 or 999, or EDIFACT CONTRL.
    Functional,
}

impl AckKind {
    /// A short name for keys and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            AckKind::Ta1 => "ta1",
            AckKind::Functional => "functional",
        }
    }

    /// The document an acknowledgement of this kind rendered as `payload` is: `ta1`, `997`,
    /// `999` or `contrl` (`functional` if an X12 one names neither transaction set).
    pub fn document(self, standard: edi::Standard, payload: &[u8]) -> &'static str {
        match (self, standard) {
            (AckKind::Ta1, _) => "ta1",
            (AckKind::Functional, edi::Standard::Edifact) => "contrl",
            (AckKind::Functional, edi::Standard::X12) => {
                // We wrote it: ISA is fixed-length, its 4th byte the element separator and its
                // 106th the segment terminator; a set starts `ST`, separator, its ST01, right
                // after a terminator (and perhaps a line break).
                let (Some(&sep), Some(&term)) = (payload.get(3), payload.get(105)) else {
                    return "functional";
                };
                let names = |set: &[u8; 3]| {
                    payload.windows(7).any(|w| {
                        (w[0] == term || w[0] == b'\n')
                            && w[1..4] == [b'S', b'T', sep]
                            && w[4..] == *set
                    })
                };
                if names(b"999") {
                    "999"
                } else if names(b"997") {
                    "997"
                } else {
                    "functional"
                }
            }
        }
    }
}

/// How many control numbers of each kind one document takes: `[interchange, group, message]`.
pub type Needs = [usize; 3];

/// Counts the numbers a render asks for, handing out placeholders.
#[derive(Default)]
struct Counting(Needs);

impl ControlNumbers for Counting {
    fn next(&mut self, kind: NumberKind) -> u64 {
        self.0[index(kind)] += 1;
        1
    }
}

/// Hands out numbers the outbox assigned, in order per kind.
struct Assigned<'a> {
    numbers: [&'a [u64]; 3],
    used: [usize; 3],
}

impl ControlNumbers for Assigned<'_> {
    fn next(&mut self, kind: NumberKind) -> u64 {
        let i = index(kind);
        let n = self.numbers[i].get(self.used[i]).copied().unwrap_or(0);
        self.used[i] += 1;
        n
    }
}

fn index(kind: NumberKind) -> usize {
    match kind {
        NumberKind::Interchange => 0,
        NumberKind::Group => 1,
        NumberKind::Message => 2,
    }
}

/// What an acknowledgement needs to be rendered again, identically, from assigned numbers.
pub struct AckPlan<'r, 'a> {
    ic: &'r Interchange<'a>,
    report: &'r InterchangeReport,
    when: Timestamp,
    policy: AckPolicy,
    ta1: Ta1Policy,
    functional: bool,
}

impl<'r, 'a> AckPlan<'r, 'a> {
    /// The plan for `ic` from `partner`, whose validation gave `report`.
    pub fn new(
        ic: &'r Interchange<'a>,
        report: &'r InterchangeReport,
        partner: &Partner,
        when: Timestamp,
    ) -> Self {
        let (policy, ta1, functional) = match &partner.exchange {
            Exchange::X12(x) => {
                let choice = match x.functional_ack {
                    FunctionalAck::ByVersion | FunctionalAck::Never => X12Ack::ByVersion,
                    FunctionalAck::Ack997 => X12Ack::Always997,
                    FunctionalAck::Ack999 => X12Ack::Always999,
                };
                (
                    AckPolicy::x12(choice),
                    x.ta1,
                    x.functional_ack != FunctionalAck::Never,
                )
            }
            Exchange::Edifact(e) => {
                let contrl = match e.contrl {
                    ContrlPolicy::WhenAsked => ack::ContrlPolicy::WhenAsked,
                    ContrlPolicy::OnError => ack::ContrlPolicy::WhenAskedOrRejected,
                    ContrlPolicy::Always | ContrlPolicy::Never => ack::ContrlPolicy::Always,
                };
                (
                    AckPolicy {
                        contrl,
                        ..AckPolicy::default()
                    },
                    Ta1Policy::Never,
                    e.contrl != ContrlPolicy::Never,
                )
            }
        };
        AckPlan {
            ic,
            report,
            when,
            policy,
            ta1,
            functional,
        }
    }

    /// The acknowledgements this interchange gets, each with the numbers it takes.
    pub fn kinds(&self) -> Vec<(AckKind, Needs)> {
        let mut out = Vec::new();
        for kind in [AckKind::Ta1, AckKind::Functional] {
            let mut counting = Counting::default();
            if let Ok(Some(_)) = self.render_with(kind, &mut counting) {
                out.push((kind, counting.0));
            }
        }
        out
    }

    /// Renders one acknowledgement from assigned numbers (`numbers` holds the interchange,
    /// group and message numbers, in that order, as many of each as [`AckPlan::kinds`] said).
    pub fn render(
        &self,
        kind: AckKind,
        needs: Needs,
        numbers: &[u64],
    ) -> Result<Vec<u8>, edi::writer::WriteError> {
        let (i, rest) = numbers.split_at(needs[0].min(numbers.len()));
        let (g, m) = rest.split_at(needs[1].min(rest.len()));
        let mut assigned = Assigned {
            numbers: [i, g, m],
            used: [0; 3],
        };
        Ok(self.render_with(kind, &mut assigned)?.unwrap_or_default())
    }

    fn render_with(
        &self,
        kind: AckKind,
        numbers: &mut dyn ControlNumbers,
    ) -> Result<Option<Vec<u8>>, edi::writer::WriteError> {
        match kind {
            AckKind::Ta1 => {
                if self.ic.standard() != edi::Standard::X12 {
                    return Ok(None);
                }
                let wanted = match self.ta1 {
                    Ta1Policy::Never => false,
                    Ta1Policy::Always => true,
                    Ta1Policy::OnError => self.report.ack_requested || self.report.is_rejected(),
                };
                if !wanted || self.ic.sender().id.is_empty() {
                    return Ok(None);
                }
                ack::ta1(self.ic, self.report, numbers, &self.when).map(Some)
            }
            AckKind::Functional => {
                if !self.functional {
                    return Ok(None);
                }
                // An acknowledgement is never acknowledged: no 997/999 for a group of them
                // (GS01 FA), no CONTRL for a CONTRL.
                let only_acks = self.ic.messages().len() > 0
                    && self
                        .ic
                        .messages()
                        .all(|m| crate::reconcile::is_acknowledgement(&m.message_type()));
                if only_acks {
                    return Ok(None);
                }
                // `acknowledge` decides 997/999/CONTRL and whether one is due; its TA1 is
                // built separately above, by the partner's TA1 policy instead.
                let mut skip_ta1 = SkipInterchange {
                    inner: numbers,
                    skip: self.ic.standard() == edi::Standard::X12
                        && (self.report.ack_requested || self.report.is_rejected()),
                };
                let acks = ack::acknowledge(
                    self.ic,
                    self.report,
                    &mut skip_ta1,
                    &self.when,
                    &self.policy,
                )?;
                Ok(acks.functional)
            }
        }
    }
}

/// `acknowledge` builds its own TA1 first when one is due, taking an interchange number; that
/// TA1 is thrown away here, so its number must not come from the outbox.
struct SkipInterchange<'n> {
    inner: &'n mut dyn ControlNumbers,
    skip: bool,
}

impl ControlNumbers for SkipInterchange<'_> {
    fn next(&mut self, kind: NumberKind) -> u64 {
        if self.skip && kind == NumberKind::Interchange {
            self.skip = false;
            return 0;
        }
        self.inner.next(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 106-byte ISA with `*` and `~`, then `rest`.
    fn x12(rest: &str) -> Vec<u8> {
        let isa = format!(
            "ISA*00*{:10}*00*{:10}*ZZ*{:15}*ZZ*{:15}*260101*1200*^*00501*000000001*0*P*>~",
            "", "", "WIDGETCO", "ACMERETAIL"
        );
        assert_eq!(isa.len(), 106);
        format!("{isa}{rest}").into_bytes()
    }

    #[test]
    fn the_document_is_read_from_what_was_rendered() {
        let f = AckKind::Functional;
        let x = edi::Standard::X12;
        let ack999 = x12("GS*FA*A*B*20260101*1200*1*X*005010X231A1~ST*999*0001*005010X231A1~");
        assert_eq!(f.document(x, &ack999), "999");
        // Segments on lines of their own.
        assert_eq!(f.document(x, &x12("\nGS*FA~\nST*997*0001~")), "997");
        // `ST*999` inside an element is not a transaction set header.
        assert_eq!(f.document(x, &x12("GS*FA~ST*997*0001~AK2*ST*999~")), "997");
        assert_eq!(f.document(x, &x12("GS*FA~")), "functional");
        assert_eq!(f.document(x, b"ISA*00"), "functional");
        assert_eq!(f.document(edi::Standard::Edifact, b"UNB+"), "contrl");
        assert_eq!(AckKind::Ta1.document(x, b""), "ta1");
    }
}
