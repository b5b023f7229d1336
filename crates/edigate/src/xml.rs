//! The XML shape of a parsed file, for downstream systems that want XML (documented in the
//! README under "edigate parse"): one element per interchange, group, message, segment, data
//! element, component and repetition, each carrying its position, so an XML consumer addresses
//! `BEG03` as `segment[@tag='BEG']/element[@position='3']`. Values are unescaped and decoded to
//! UTF-8, then escaped for XML by the writer; empty data elements are left out (their positions
//! say where they were).

use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use edi::{Charset, Element, Interchange, Party, Segment};

/// Writes XML with two-space indentation.
pub struct XmlOut<W: Write> {
    writer: Writer<W>,
}

type Result = std::io::Result<()>;

impl<W: Write> XmlOut<W> {
    /// Starts the document: the declaration and the `<edi>` root.
    pub fn start(out: W) -> std::io::Result<Self> {
        let mut writer = Writer::new_with_indent(out, b' ', 2);
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer.write_event(Event::Start(BytesStart::new("edi")))?;
        Ok(XmlOut { writer })
    }

    /// One interchange, with its groups, messages and service segments in file order.
    pub fn interchange(&mut self, ic: &Interchange<'_>) -> Result {
        let cs = ic.charset();
        let mut start = BytesStart::new("interchange");
        let offset = ic.offset().to_string();
        let sender = ic.sender();
        let receiver = ic.receiver();
        let control = ic.control_number();
        let version = ic.version();
        start.push_attribute(("standard", ic.standard().name()));
        start.push_attribute(("offset", offset.as_str()));
        start.push_attribute(("version", version.as_str()));
        start.push_attribute(("control-number", control.as_str()));
        push_party(&mut start, "sender", &sender);
        push_party(&mut start, "receiver", &receiver);
        self.writer.write_event(Event::Start(start))?;

        self.segment(ic.header(), cs)?;
        for s in ic.service_segments() {
            self.segment(s, cs)?;
        }
        for g in ic.groups() {
            let mut start = BytesStart::new("group");
            let (id, control, version) = (g.functional_id(), g.control_number(), g.version());
            start.push_attribute(("functional-id", id.as_str()));
            start.push_attribute(("control-number", control.as_str()));
            start.push_attribute(("version", version.as_str()));
            self.writer.write_event(Event::Start(start))?;
            self.segment(g.header(), cs)?;
            for m in g.messages() {
                self.message(&m, cs)?;
            }
            if let Some(t) = g.trailer() {
                self.segment(t, cs)?;
            }
            self.writer
                .write_event(Event::End(BytesEnd::new("group")))?;
        }
        for m in ic.messages().filter(|m| m.group().is_none()) {
            self.message(&m, cs)?;
        }
        if let Some(t) = ic.trailer() {
            self.segment(t, cs)?;
        }
        self.writer
            .write_event(Event::End(BytesEnd::new("interchange")))
    }

    /// Where the input broke off, after the interchanges read before it.
    pub fn error(&mut self, e: &edi::ParseError) -> Result {
        let mut start = BytesStart::new("error");
        let (interchange, offset) = (
            e.location.interchange.to_string(),
            e.location.offset.to_string(),
        );
        start.push_attribute(("interchange", interchange.as_str()));
        let segment = e.location.segment.map(|s| s.to_string());
        if let Some(segment) = &segment {
            start.push_attribute(("segment", segment.as_str()));
        }
        start.push_attribute(("offset", offset.as_str()));
        self.writer.write_event(Event::Start(start))?;
        self.writer
            .write_event(Event::Text(BytesText::new(&e.kind.to_string())))?;
        self.writer.write_event(Event::End(BytesEnd::new("error")))
    }

    /// Closes the root and hands the output back.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.writer.write_event(Event::End(BytesEnd::new("edi")))?;
        let mut out = self.writer.into_inner();
        out.write_all(b"\n")?;
        Ok(out)
    }

    fn message(&mut self, m: &edi::Message<'_, '_>, cs: Charset) -> Result {
        let mut start = BytesStart::new("message");
        let (kind, control, version) = (m.message_type(), m.control_number(), m.version());
        start.push_attribute(("type", kind.as_str()));
        start.push_attribute(("control-number", control.as_str()));
        start.push_attribute(("version", version.as_str()));
        self.writer.write_event(Event::Start(start))?;
        for s in m.segments() {
            self.segment(s, cs)?;
        }
        self.writer
            .write_event(Event::End(BytesEnd::new("message")))
    }

    fn segment(&mut self, s: &Segment<'_>, cs: Charset) -> Result {
        let mut start = BytesStart::new("segment");
        let offset = s.offset().to_string();
        start.push_attribute(("tag", s.tag().as_str()));
        start.push_attribute(("offset", offset.as_str()));
        let elements: Vec<Element<'_>> = s.elements().collect();
        if !elements.iter().any(|e| has_text(e, cs)) {
            return self.writer.write_event(Event::Empty(start));
        }
        self.writer.write_event(Event::Start(start))?;
        for (i, e) in elements.iter().enumerate() {
            if has_text(e, cs) {
                self.element(e, i + 1, cs)?;
            }
        }
        self.writer
            .write_event(Event::End(BytesEnd::new("segment")))
    }

    fn element(&mut self, e: &Element<'_>, position: usize, cs: Charset) -> Result {
        let mut start = BytesStart::new("element");
        let position = position.to_string();
        start.push_attribute(("position", position.as_str()));
        if e.is_binary() {
            return self.text_element(start, &String::from_utf8_lossy(e.raw()));
        }
        let reps: Vec<Element<'_>> = e.repetitions().collect();
        if reps.len() > 1 {
            self.writer.write_event(Event::Start(start))?;
            for (i, r) in reps.iter().enumerate() {
                let mut rep = BytesStart::new("repetition");
                let n = (i + 1).to_string();
                rep.push_attribute(("position", n.as_str()));
                self.simple_or_composite(rep, r, cs)?;
            }
            return self
                .writer
                .write_event(Event::End(BytesEnd::new("element")));
        }
        self.simple_or_composite(start, e, cs)
    }

    fn simple_or_composite(
        &mut self,
        start: BytesStart<'_>,
        e: &Element<'_>,
        cs: Charset,
    ) -> Result {
        if !e.is_composite() {
            return self.text_element(start, &e.text(cs));
        }
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        self.writer.write_event(Event::Start(start))?;
        for (i, c) in e.components().enumerate() {
            let text = c.text(cs);
            if text.is_empty() {
                continue;
            }
            let mut comp = BytesStart::new("component");
            let n = (i + 1).to_string();
            comp.push_attribute(("position", n.as_str()));
            self.text_element(comp, &text)?;
        }
        self.writer.write_event(Event::End(BytesEnd::new(name)))
    }

    fn text_element(&mut self, start: BytesStart<'_>, text: &str) -> Result {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        self.writer.write_event(Event::Start(start))?;
        self.writer.write_event(Event::Text(BytesText::new(text)))?;
        self.writer.write_event(Event::End(BytesEnd::new(name)))
    }
}

/// Whether an element holds any text: one made only of separators (an X12 ISA11 or ISA16 read
/// back, `::` in EDIFACT) is left out like an empty one.
fn has_text(e: &Element<'_>, cs: Charset) -> bool {
    if e.is_binary() {
        return !e.raw().is_empty();
    }
    e.repetitions()
        .any(|r| r.components().any(|c| !c.text(cs).is_empty()))
}

fn push_party(start: &mut BytesStart<'_>, role: &str, p: &Party) {
    start.push_attribute((role, p.id.as_str()));
    if !p.qualifier.is_empty() {
        start.push_attribute((format!("{role}-qualifier").as_str(), p.qualifier.as_str()));
    }
}
