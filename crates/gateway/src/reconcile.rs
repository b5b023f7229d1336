//! Acknowledgements from partners, matched to the documents we sent them.
//!
//! A partner's TA1 names our interchange (ISA13), its 997 or 999 our group (GS06), its CONTRL
//! our interchange (UNB 0020); the outbox finds the delivery that number was given to and keeps
//! what the acknowledgement said, with its codes. A document still waiting for one when the
//! partner's window has passed is overdue ([`overdue`]), which `edigate status` and `/metrics`
//! show.

use std::time::Duration;

use edi::{Charset, Interchange, Segment, Standard};
use outbox::{AckOutcome, Acknowledgement, CounterKey, CounterKind, Delivery, MessageId, Outbox};
use partner::Partners;
use serde::{Deserialize, Serialize};

/// The counters purpose of documents and acknowledgements we send.
const OUTBOUND: &str = "outbound";

/// How long a partner has to acknowledge a document when its file does not say.
pub const DEFAULT_ACK_WITHIN: Duration = Duration::from_secs(24 * 3600);

/// The message types that acknowledge rather than carry business: they are reconciled, not
/// translated, and not acknowledged in turn.
pub fn is_acknowledgement(message_type: &str) -> bool {
    matches!(message_type, "997" | "999" | "CONTRL")
}

/// One acknowledgement read from an interchange: which of our numbers it answers and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// `ta1`, `997`, `999` or `contrl`.
    pub document: &'static str,
    /// The counter whose number it names.
    pub counter: CounterKind,
    /// That number.
    pub number: u64,
    /// What it says.
    pub outcome: AckOutcome,
    /// Its codes, as sent.
    pub codes: Vec<String>,
}

/// Every acknowledgement in `ic`.
pub fn read(ic: &Interchange<'_>) -> Vec<Reading> {
    let cs = ic.charset();
    let text = |s: &Segment<'_>, n: usize| s.text(n, 1, cs).trim().to_owned();
    let mut out = Vec::new();
    match ic.standard() {
        Standard::X12 => {
            for s in ic.service_segments().filter(|s| s.tag().as_str() == "TA1") {
                let Ok(number) = text(s, 1).parse::<u64>() else {
                    continue;
                };
                let status = text(s, 4);
                let mut codes = vec![format!("TA1 {status}")];
                let note = text(s, 5);
                if !note.is_empty() && note != "000" {
                    codes.push(format!("TA105 {note}"));
                }
                out.push(Reading {
                    document: "ta1",
                    counter: CounterKind::Isa13,
                    number,
                    outcome: x12_outcome(&status),
                    codes,
                });
            }
            for m in ic.messages() {
                let document = match m.message_type().as_str() {
                    "997" => "997",
                    "999" => "999",
                    _ => continue,
                };
                out.extend(functional(document, m.body(), cs));
            }
        }
        Standard::Edifact => {
            for m in ic.messages().filter(|m| m.message_type() == "CONTRL") {
                out.extend(contrl(m.body(), cs));
            }
        }
    }
    out
}

/// A 997/999 set: one reading per AK1 group it answers, judged by its AK9, with the codes of
/// every set response in it.
fn functional(document: &'static str, body: &[Segment<'_>], cs: Charset) -> Vec<Reading> {
    let text = |s: &Segment<'_>, n: usize| s.text(n, 1, cs).trim().to_owned();
    let mut out = Vec::new();
    let mut current: Option<Reading> = None;
    for s in body {
        let tag = s.tag();
        match tag.as_str() {
            "AK1" => {
                out.extend(current.take());
                if let Ok(number) = text(s, 2).parse::<u64>() {
                    current = Some(Reading {
                        document,
                        counter: CounterKind::Gs06,
                        number,
                        outcome: AckOutcome::Received,
                        codes: Vec::new(),
                    });
                }
            }
            "AK3" | "IK3" | "AK4" | "IK4" | "AK5" | "IK5" | "AK9" => {
                let Some(r) = current.as_mut() else { continue };
                let values: Vec<String> = (1..=s.element_count())
                    .map(|n| text(s, n))
                    .filter(|v| !v.is_empty())
                    .collect();
                if tag.as_str() == "AK9" {
                    r.outcome = x12_outcome(&text(s, 1));
                }
                r.codes
                    .push(format!("{} {}", tag.as_str(), values.join(" ")));
            }
            _ => {}
        }
    }
    out.extend(current);
    out
}

fn x12_outcome(code: &str) -> AckOutcome {
    match code {
        "A" => AckOutcome::Accepted,
        "E" => AckOutcome::AcceptedWithErrors,
        "P" => AckOutcome::PartlyAccepted,
        _ => AckOutcome::Rejected,
    }
}

/// A CONTRL: its UCI answers one interchange (0083: 4 rejected, 7 accepted, 8 received); a UCM
/// rejecting a message in it makes the answer a rejection of that document (we send one message
/// per interchange).
fn contrl(body: &[Segment<'_>], cs: Charset) -> Option<Reading> {
    let text = |s: &Segment<'_>, n: usize| s.text(n, 1, cs).trim().to_owned();
    let mut reading: Option<Reading> = None;
    for s in body {
        let tag = s.tag();
        match tag.as_str() {
            "UCI" => {
                let number = text(s, 1).parse::<u64>().ok()?;
                let action = text(s, 4);
                let mut codes = vec![format!("UCI {action}")];
                let error = text(s, 5);
                if !error.is_empty() {
                    codes.push(format!("UCI 0085 {error}"));
                }
                reading = Some(Reading {
                    document: "contrl",
                    counter: CounterKind::Unb0020,
                    number,
                    outcome: contrl_outcome(&action),
                    codes,
                });
            }
            "UCM" | "UCS" | "UCD" => {
                let Some(r) = reading.as_mut() else { continue };
                let values: Vec<String> = (1..=s.element_count())
                    .map(|n| text(s, n))
                    .filter(|v| !v.is_empty())
                    .collect();
                if tag.as_str() == "UCM" && text(s, 3) == "4" {
                    r.outcome = AckOutcome::Rejected;
                }
                r.codes
                    .push(format!("{} {}", tag.as_str(), values.join(" ")));
            }
            _ => {}
        }
    }
    reading
}

fn contrl_outcome(action: &str) -> AckOutcome {
    match action {
        "7" => AckOutcome::Accepted,
        "8" => AckOutcome::Received,
        _ => AckOutcome::Rejected,
    }
}

/// What matching one reading came to.
#[derive(Debug)]
pub enum Matched {
    /// It answers this document of ours, now recorded.
    Document(Box<Delivery>, Acknowledgement),
    /// We sent nothing under that number (or no longer keep it).
    Unknown(Reading),
}

/// Matches each reading to the delivery the partner's counter gave its number to, and records
/// it there.
pub fn reconcile(
    outbox: &Outbox,
    partner: &str,
    message: MessageId,
    readings: Vec<Reading>,
    now: u64,
) -> Result<Vec<Matched>, outbox::Error> {
    let mut out = Vec::new();
    for r in readings {
        let key = CounterKey::new(OUTBOUND, r.counter);
        let found = outbox
            .delivery_by_number(partner, &key, r.number)?
            .filter(|d| d.ack_expected);
        match found {
            Some(d) => {
                let ack = Acknowledgement {
                    outcome: r.outcome,
                    document: r.document.to_owned(),
                    codes: r.codes,
                    message: Some(message),
                    at: now,
                };
                let d = outbox.acknowledge(d.id, ack.clone())?;
                out.push(Matched::Document(Box::new(d), ack));
            }
            None => out.push(Matched::Unknown(r)),
        }
    }
    Ok(out)
}

/// A document whose acknowledgement is overdue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    /// The partner.
    pub partner: String,
    /// The delivery that carried it.
    pub delivery: u64,
    /// Its outbox key (`out:acme-retail:…:855`).
    pub key: String,
    /// Its interchange control number.
    pub control_number: String,
    /// When it was delivered (ms since the epoch).
    pub delivered_at: u64,
    /// How long the partner has to acknowledge, in ms.
    pub window_ms: u64,
}

/// Delivered documents still without an acknowledgement past their partner's window
/// (`ack_within` in the partner file, [`DEFAULT_ACK_WITHIN`] without one).
pub fn overdue(
    outbox: &Outbox,
    partners: &Partners,
    now: u64,
) -> Result<Vec<Overdue>, outbox::Error> {
    let mut out = Vec::new();
    for d in outbox.awaiting_acknowledgement()? {
        let outbox::DeliveryState::Delivered { at } = d.state else {
            continue;
        };
        let Some(partner) = d.partner.clone() else {
            continue;
        };
        let window = partners
            .get(&partner)
            .and_then(|p| p.ack_within)
            .unwrap_or(DEFAULT_ACK_WITHIN);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        if now.saturating_sub(at) > window_ms {
            out.push(Overdue {
                partner,
                delivery: d.id.get(),
                key: d.key.clone(),
                control_number: d
                    .numbers
                    .first()
                    .map(|n| n.value.to_string())
                    .unwrap_or_default(),
                delivered_at: at,
                window_ms,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isa(rest: &str) -> Vec<u8> {
        let isa = format!(
            "ISA*00*{:10}*00*{:10}*ZZ*{:15}*ZZ*{:15}*261123*1200*^*00501*000000044*0*P*>~",
            "", "", "ACMERETAIL", "WIDGETCO"
        );
        format!("{isa}{rest}IEA*1*000000044~").into_bytes()
    }

    #[test]
    fn a_999_answers_each_group_it_names_by_its_ak9() {
        let bytes = isa("GS*FA*ACMERETAIL*WIDGETCO*20261123*1200*44*X*005010X231A1~\
             ST*999*0001*005010X231A1~AK1*PR*7*005010~AK2*855*0001~IK3*BAK*2**8~IK4*2*587*7*ZZ~\
             IK5*R*5~AK9*R*1*1*0~AK1*PR*8*005010~AK2*855*0001~IK5*A~AK9*A*1*1*1~SE*12*0001~\
             GE*1*44~");
        let ics = edi::parse(&bytes).expect("parses");
        let r = read(&ics[0]);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].counter, r[0].number), (CounterKind::Gs06, 7));
        assert_eq!(r[0].outcome, AckOutcome::Rejected);
        assert_eq!(
            r[0].codes,
            vec!["IK3 BAK 2 8", "IK4 2 587 7 ZZ", "IK5 R 5", "AK9 R 1 1 0"]
        );
        assert_eq!((r[1].number, r[1].outcome), (8, AckOutcome::Accepted));
    }

    #[test]
    fn a_997_is_read_like_a_999_with_its_ak3_ak4_and_ak5() {
        let bytes = isa("GS*FA*ACMERETAIL*WIDGETCO*20261123*1200*45*X*004010~\
             ST*997*0001~AK1*IN*12~AK2*810*0001~AK3*TDS*9**8~AK4*1*610*6*92.82~AK5*R*5~\
             AK9*R*1*1*0~SE*8*0001~GE*1*45~");
        let r = read(&edi::parse(&bytes).expect("parses")[0]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].document, "997");
        assert_eq!((r[0].counter, r[0].number), (CounterKind::Gs06, 12));
        assert_eq!(r[0].outcome, AckOutcome::Rejected);
        assert_eq!(
            r[0].codes,
            vec!["AK3 TDS 9 8", "AK4 1 610 6 92.82", "AK5 R 5", "AK9 R 1 1 0"]
        );
        // Not acknowledgements: nothing read.
        let order = isa("GS*PO*A*B*20261123*1200*46*X*004010~ST*850*0001~SE*2*0001~GE*1*46~");
        assert!(read(&edi::parse(&order).expect("parses")[0]).is_empty());
        assert!(is_acknowledgement("CONTRL") && !is_acknowledgement("850"));
    }

    #[test]
    fn a_ta1_and_a_contrl_answer_interchanges() {
        let bytes = isa("TA1*000000012*261123*1200*R*022~");
        let r = read(&edi::parse(&bytes).expect("parses")[0]);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].counter, r[0].number), (CounterKind::Isa13, 12));
        assert_eq!(r[0].outcome, AckOutcome::Rejected);
        assert_eq!(r[0].codes, vec!["TA1 R", "TA105 022"]);

        let contrl = b"UNB+UNOC:3+5412345000013:14+4012345000009:14+261123:1200+C1'\
UNH+1+CONTRL:D:3:UN'UCI+31+4012345000009:14+5412345000013:14+7'UCM+1+ORDRSP:D:96A:UN+4+13'\
UNT+4+1'UNZ+1+C1'";
        let r = read(&edi::parse(contrl).expect("parses")[0]);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].counter, r[0].number), (CounterKind::Unb0020, 31));
        // The interchange arrived (7) but the message in it was rejected (UCM 4).
        assert_eq!(r[0].outcome, AckOutcome::Rejected);
        assert_eq!(r[0].codes, vec!["UCI 7", "UCM 1 ORDRSP 4 13"]);
    }
}
