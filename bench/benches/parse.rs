//! Criterion benches: edigate's tokenizer, full parse and streaming reader on both standards,
//! against edifact-rs (EDIFACT) and the `edi` crate (X12), on 4 MB of generated orders.
//!
//! `cargo bench -p edigate-bench` (about two minutes). The files-on-disk comparison with the
//! Python and Node peers, on 10 MB and 200 MB, is `bench/run.sh`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edigate_bench::generate::{DEFAULT_SEED, Standard, generate};
use edigate_bench::work::{self, Tally};

const SAMPLE_BYTES: u64 = 4_000_000;

type Workload = fn(&[u8]) -> anyhow::Result<Tally>;

fn run(data: &[u8], f: Workload) -> Tally {
    f(black_box(data)).expect("the generated sample parses")
}

fn stream(data: &[u8]) -> anyhow::Result<Tally> {
    work::edigate_stream(data)
}

fn bench_standard(c: &mut Criterion, standard: Standard, peers: &[(&str, Workload)]) {
    let (data, _) = generate(standard, SAMPLE_BYTES, DEFAULT_SEED);
    let name = match standard {
        Standard::X12 => "x12-850",
        Standard::Edifact => "edifact-orders",
    };
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(data.len() as u64));
    let ours: [(&str, Workload); 4] = [
        ("edigate/tokenize", work::edigate_tokenize),
        ("edigate/parse", work::edigate_parse),
        ("edigate/parse+values", work::edigate_parse_values),
        ("edigate/stream", stream),
    ];
    for (id, f) in ours.iter().chain(peers) {
        g.bench_function(*id, |b| b.iter(|| run(&data, *f)));
    }
    g.finish();
}

fn x12(c: &mut Criterion) {
    bench_standard(
        c,
        Standard::X12,
        &[
            ("edi/parse", work::x12_edi_parse),
            ("edi/parse+values", work::x12_edi_parse_values),
        ],
    );
}

fn edifact(c: &mut Criterion) {
    bench_standard(
        c,
        Standard::Edifact,
        &[
            ("edifact-rs/tokenize", work::edifact_rs_tokenize),
            ("edifact-rs/parse", work::edifact_rs_parse),
            ("edifact-rs/parse+values", work::edifact_rs_parse_values),
        ],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = x12, edifact
}
criterion_main!(benches);
