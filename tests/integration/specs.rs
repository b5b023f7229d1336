//! The spec directories load, cover the messages the gateway supports, and agree with real files:
//! every segment the corpus uses in a supported message is defined, with no more elements than
//! the definition has.

use std::collections::BTreeSet;

use edigate_tests::{files_in, shared_corpus, workspace_root};
use spec::{Item, Node, SpecSet, Syntax};

const X12_MESSAGES: &[&str] = &["810", "846", "850", "855", "856", "860", "997"];
const EDIFACT_MESSAGES: &[&str] = &[
    "APERAK", "CONTRL", "DESADV", "INVOIC", "INVRPT", "ORDCHG", "ORDERS", "ORDRSP",
];

fn load(rel: &str) -> SpecSet {
    let dir = workspace_root().join("specs").join(rel);
    SpecSet::load(&dir).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn tags_in(nodes: &[Node], out: &mut BTreeSet<String>) {
    for n in nodes {
        match n {
            Node::Segment { tag, .. } => {
                out.insert(tag.clone());
            }
            Node::Loop { children, .. } => tags_in(children, out),
        }
    }
}

#[test]
fn every_version_loads_with_its_messages() {
    let sets = [
        ("x12/004010", Syntax::X12, X12_MESSAGES, None),
        ("x12/005010", Syntax::X12, X12_MESSAGES, Some("999")),
        ("edifact/D96A", Syntax::Edifact, EDIFACT_MESSAGES, None),
        ("edifact/D01B", Syntax::Edifact, EDIFACT_MESSAGES, None),
    ];
    for (rel, syntax, messages, extra) in sets {
        let set = load(rel);
        assert_eq!(set.syntax(), syntax, "{rel}");
        for id in messages.iter().chain(extra.iter()) {
            let m = set
                .message(id)
                .unwrap_or_else(|| panic!("{rel}: message {id} missing"));
            let mut tags = BTreeSet::new();
            tags_in(&m.structure, &mut tags);
            assert!(tags.len() >= 3, "{rel} {id}: structure too small: {tags:?}");
            let (header, trailer) = match syntax {
                Syntax::X12 => ("ST", "SE"),
                Syntax::Edifact => ("UNH", "UNT"),
            };
            assert_eq!(
                m.structure.first().map(Node::trigger),
                Some(header),
                "{rel} {id} starts with {header}"
            );
            assert_eq!(
                m.structure.last().map(Node::trigger),
                Some(trailer),
                "{rel} {id} ends with {trailer}"
            );
        }
        // The envelope segments are defined in every version.
        let envelope: &[&str] = match syntax {
            Syntax::X12 => &["ISA", "IEA", "GS", "GE", "ST", "SE", "TA1"],
            Syntax::Edifact => &["UNB", "UNZ", "UNG", "UNE", "UNH", "UNT"],
        };
        for tag in envelope {
            assert!(
                set.segment(tag).is_some(),
                "{rel}: envelope segment {tag} missing"
            );
        }
    }
}

/// Segments the corpus sends that a version's spec does not know, or sends with more elements
/// than it defines.
#[test]
fn specs_cover_what_real_files_send() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let x12_4010 = load("x12/004010");
    let x12_5010 = load("x12/005010");
    let d96a = load("edifact/D96A");
    let d01b = load("edifact/D01B");
    let mut problems = Vec::new();
    let mut checked = 0;
    for dir in ["x12", "edifact"] {
        for path in files_in(&corpus.join(dir)) {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let Ok(ics) = edi::Parser::new().lenient(true).parse(&data) else {
                continue;
            };
            for ic in &ics {
                for m in ic.messages() {
                    let version = m.version();
                    let set = match (ic.standard(), version.as_str()) {
                        (edi::Standard::X12, v) if v.starts_with("00401") => &x12_4010,
                        (edi::Standard::X12, v) if v.starts_with("00501") => &x12_5010,
                        (edi::Standard::Edifact, v) if v.starts_with("D:96A") => &d96a,
                        (edi::Standard::Edifact, v) if v.starts_with("D:01B") => &d01b,
                        _ => continue,
                    };
                    let Some(def) = set.message(&m.message_type()) else {
                        continue;
                    };
                    checked += 1;
                    let mut known = BTreeSet::new();
                    tags_in(&def.structure, &mut known);
                    for s in m.segments() {
                        let tag = s.tag().to_string();
                        let file = path
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        if !known.contains(&tag) {
                            problems.push(format!(
                                "{file}: {} {}: {tag} not in the message structure",
                                set.version(),
                                def.id
                            ));
                            continue;
                        }
                        let Some(seg) = set.segment(&tag) else {
                            continue;
                        };
                        if s.element_count() > seg.elements.len() {
                            problems.push(format!(
                                "{file}: {tag} has {} elements, spec {} defines {}",
                                s.element_count(),
                                set.version(),
                                seg.elements.len()
                            ));
                        }
                        for (i, (e, pos)) in s.elements().zip(&seg.elements).enumerate() {
                            if let Item::Composite(id) = &pos.item {
                                let n =
                                    e.repetitions().next().map_or(0, |r| r.components().count());
                                let def = set.composite(id).map_or(0, |c| c.components.len());
                                if n > def {
                                    problems.push(format!(
                                        "{file}: {tag}{:02} has {n} components, {id} defines {def}",
                                        i + 1
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "expected corpus messages in supported versions, checked {checked}"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A partner's overlay replaces definitions whole and adds new ones; the base is untouched.
#[test]
fn an_overlay_extends_and_relaxes_a_spec() {
    let dir = edigate_tests::scratch_dir("spec_overlay");
    std::fs::write(
        dir.join("spec.toml"),
        "syntax = \"x12\"\nversion = \"004010\"\n",
    )
    .expect("write");
    // The partner sends BEG01 code 99 (not in the standard's list) and a private segment ZZZ
    // inside its 850s.
    std::fs::write(
        dir.join("elements.toml"),
        "[353]\nname = \"Transaction Set Purpose Code (partner list)\"\ntype = \"ID\"\nmin = 2\nmax = 2\ncodes = { \"00\" = \"Original\", \"99\" = \"Partner test order\" }\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("segments.toml"),
        "[ZZZ]\nname = \"Partner note\"\nelements = [\"352 O\"]\n",
    )
    .expect("write");
    let base_dir = workspace_root().join("specs/x12/004010");
    let base = SpecSet::load(&base_dir).expect("base");
    let layered = SpecSet::load_layered(&base_dir, std::slice::from_ref(&dir)).expect("layered");
    assert!(!base.element("353").expect("353").codes.contains_key("99"));
    let codes = &layered.element("353").expect("353").codes;
    assert!(
        codes.contains_key("99") && codes.len() == 2,
        "the overlay's list replaces the base's"
    );
    assert!(base.segment("ZZZ").is_none());
    assert_eq!(layered.segment("ZZZ").map(|s| s.elements.len()), Some(1));
    // Everything else is the base's.
    assert_eq!(layered.message_ids(), base.message_ids());
    assert_eq!(layered.segment("BEG"), base.segment("BEG"));

    // A broken overlay names its file, line and column and says what to write.
    std::fs::write(
        dir.join("segments.toml"),
        "[ZZZ]\nname = \"Partner note\"\nelements = [\"352 Q\"]\n",
    )
    .expect("write");
    let err = SpecSet::load_layered(&base_dir, std::slice::from_ref(&dir)).expect_err("bad usage");
    let text = err.to_string();
    assert!(
        text.contains("segments.toml")
            && text.contains("usage \"Q\"")
            && text.contains("M (mandatory)"),
        "{text}"
    );
    std::fs::write(dir.join("segments.toml"), "[ZZZ]\nname = 5\n").expect("write");
    let text = SpecSet::load_layered(&base_dir, &[dir])
        .expect_err("bad TOML")
        .to_string();
    assert!(text.contains("segments.toml:2:"), "{text}");
}
