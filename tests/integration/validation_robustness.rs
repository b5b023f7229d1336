//! Validation, acknowledgement and translation never panic, whatever the parser lets through:
//! every fixture and corpus file, and thousands of mutations of them, go through parse →
//! validate → acknowledge → translate.

use edigate_tests::{files_in, fixtures, shared_corpus, workspace_root};
use validate::ack::{self, AckPolicy, Sequential, Timestamp, X12Ack};
use validate::{Specs, validate};

/// xorshift64*: a small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to EDI: delimiters, digits, letters, line breaks.
const INTERESTING: &[u8] = b"*~>^:+'?.,\r\n 0123456789AZaz\x00\xff";

fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        if out.is_empty() {
            break;
        }
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            1 => {
                out.remove(at);
            }
            2 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            _ => {
                // Duplicate a run, as a sender repeating a segment would.
                let end = (at + 1 + rng.below(40)).min(out.len());
                let run = out[at..end].to_vec();
                out.splice(at..at, run);
            }
        }
    }
    out
}

fn exercise(data: &[u8], specs: &Specs, mappings: &mapping::Mappings) {
    let when = Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    };
    for ic in edi::Parser::new()
        .lenient(true)
        .interchanges(data)
        .flatten()
    {
        let report = validate(&ic, specs);
        for policy in [
            AckPolicy::contrl_always(),
            AckPolicy::x12(X12Ack::Always999),
        ] {
            // Writing may refuse (a value X12 cannot carry); it must never panic.
            let _ = ack::acknowledge(&ic, &report, &mut Sequential::default(), &when, &policy);
        }
        // Problems are results per message, never a panic.
        let _ = mapping::translate(&ic, "fuzz", mappings);
    }
}

#[test]
fn validation_and_translation_survive_every_file_and_its_mutations() {
    let specs = Specs::load(&workspace_root().join("specs")).expect("specs");
    let mappings = mapping::Mappings::builtin().expect("built-in mappings");
    let mut inputs = Vec::new();
    for dir in ["x12", "edifact", "malformed", "fuzz-regressions"] {
        inputs.extend(files_in(&fixtures().join(dir)));
    }
    inputs.extend(files_in(&workspace_root().join("deploy/examples/inbound")));
    if let Some(corpus) = shared_corpus() {
        for dir in ["x12", "edifact", "malformed"] {
            inputs.extend(files_in(&corpus.join(dir)));
        }
    }
    assert!(inputs.len() > 50, "inputs missing: {}", inputs.len());
    // A fixed seed, so a failure reproduces; EDIGATE_ROBUSTNESS_SEED tries others.
    let seed = std::env::var("EDIGATE_ROBUSTNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0005_EED0_FED1_6A7E);
    let mut rng = Rng(seed);
    let mut runs = 0;
    for path in &inputs {
        let data = std::fs::read(path).expect("read");
        exercise(&data, &specs, &mappings);
        for _ in 0..200 {
            let mutated = mutate(&data, &mut rng);
            let result = std::panic::catch_unwind(|| exercise(&mutated, &specs, &mappings));
            assert!(
                result.is_ok(),
                "validation panicked on a mutation of {}: {:?}",
                path.display(),
                String::from_utf8_lossy(&mutated)
            );
            runs += 1;
        }
    }
    assert!(runs > 10_000, "only {runs} mutations ran");
}
