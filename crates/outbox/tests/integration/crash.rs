//! Kill -9 while enqueuing with control numbers: after every restart the numbers on disk run
//! 1..=n with no gap and no repeat, every number the child saw committed is there, and nothing is
//! left in flight.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use outbox::{CounterKey, CounterKind, DeliveryFilter, DeliveryStateKind, Outbox};

use crate::{T0, new_delivery};

const CHILD_DIR: &str = "OUTBOX_CRASH_CHILD_DIR";
const PARTNER: &str = "acme";

fn counters() -> [CounterKey; 2] {
    [
        CounterKey::new("outbound", CounterKind::Isa13),
        CounterKey::new("outbound", CounterKind::Gs06),
    ]
}

fn render(n: &[u64]) -> Result<Vec<u8>, String> {
    Ok(format!("ISA*{:09}~GS*{}~IEA*1*{:09}~", n[0], n[1], n[0]).into_bytes())
}

/// The child's body: runs only when the parent re-executes this binary with `CHILD_DIR` set.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let outbox = Outbox::open(&dir).unwrap();
    let pid = std::process::id();
    let started = Instant::now();
    let mut stdout = std::io::stdout();
    let mut i = 0u64;
    // Bounded, so an orphaned child stops by itself.
    while started.elapsed() < Duration::from_secs(30) {
        i += 1;
        let now = T0 + i;
        let new = new_delivery("partner:acme", &format!("doc-{pid}-{i}"), now);
        let queued = outbox
            .enqueue_outbound(PARTNER, &counters(), new, render)
            .unwrap();
        writeln!(stdout, "committed {}", queued.delivery.numbers[0].value).unwrap();
        stdout.flush().unwrap();
        // Keep deliveries moving too, so the kill also lands in claims and completions.
        if i.is_multiple_of(3)
            && let Some(d) = outbox.due(now, 1).unwrap().first()
            && outbox.claim(d.id, now, 60_000).unwrap().is_some()
            && i.is_multiple_of(2)
        {
            outbox.complete(d.id, now).unwrap();
        }
    }
}

#[test]
fn numbers_stay_contiguous_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut committed = 0;
    for round in 0..9 {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may print "test crash::crash_child ... " ahead of the first line.
                if let Some((_, n)) = line.rsplit_once("committed ") {
                    let _ = tx.send(n.trim().parse::<u64>().unwrap());
                }
            }
        });
        // Most rounds wait for the child's first commit, so each makes progress, then kill it at
        // a random moment a little later; every third kills it early, while it may still be
        // opening the database and putting deliveries back from the last crash.
        if round % 3 == 2 {
            std::thread::sleep(Duration::from_millis(rng.u64(0..150)));
        } else {
            let first = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the child committed nothing");
            assert_eq!(
                first,
                committed + 1,
                "round {round} (seed {seed}): numbering did not resume"
            );
            committed = first;
            std::thread::sleep(Duration::from_millis(rng.u64(20..250)));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        committed = rx.try_iter().fold(committed, u64::max);

        let outbox = Outbox::open(dir.path()).unwrap();
        let deliveries = outbox
            .list_deliveries(&DeliveryFilter::default(), usize::MAX)
            .unwrap();
        let mut isa = BTreeSet::new();
        for d in &deliveries {
            let values: Vec<u64> = d.numbers.iter().map(|n| n.value).collect();
            assert_eq!(
                values[0], values[1],
                "round {round} (seed {seed}): counters moved apart in {}",
                d.id
            );
            assert!(
                isa.insert(values[0]),
                "round {round} (seed {seed}): number {} used twice",
                values[0]
            );
            assert_eq!(
                outbox.payload(d.id).unwrap().unwrap(),
                render(&values).unwrap()
            );
            assert_ne!(
                d.state.kind(),
                DeliveryStateKind::InFlight,
                "left in flight after reopen"
            );
        }
        let n = isa.len() as u64;
        assert_eq!(
            isa,
            (1..=n).collect(),
            "round {round} (seed {seed}): gap in the numbers"
        );
        assert!(
            n >= committed,
            "round {round} (seed {seed}): {committed} was committed, only {n} on disk"
        );
        assert_eq!(
            outbox
                .counter(PARTNER, &counters()[0])
                .unwrap()
                .unwrap_or(0),
            n
        );
        assert_eq!(
            outbox
                .counter(PARTNER, &counters()[1])
                .unwrap()
                .unwrap_or(0),
            n
        );
        eprintln!("round {round}: {n} numbers on disk, {committed} reported committed");
        committed = n;
    }
}
