//! Golden canonical JSON: every business document the project ships (the fixtures in
//! `fixtures/business/` and `fixtures/xml/`, and the examples in `deploy/examples/inbound/`)
//! translated with the
//! built-in mappings, compared with the events checked in under `tests/golden/`. A change in
//! what a mapping produces shows up here as a diff to review; after reviewing it, regenerate
//! with `EDIGATE_UPDATE_GOLDEN=1 cargo test -p edigate-tests golden`.

use std::path::{Path, PathBuf};

use edigate_tests::{files_in, workspace_root};
use serde_json::Value;

use crate::mapping::assert_valid_event;

fn documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = files_in(&root.join("fixtures/business"));
    files.extend(files_in(&root.join("fixtures/xml")));
    files.extend(files_in(&root.join("deploy/examples/inbound")));
    files.retain(|f| {
        f.extension()
            .is_some_and(|e| e == "x12" || e == "edi" || e == "xml")
    });
    files.sort();
    files
}

fn golden_path(doc: &Path) -> PathBuf {
    let name = doc.file_name().expect("a file name").to_string_lossy();
    workspace_root()
        .join("tests/golden")
        .join(format!("{name}.json"))
}

/// The events of one document, as pretty JSON (one array), each checked against the schema.
fn translate(doc: &Path) -> String {
    let bytes = std::fs::read(doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
    let mappings = mapping::Mappings::builtin().expect("the built-in mappings load");
    let mut events = Vec::new();
    if doc.extension().is_some_and(|e| e == "xml") {
        let read = mapping::xml::read(&bytes, &mappings)
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let event = read
            .translate("golden")
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        assert_valid_event(&event);
        events.push(serde_json::to_value(&event).expect("serialises"));
    } else {
        for ic in edi::Parser::new()
            .parse(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()))
        {
            for result in mapping::translate(&ic, "golden", &mappings) {
                let event = result.unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
                assert_valid_event(&event);
                events.push(serde_json::to_value(&event).expect("serialises"));
            }
        }
    }
    assert!(!events.is_empty(), "{}: no events", doc.display());
    let mut text = serde_json::to_string_pretty(&Value::Array(events)).expect("serialises");
    text.push('\n');
    text
}

#[test]
fn every_business_document_translates_to_its_golden_events() {
    let docs = documents();
    assert!(
        docs.len() >= 9,
        "expected the business fixtures and examples: {docs:?}"
    );
    let update = std::env::var_os("EDIGATE_UPDATE_GOLDEN").is_some();
    let mut differ = Vec::new();
    for doc in &docs {
        let actual = translate(doc);
        let path = golden_path(doc);
        if update {
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, &actual).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} has no golden file {}: review the events and run with EDIGATE_UPDATE_GOLDEN=1",
                doc.display(),
                path.display()
            )
        });
        if expected != actual {
            let first = expected
                .lines()
                .zip(actual.lines())
                .position(|(e, a)| e != a)
                .unwrap_or(expected.lines().count().min(actual.lines().count()));
            differ.push(format!(
                "{}: differs from {} at line {}:\n  golden: {}\n  now:    {}",
                doc.display(),
                path.display(),
                first + 1,
                expected.lines().nth(first).unwrap_or("<end>"),
                actual.lines().nth(first).unwrap_or("<end>")
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{}\n(after review: EDIGATE_UPDATE_GOLDEN=1 cargo test -p edigate-tests golden)",
        differ.join("\n")
    );
}

#[test]
fn every_golden_file_has_its_document() {
    let docs: Vec<PathBuf> = documents().iter().map(|d| golden_path(d)).collect();
    for golden in files_in(&workspace_root().join("tests/golden")) {
        assert!(
            docs.contains(&golden),
            "{} belongs to no document",
            golden.display()
        );
    }
}
