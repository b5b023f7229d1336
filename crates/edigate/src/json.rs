//! The JSON shape of a parsed file (documented in the README under "edigate parse").
//!
//! An element is a string when it is simple, an array of component strings when it is
//! composite, and `{"repetitions": [...]}` when it repeats; values are unescaped and decoded to
//! UTF-8 from the interchange's character set.

use serde_json::{Value, json};

use edi::{Charset, Delimiters, Element, EnvelopeIssueKind, Interchange, Message, Party, Segment};

fn byte(b: u8) -> Value {
    Value::String(String::from_utf8_lossy(&[b]).into_owned())
}

fn delimiters(d: &Delimiters) -> Value {
    let mut segment = vec![d.segment()];
    segment.extend_from_slice(d.segment_tail());
    json!({
        "element": byte(d.element()),
        "component": byte(d.component()),
        "repetition": d.repetition().map_or(Value::Null, byte),
        "segment": String::from_utf8_lossy(&segment),
        "release": d.release().map_or(Value::Null, byte),
        "decimal": byte(d.decimal()),
    })
}

fn party(p: &Party) -> Value {
    json!({ "id": p.id, "qualifier": p.qualifier })
}

fn element(e: &Element<'_>, charset: Charset) -> Value {
    if e.is_binary() {
        return Value::String(String::from_utf8_lossy(e.raw()).into_owned());
    }
    let reps: Vec<Element<'_>> = e.repetitions().collect();
    if reps.len() > 1 {
        return json!({ "repetitions": reps.iter().map(|r| simple_or_composite(r, charset)).collect::<Vec<_>>() });
    }
    simple_or_composite(e, charset)
}

fn simple_or_composite(e: &Element<'_>, charset: Charset) -> Value {
    if e.is_composite() {
        Value::Array(
            e.components()
                .map(|c| Value::String(c.text(charset).into_owned()))
                .collect(),
        )
    } else {
        Value::String(e.text(charset).into_owned())
    }
}

/// One segment: tag, byte offset and elements.
pub fn segment(s: &Segment<'_>, charset: Charset) -> Value {
    json!({
        "tag": s.tag().as_str(),
        "offset": s.offset(),
        "elements": s.elements().map(|e| element(&e, charset)).collect::<Vec<_>>(),
    })
}

fn message(m: &Message<'_, '_>, charset: Charset) -> Value {
    json!({
        "type": m.message_type(),
        "control_number": m.control_number(),
        "version": m.version(),
        "offset": m.header().offset(),
        "segments": m.segments().iter().map(|s| segment(s, charset)).collect::<Vec<_>>(),
    })
}

fn issue_kind(k: &EnvelopeIssueKind) -> &'static str {
    match k {
        EnvelopeIssueKind::MissingInterchangeTrailer => "missing_interchange_trailer",
        EnvelopeIssueKind::MissingGroupTrailer => "missing_group_trailer",
        EnvelopeIssueKind::MissingMessageTrailer => "missing_message_trailer",
        EnvelopeIssueKind::UnexpectedTrailer => "unexpected_trailer",
        EnvelopeIssueKind::OutsideMessage => "outside_message",
        EnvelopeIssueKind::MessageOutsideGroup => "message_outside_group",
        EnvelopeIssueKind::MixedGroups => "mixed_groups",
        _ => "other",
    }
}

/// One interchange with its envelope, groups and messages.
pub fn interchange(ic: &Interchange<'_>) -> Value {
    let cs = ic.charset();
    let grouped: Vec<Value> = ic
        .groups()
        .map(|g| {
            json!({
                "functional_id": g.functional_id(),
                "sender": party(&g.sender()),
                "receiver": party(&g.receiver()),
                "control_number": g.control_number(),
                "date": g.date(),
                "time": g.time(),
                "version": g.version(),
                "offset": g.header().offset(),
                "header": segment(g.header(), cs),
                "trailer": g.trailer().map_or(Value::Null, |t| segment(t, cs)),
                "messages": g.messages().map(|m| message(&m, cs)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ungrouped: Vec<Value> = ic
        .messages()
        .filter(|m| m.group().is_none())
        .map(|m| message(&m, cs))
        .collect();
    let mut v = json!({
        "standard": ic.standard().name(),
        "offset": ic.offset(),
        "delimiters": delimiters(ic.delimiters()),
        "charset": cs.name(),
        "syntax_identifier": ic.syntax_identifier(),
        "version": ic.version(),
        "sender": party(&ic.sender()),
        "receiver": party(&ic.receiver()),
        "control_number": ic.control_number(),
        "date": ic.date(),
        "time": ic.time(),
        "acknowledgement_requested": ic.acknowledgement_requested(),
        "test": ic.is_test(),
        "header": segment(ic.header(), cs),
        "trailer": ic.trailer().map_or(Value::Null, |t| segment(t, cs)),
        "service_segments": ic.service_segments().map(|s| segment(s, cs)).collect::<Vec<_>>(),
        "groups": grouped,
        "messages": ungrouped,
    });
    if !ic.issues().is_empty() {
        v["issues"] = ic
            .issues()
            .iter()
            .map(|i| {
                json!({
                    "kind": issue_kind(&i.kind),
                    "message": i.describe(ic.standard()),
                    "segment": i.segment,
                    "tag": i.tag,
                    "offset": i.offset,
                })
            })
            .collect();
    }
    v
}

/// A parse error with its location.
pub fn error(e: &edi::ParseError) -> Value {
    json!({
        "message": e.kind.to_string(),
        "interchange": e.location.interchange,
        "segment": e.location.segment,
        "tag": e.location.tag,
        "offset": e.location.offset,
    })
}
