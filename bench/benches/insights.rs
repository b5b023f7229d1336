//! Criterion bench: the partner report over a year of stored aggregates for 50 partners — what
//! `GET /v1/partners/report` does besides counting overdue acknowledgements: read every day
//! record from the outbox's aggregate tree, sum the window, rank, trend, warn.
//!
//! `cargo bench -p edigate-bench --bench insights` (about 15 seconds, most of it storing the
//! year first).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use insights::{Amount, Context, DayStats, Key};

const PARTNERS: u32 = 50;
const DAYS: i32 = 365;
const TODAY: i32 = 20_600;

/// A busy day's figures: every field set, a few currencies and error codes.
fn day_stats(partner: u32, day: i32) -> DayStats {
    let n = u64::from(partner % 7) + (day % 5) as u64 + 1;
    let mut s = DayStats {
        orders: n,
        order_lines: n * 4,
        shipped: n,
        judged_promised: n,
        on_time_promised: n - 1,
        days_late_promised: 2,
        judged_requested: n,
        on_time_requested: n / 2,
        days_late_requested: n,
        responses_timed: n,
        response_ms: n * 86_400_000,
        shipments_timed: n,
        shipment_ms: n * 5 * 86_400_000,
        acks: n * 2,
        ack_ms: n * 60_000,
        acks_late: 1,
        files: n * 3,
        files_rejected: u64::from(day % 9 == 0),
        files_with_errors: 1,
        ..DayStats::default()
    };
    for t in ["order.created", "order.changed"] {
        s.inbound.insert(t.into(), n);
    }
    for t in ["order.response", "shipment.notice", "invoice"] {
        s.outbound.insert(t.into(), n);
    }
    let currency = if partner.is_multiple_of(3) {
        "USD"
    } else {
        "EUR"
    };
    let value = Amount::parse(&format!("{}.{:02}", n * 1234, day % 100)).expect("a decimal");
    s.order_value.insert(currency.into(), value);
    s.error_codes.insert("segment 8".into(), 1);
    s
}

fn bench_report(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let outbox = outbox::Outbox::open(dir.path()).expect("the outbox opens");
    for p in 0..PARTNERS {
        let partner = format!("partner-{p:02}");
        for day in TODAY - DAYS + 1..=TODAY {
            let stats = day_stats(p, day);
            let key = Key::Day {
                partner: partner.clone(),
                day,
            }
            .encode();
            let value = serde_json::to_vec(&stats).expect("serialises");
            outbox
                .apply_aggregate(&key, std::slice::from_ref(&key), 0, |_| {
                    Ok::<_, String>(vec![value.clone()])
                })
                .expect("stored");
        }
    }
    outbox.flush().expect("flushed");
    let ctx = Context {
        today: TODAY,
        since: TODAY - DAYS + 1,
        ..Context::default()
    };
    let mut g = c.benchmark_group("insights");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("report/50-partners-365-days", |b| {
        b.iter(|| {
            let histories = gateway::insights::histories(&outbox, None).expect("read");
            let report = insights::report::report(&histories, black_box(&ctx));
            assert_eq!(report.partners.len(), PARTNERS as usize);
            report
        })
    });
    g.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
