//! What is stored: per partner and day a [`DayStats`], per partner and order an [`OrderTrack`],
//! under [`Key`]s; and how one [`Observation`] (a document, a file's validation, an
//! acknowledgement) changes them ([`update`]).
//!
//! An observation touches one day record and the records of the orders it names, all known
//! before anything is read ([`Observation::keys`]), so a store can read them, call [`update`] and
//! write the results back in one transaction.

use std::collections::BTreeMap;

use events::Payload;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::amount::Amount;
use crate::day::{self, DAY_MS, Day};

/// The currency code of order values whose document named none.
pub const NO_CURRENCY: &str = "XXX";

/// Which way a document went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the partner to us.
    Inbound,
    /// From us to the partner.
    Outbound,
}

/// One thing the gateway saw, reduced to what the aggregates need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The partner's id.
    pub partner: String,
    /// When the gateway received or queued it (ms since the epoch): the day of what has no
    /// date of its own, and the clock of response times when documents carry no dates.
    pub at_ms: u64,
    /// What it was.
    pub what: Observed,
}

/// The kinds of [`Observation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// A business document (a canonical event).
    Document {
        /// Which way it went.
        direction: Direction,
        /// Its event type (`order.created`, …).
        event_type: String,
        /// The document's own date, if it has one.
        date: Option<Day>,
        /// What it says about orders.
        detail: Detail,
    },
    /// An interchange of the partner's, validated.
    File {
        /// Refused as a whole (or every message in it).
        rejected: bool,
        /// Accepted, but with errors noted.
        with_errors: bool,
        /// The error codes found (`segment 8`, `element 7`, …), one entry per finding.
        codes: Vec<String>,
    },
    /// The partner's acknowledgement of a document we sent.
    Ack {
        /// When the document was queued to go (ms since the epoch).
        sent_at_ms: u64,
        /// Whether it came after the partner's `ack_within`.
        late: bool,
    },
}

/// What a document says about orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// A new order: its number, value and dates.
    Order {
        /// The buyer's order number.
        number: String,
        /// Its lines.
        lines: u64,
        /// Its value (Σ quantity × unit price over priced lines) and currency.
        value: Option<(String, Amount)>,
        /// The delivery date asked for (the order's, else its lines' latest).
        requested: Option<Day>,
    },
    /// An order changed or cancelled: counted, value unchanged.
    OrderChange,
    /// The seller's response: the delivery date promised (its lines' latest scheduled date).
    Response {
        /// The order answered.
        number: String,
        /// The promised delivery date.
        promised: Option<Day>,
    },
    /// A shipment notice for these orders.
    Shipment {
        /// The orders it fills.
        numbers: Vec<String>,
    },
    /// Nothing about orders (an invoice, an inventory report).
    None,
}

impl Observation {
    /// What a canonical event tells: its type, date, and order facts.
    pub fn of_event(event: &events::Event, direction: Direction, at_ms: u64) -> Observation {
        Observation::of_payload(event.partner(), event.payload(), direction, at_ms)
    }

    /// What a document for or from `partner` tells (an event not yet wrapped, as the ERP hands
    /// over the documents we send).
    pub fn of_payload(
        partner: &str,
        payload: &Payload,
        direction: Direction,
        at_ms: u64,
    ) -> Observation {
        let (date, detail) = match payload {
            Payload::OrderCreated(o) => {
                let mut value: Option<Amount> = None;
                for line in &o.lines {
                    let Some(price) = line.unit_price.as_ref() else {
                        continue;
                    };
                    let line_value = Amount::parse(line.quantity.value.as_str())
                        .zip(Amount::parse(price.as_str()))
                        .and_then(|(q, p)| q.checked_mul(p));
                    if let Some(v) = line_value {
                        value = Some(value.unwrap_or_default().checked_add(v).unwrap_or(v));
                    }
                }
                let requested = o.requested_delivery_date.map(day::of_date).or_else(|| {
                    o.lines
                        .iter()
                        .filter_map(|l| l.requested_delivery_date.map(day::of_date))
                        .max()
                });
                let currency = o.currency.clone().unwrap_or_else(|| NO_CURRENCY.into());
                (
                    o.order_date.map(day::of_date),
                    Detail::Order {
                        number: o.order_number.clone(),
                        lines: o.lines.len() as u64,
                        value: value.map(|v| (currency, v)),
                        requested,
                    },
                )
            }
            Payload::OrderChanged(o) | Payload::OrderCancelled(o) => {
                (o.order_date.map(day::of_date), Detail::OrderChange)
            }
            Payload::OrderResponse(r) => (
                r.response_date.map(day::of_date),
                Detail::Response {
                    number: r.order_number.clone(),
                    promised: r
                        .lines
                        .iter()
                        .filter_map(|l| l.scheduled_delivery_date.map(day::of_date))
                        .max(),
                },
            ),
            Payload::ShipmentNotice(s) => {
                let mut numbers = s.order_numbers.clone();
                for line in s.packages.iter().flat_map(|p| &p.lines) {
                    if let Some(n) = &line.order_number
                        && !numbers.contains(n)
                    {
                        numbers.push(n.clone());
                    }
                }
                (
                    s.ship_date.or(s.estimated_delivery_date).map(day::of_date),
                    Detail::Shipment { numbers },
                )
            }
            Payload::Invoice(i) => (Some(day::of_date(i.invoice_date)), Detail::None),
            _ => (None, Detail::None),
        };
        Observation {
            partner: partner.to_owned(),
            at_ms,
            what: Observed::Document {
                direction,
                event_type: payload.event_type().as_str().to_owned(),
                date,
                detail,
            },
        }
    }

    /// The day it counts on: the document's own date, else when it arrived.
    pub fn day(&self) -> Day {
        match &self.what {
            Observed::Document {
                date: Some(date), ..
            } => *date,
            _ => day::of_millis(self.at_ms),
        }
    }

    /// The order numbers whose records it touches.
    fn order_numbers(&self) -> Vec<&str> {
        match &self.what {
            Observed::Document { detail, .. } => match detail {
                Detail::Order { number, .. } | Detail::Response { number, .. } => {
                    vec![number.as_str()]
                }
                Detail::Shipment { numbers } => {
                    let mut out: Vec<&str> = Vec::new();
                    for n in numbers {
                        if !out.contains(&n.as_str()) {
                            out.push(n);
                        }
                    }
                    out
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The records it changes: its day first, then its orders'.
    pub fn keys(&self) -> Vec<Key> {
        let mut keys = vec![Key::Day {
            partner: self.partner.clone(),
            day: self.day(),
        }];
        keys.extend(self.order_numbers().into_iter().map(|n| Key::Order {
            partner: self.partner.clone(),
            number: n.to_owned(),
        }));
        keys
    }
}

/// Where a record is stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// A partner's [`DayStats`].
    Day {
        /// The partner.
        partner: String,
        /// The day.
        day: Day,
    },
    /// A partner's [`OrderTrack`].
    Order {
        /// The partner.
        partner: String,
        /// The order number.
        number: String,
    },
}

const DAY_TAG: u8 = b'd';
const ORDER_TAG: u8 = b'o';

fn push_str(key: &mut Vec<u8>, s: &str) {
    key.extend_from_slice(&(s.len() as u32).to_be_bytes());
    key.extend_from_slice(s.as_bytes());
}

/// Days as big-endian with the sign bit flipped, so keys sort by day, earlier first.
fn day_bytes(day: Day) -> [u8; 4] {
    ((day as u32) ^ 0x8000_0000).to_be_bytes()
}

impl Key {
    /// The stored form: a tag, the partner (length-prefixed), then the day or the order number;
    /// a partner's day records sort by day.
    pub fn encode(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(32);
        match self {
            Key::Day { partner, day } => {
                key.push(DAY_TAG);
                push_str(&mut key, partner);
                key.extend_from_slice(&day_bytes(*day));
            }
            Key::Order { partner, number } => {
                key.push(ORDER_TAG);
                push_str(&mut key, partner);
                push_str(&mut key, number);
            }
        }
        key
    }

    /// The prefix of every day record, or of one partner's.
    pub fn day_prefix(partner: Option<&str>) -> Vec<u8> {
        let mut key = vec![DAY_TAG];
        if let Some(p) = partner {
            push_str(&mut key, p);
        }
        key
    }

    /// Reads a day record's key back: its partner and day.
    pub fn decode_day(key: &[u8]) -> Result<(String, Day), Error> {
        let bad = || Error::Corrupt(format!("bad day key {key:?}"));
        let rest = key.strip_prefix(&[DAY_TAG]).ok_or_else(bad)?;
        let len = rest
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(bad)? as usize;
        let partner = rest.get(4..4 + len).ok_or_else(bad)?;
        let partner = String::from_utf8(partner.to_vec()).map_err(|_| bad())?;
        let day = rest
            .get(4 + len..)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| (u32::from_be_bytes(b) ^ 0x8000_0000) as i32)
            .ok_or_else(bad)?;
        Ok((partner, day))
    }
}

/// A partner's figures for one day. Every field is a sum, so days add up to any window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DayStats {
    /// Documents from the partner, by event type.
    pub inbound: BTreeMap<String, u64>,
    /// Documents to the partner, by event type.
    pub outbound: BTreeMap<String, u64>,
    /// New orders (either way).
    pub orders: u64,
    /// Their lines.
    pub order_lines: u64,
    /// Their value, by currency.
    pub order_value: BTreeMap<String, Amount>,
    /// Orders whose first shipment notice is dated this day.
    pub shipped: u64,
    /// Of those, the ones with a promised date (from a response).
    pub judged_promised: u64,
    /// Of those, shipped on or before it.
    pub on_time_promised: u64,
    /// Days late, summed over the late ones.
    pub days_late_promised: u64,
    /// Shipped orders with a requested date.
    pub judged_requested: u64,
    /// Of those, shipped on or before it.
    pub on_time_requested: u64,
    /// Days late against the requested date, summed over the late ones.
    pub days_late_requested: u64,
    /// First responses to orders, timed from the order.
    pub responses_timed: u64,
    /// Their times from the order, summed, in milliseconds.
    pub response_ms: u64,
    /// First shipment notices of orders, timed from the order.
    pub shipments_timed: u64,
    /// Their times from the order, summed, in milliseconds.
    pub shipment_ms: u64,
    /// Acknowledgements of our documents received.
    pub acks: u64,
    /// Their times from our document, summed, in milliseconds.
    pub ack_ms: u64,
    /// Of those, the ones after the partner's `ack_within`.
    pub acks_late: u64,
    /// The partner's interchanges validated.
    pub files: u64,
    /// Of those, rejected.
    pub files_rejected: u64,
    /// Of those, accepted with errors noted.
    pub files_with_errors: u64,
    /// Error codes found, with how often.
    pub error_codes: BTreeMap<String, u64>,
}

impl DayStats {
    /// Adds `other`'s figures to these.
    pub fn add(&mut self, other: &DayStats) {
        for (k, n) in &other.inbound {
            *self.inbound.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.outbound {
            *self.outbound.entry(k.clone()).or_default() += n;
        }
        for (c, v) in &other.order_value {
            let sum = self.order_value.entry(c.clone()).or_default();
            *sum = sum.checked_add(*v).unwrap_or(*sum);
        }
        for (k, n) in &other.error_codes {
            *self.error_codes.entry(k.clone()).or_default() += n;
        }
        self.orders += other.orders;
        self.order_lines += other.order_lines;
        self.shipped += other.shipped;
        self.judged_promised += other.judged_promised;
        self.on_time_promised += other.on_time_promised;
        self.days_late_promised += other.days_late_promised;
        self.judged_requested += other.judged_requested;
        self.on_time_requested += other.on_time_requested;
        self.days_late_requested += other.days_late_requested;
        self.responses_timed += other.responses_timed;
        self.response_ms += other.response_ms;
        self.shipments_timed += other.shipments_timed;
        self.shipment_ms += other.shipment_ms;
        self.acks += other.acks;
        self.ack_ms += other.ack_ms;
        self.acks_late += other.acks_late;
        self.files += other.files;
        self.files_rejected += other.files_rejected;
        self.files_with_errors += other.files_with_errors;
    }

    /// Documents either way.
    pub fn documents(&self) -> u64 {
        self.inbound.values().chain(self.outbound.values()).sum()
    }

    /// Documents from the partner.
    pub fn inbound_documents(&self) -> u64 {
        self.inbound.values().sum()
    }
}

/// What is known of one order so far: enough to judge its shipment when the notice comes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderTrack {
    /// The order's own date (else the day it arrived).
    pub ordered: Option<Day>,
    /// When the order arrived (ms since the epoch).
    pub arrived_ms: Option<u64>,
    /// Whether the order document itself was seen (a response may come for one that was not).
    pub dated_by_document: bool,
    /// The delivery date asked for.
    pub requested: Option<Day>,
    /// The delivery date promised, by the latest response.
    pub promised: Option<Day>,
    /// Whether a response was seen.
    pub responded: bool,
    /// Whether a shipment notice was seen (the first one judges the order).
    pub shipped: bool,
}

impl OrderTrack {
    /// Time from the order to an event on `day` at `at_ms`: by the documents' dates when both
    /// have one, else by arrival times; `None` when the order was never seen.
    fn elapsed_ms(&self, day: Option<Day>, at_ms: u64) -> Option<u64> {
        match (self.dated_by_document, self.ordered, day) {
            (true, Some(from), Some(to)) => Some(u64::try_from(to - from).unwrap_or(0) * DAY_MS),
            _ => self.arrived_ms.map(|from| at_ms.saturating_sub(from)),
        }
    }
}

/// A stored record, as its key says.
fn decode<T: for<'de> Deserialize<'de> + Default>(bytes: Option<&[u8]>) -> Result<T, Error> {
    match bytes {
        Some(b) => serde_json::from_slice(b).map_err(|e| Error::Corrupt(e.to_string())),
        None => Ok(T::default()),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Corrupt(e.to_string()))
}

/// Decodes a stored day record.
pub fn decode_day(bytes: &[u8]) -> Result<DayStats, Error> {
    decode(Some(bytes))
}

/// Applies `obs` to its records, given as stored (in the order of [`Observation::keys`], `None`
/// where none is stored yet); returns their new stored forms in the same order.
pub fn update(obs: &Observation, stored: &[Option<&[u8]>]) -> Result<Vec<Vec<u8>>, Error> {
    let mut day: DayStats = decode(stored.first().copied().flatten())?;
    let mut orders: Vec<OrderTrack> = stored
        .iter()
        .skip(1)
        .map(|b| decode(*b))
        .collect::<Result<_, _>>()?;
    apply(obs, &mut day, &mut orders);
    let mut out = vec![encode(&day)?];
    for o in &orders {
        out.push(encode(o)?);
    }
    Ok(out)
}

/// Applies `obs` to its day's figures and its orders' tracks (in the order of
/// [`Observation::keys`]).
pub fn apply(obs: &Observation, day: &mut DayStats, orders: &mut [OrderTrack]) {
    let today = obs.day();
    match &obs.what {
        Observed::File {
            rejected,
            with_errors,
            codes,
        } => {
            day.files += 1;
            day.files_rejected += u64::from(*rejected);
            day.files_with_errors += u64::from(*with_errors && !*rejected);
            for c in codes {
                *day.error_codes.entry(c.clone()).or_default() += 1;
            }
        }
        Observed::Ack { sent_at_ms, late } => {
            day.acks += 1;
            day.ack_ms += obs.at_ms.saturating_sub(*sent_at_ms);
            day.acks_late += u64::from(*late);
        }
        Observed::Document {
            direction,
            event_type,
            date,
            detail,
        } => {
            let counts = match direction {
                Direction::Inbound => &mut day.inbound,
                Direction::Outbound => &mut day.outbound,
            };
            *counts.entry(event_type.clone()).or_default() += 1;
            match detail {
                Detail::Order {
                    lines,
                    value,
                    requested,
                    ..
                } => {
                    day.orders += 1;
                    day.order_lines += lines;
                    if let Some((currency, v)) = value {
                        let sum = day.order_value.entry(currency.clone()).or_default();
                        *sum = sum.checked_add(*v).unwrap_or(*sum);
                    }
                    if let Some(track) = orders.first_mut() {
                        track.ordered = Some(today);
                        track.dated_by_document = date.is_some();
                        track.arrived_ms = Some(obs.at_ms);
                        track.requested = *requested;
                    }
                }
                Detail::Response { promised, .. } => {
                    if let Some(track) = orders.first_mut() {
                        if promised.is_some() {
                            track.promised = *promised;
                        }
                        if !track.responded {
                            track.responded = true;
                            if let Some(ms) = track.elapsed_ms(*date, obs.at_ms) {
                                day.responses_timed += 1;
                                day.response_ms += ms;
                            }
                        }
                    }
                }
                Detail::Shipment { .. } => {
                    for track in orders.iter_mut().filter(|t| !t.shipped) {
                        track.shipped = true;
                        day.shipped += 1;
                        if let Some(ms) = track.elapsed_ms(*date, obs.at_ms) {
                            day.shipments_timed += 1;
                            day.shipment_ms += ms;
                        }
                        if let Some(promised) = track.promised {
                            day.judged_promised += 1;
                            match u64::try_from(today - promised) {
                                Ok(late) if late > 0 => day.days_late_promised += late,
                                _ => day.on_time_promised += 1,
                            }
                        }
                        if let Some(requested) = track.requested {
                            day.judged_requested += 1;
                            match u64::try_from(today - requested) {
                                Ok(late) if late > 0 => day.days_late_requested += late,
                                _ => day.on_time_requested += 1,
                            }
                        }
                    }
                }
                Detail::OrderChange | Detail::None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::day::from_ymd;

    fn doc(event_type: &str, date: Day, detail: Detail, direction: Direction) -> Observation {
        Observation {
            partner: "acme".into(),
            at_ms: 1_000,
            what: Observed::Document {
                direction,
                event_type: event_type.into(),
                date: Some(date),
                detail,
            },
        }
    }

    /// Runs observations through `update` over an in-memory map, as a store would.
    fn run(store: &mut BTreeMap<Vec<u8>, Vec<u8>>, obs: &Observation) {
        let keys: Vec<Vec<u8>> = obs.keys().iter().map(Key::encode).collect();
        let stored: Vec<Option<&[u8]>> = keys
            .iter()
            .map(|k| store.get(k).map(Vec::as_slice))
            .collect();
        let new = update(obs, &stored).unwrap();
        for (k, v) in keys.into_iter().zip(new) {
            store.insert(k, v);
        }
    }

    #[test]
    fn a_shipment_is_judged_against_the_promise_and_the_request() {
        let d = |day| from_ymd(2026, 3, day);
        let mut store = BTreeMap::new();
        let order = Detail::Order {
            number: "PO1".into(),
            lines: 2,
            value: Some(("EUR".into(), Amount::parse("100.5").unwrap())),
            requested: Some(d(10)),
        };
        run(
            &mut store,
            &doc("order.created", d(1), order, Direction::Inbound),
        );
        let response = Detail::Response {
            number: "PO1".into(),
            promised: Some(d(12)),
        };
        run(
            &mut store,
            &doc("order.response", d(2), response, Direction::Outbound),
        );
        let ship = |numbers: Vec<&str>| Detail::Shipment {
            numbers: numbers.into_iter().map(String::from).collect(),
        };
        run(
            &mut store,
            &doc(
                "shipment.notice",
                d(11),
                ship(vec!["PO1"]),
                Direction::Outbound,
            ),
        );
        // A second notice for the same order does not judge it again.
        run(
            &mut store,
            &doc(
                "shipment.notice",
                d(20),
                ship(vec!["PO1"]),
                Direction::Outbound,
            ),
        );

        let day = |n| {
            decode_day(
                &store[&Key::Day {
                    partner: "acme".into(),
                    day: d(n),
                }
                .encode()],
            )
            .unwrap()
        };
        let ordered = day(1);
        assert_eq!((ordered.orders, ordered.order_lines), (1, 2));
        assert_eq!(ordered.order_value["EUR"].to_string(), "100.50");
        let responded = day(2);
        assert_eq!(
            (responded.responses_timed, responded.response_ms),
            (1, DAY_MS)
        );
        let shipped = day(11);
        assert_eq!(
            (
                shipped.shipped,
                shipped.judged_promised,
                shipped.on_time_promised
            ),
            (1, 1, 1)
        );
        assert_eq!(
            (shipped.judged_requested, shipped.on_time_requested),
            (1, 0)
        );
        assert_eq!(shipped.days_late_requested, 1);
        assert_eq!(shipped.shipment_ms, 10 * DAY_MS);
        assert_eq!(day(20).shipped, 0);
        assert_eq!(day(20).outbound["shipment.notice"], 1);
    }

    #[test]
    fn day_keys_sort_by_day_and_read_back() {
        let key = |day| {
            Key::Day {
                partner: "acme".into(),
                day,
            }
            .encode()
        };
        assert!(key(-5) < key(3) && key(3) < key(400));
        assert_eq!(Key::decode_day(&key(-5)).unwrap(), ("acme".into(), -5));
        assert!(key(3).starts_with(&Key::day_prefix(Some("acme"))));
        assert!(
            !Key::Day {
                partner: "acmex".into(),
                day: 3
            }
            .encode()
            .starts_with(&Key::day_prefix(Some("acme")))
        );
        assert!(Key::decode_day(b"o...").is_err());
    }

    #[test]
    fn files_and_acks_count_on_their_arrival_day() {
        let mut store = BTreeMap::new();
        let at = 20_000 * DAY_MS + 5;
        let file = Observation {
            partner: "acme".into(),
            at_ms: at,
            what: Observed::File {
                rejected: false,
                with_errors: true,
                codes: vec!["segment 8".into(), "element 7".into()],
            },
        };
        run(&mut store, &file);
        let ack = Observation {
            partner: "acme".into(),
            at_ms: at,
            what: Observed::Ack {
                sent_at_ms: at - 3_000,
                late: true,
            },
        };
        run(&mut store, &ack);
        let day = decode_day(
            &store[&Key::Day {
                partner: "acme".into(),
                day: 20_000,
            }
            .encode()],
        )
        .unwrap();
        assert_eq!(
            (day.files, day.files_with_errors, day.files_rejected),
            (1, 1, 0)
        );
        assert_eq!(day.error_codes["segment 8"], 1);
        assert_eq!((day.acks, day.ack_ms, day.acks_late), (1, 3_000, 1));
    }
}
