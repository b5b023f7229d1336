//! The report: a window of days summed per partner, the share of business, the trend against the
//! partner's own history, and the early warnings.
//!
//! # Early warnings
//!
//! Judged at `today` over the whole history, whatever the report's window:
//!
//! - **Volume drop**: the partner's new orders per week over the last `recent_weeks` (4) are
//!   below `drop_ratio` (0.6) of its usual week, the median of the `baseline_weeks` (12) weeks
//!   before them — and that usual week had at least `min_usual_weekly_orders` (2) orders, so a
//!   partner that orders now and then is not flagged for a quiet month.
//! - **Quiet**: the partner has sent nothing for longer than `quiet_factor` (3) times its usual
//!   gap between the days it sends (the median gap over the `baseline_weeks` before its last
//!   document), and at least `min_quiet_days` (7). It needs three sending days to know what
//!   usual is. A quiet partner is not also flagged for its volume: the silence says more.
//!   Partners whose silence is watched by a configured `expect_within` are left to that.
//!
//! Days are the documents' own dates where they have one, so both work on history loaded after
//! the fact.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::day::{self, Day};
use crate::record::DayStats;

/// When a partner is flagged; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// The recent weeks compared with the usual ones.
    pub recent_weeks: u32,
    /// The weeks before them that make the usual week.
    pub baseline_weeks: u32,
    /// Recent weekly orders below this share of the usual week are a drop.
    pub drop_ratio: f64,
    /// A usual week with fewer orders than this is never judged.
    pub min_usual_weekly_orders: f64,
    /// Silence longer than this many usual gaps is flagged…
    pub quiet_factor: f64,
    /// …if it is also at least this many days.
    pub min_quiet_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            recent_weeks: 4,
            baseline_weeks: 12,
            drop_ratio: 0.6,
            min_usual_weekly_orders: 2.0,
            quiet_factor: 3.0,
            min_quiet_days: 7,
        }
    }
}

/// A partner's days, as stored.
pub type History = BTreeMap<Day, DayStats>;

/// What a report is made of besides the stored days.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The day the report is made (warnings are judged at it; the window ends with it).
    pub today: Day,
    /// The window's first day.
    pub since: Day,
    /// Partners' display names, by id.
    pub names: BTreeMap<String, String>,
    /// Documents whose acknowledgement is overdue now, by partner.
    pub overdue_acks: BTreeMap<String, u64>,
    /// Partners whose silence `expect_within` watches.
    pub watched: BTreeSet<String>,
    /// When to warn.
    pub thresholds: Thresholds,
}

/// The report over every partner given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The window's first day (`YYYY-MM-DD`).
    pub since: String,
    /// Its last day, the day the report was made.
    pub until: String,
    /// Its length in days.
    pub days: u32,
    /// Per partner, by id.
    pub partners: Vec<PartnerReport>,
    /// Partners ranked by order value, per currency.
    pub share: Vec<CurrencyShare>,
    /// The early warnings standing at `until`.
    pub warnings: Vec<Warning>,
}

/// One partner's figures over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerReport {
    /// Its id.
    pub partner: String,
    /// Its display name (empty when unknown).
    pub name: String,
    /// How much.
    pub volume: Volume,
    /// Delivery dates kept.
    pub promises: Promises,
    /// How fast.
    pub responsiveness: Responsiveness,
    /// How clean its files are.
    pub quality: Quality,
}

/// Volume over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Documents either way.
    pub documents: u64,
    /// Documents from the partner, by event type.
    pub inbound: BTreeMap<String, u64>,
    /// Documents to the partner, by event type.
    pub outbound: BTreeMap<String, u64>,
    /// New orders.
    pub orders: u64,
    /// Their lines.
    pub order_lines: u64,
    /// Their value, by currency.
    pub order_value: BTreeMap<String, Amount>,
    /// Documents per day of the window.
    pub documents_per_day: f64,
    /// Order lines per day of the window.
    pub lines_per_day: f64,
    /// Documents per week of the window.
    pub documents_per_week: f64,
    /// Order lines per week of the window.
    pub lines_per_week: f64,
    /// New orders per week lately, against the partner's usual week.
    pub trend: Trend,
    /// Week by week (seven-day blocks ending with the window's last day), oldest first.
    pub weekly: Vec<Week>,
}

/// Recent weekly orders against the partner's own history (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// New orders per week over the recent weeks.
    pub recent_weekly_orders: f64,
    /// The median week of the baseline weeks before them.
    pub usual_weekly_orders: f64,
    /// `recent / usual − 1` (−0.5: half the usual); `None` without a usual week.
    pub change: Option<f64>,
}

/// One week of a partner's volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Week {
    /// Its first day.
    pub start: String,
    /// Documents either way.
    pub documents: u64,
    /// New orders.
    pub orders: u64,
    /// Their lines.
    pub order_lines: u64,
    /// Shipments judged against a promise, and how many were on time.
    pub judged_promised: u64,
    /// Of those, on time.
    pub on_time_promised: u64,
}

/// Delivery dates kept: the first shipment notice of each order against the date promised in our
/// response and against the date the order asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promises {
    /// Orders whose first shipment notice falls in the window.
    pub shipped: u64,
    /// Against the promised date.
    pub promised: Keeping,
    /// Against the requested date.
    pub requested: Keeping,
}

/// How well one kind of date was kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keeping {
    /// Shipments that had such a date.
    pub judged: u64,
    /// Shipped on or before it.
    pub on_time: u64,
    /// `on_time / judged`; `None` when nothing was judged.
    pub on_time_rate: Option<f64>,
    /// Days late, averaged over the late ones; `None` when none was late.
    pub avg_days_late: Option<f64>,
}

/// How fast documents follow each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Responsiveness {
    /// Orders answered by a first response in the window.
    pub responses: u64,
    /// Hours from the order to that response, on average (by document dates where both have
    /// one, else arrival times).
    pub avg_response_hours: Option<f64>,
    /// Orders whose first shipment notice came in the window, timed.
    pub shipments: u64,
    /// Hours from the order to that notice, on average.
    pub avg_shipment_hours: Option<f64>,
    /// Acknowledgements of our documents received.
    pub acks: u64,
    /// Seconds from our document to its acknowledgement, on average.
    pub avg_ack_seconds: Option<f64>,
    /// Acknowledgements that came after the partner's `ack_within`.
    pub acks_late: u64,
    /// Documents whose acknowledgement is overdue now.
    pub acks_overdue: u64,
}

/// The partner's files as validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Interchanges validated.
    pub files: u64,
    /// Rejected.
    pub rejected: u64,
    /// Accepted with errors noted.
    pub with_errors: u64,
    /// `rejected / files`.
    pub rejected_share: Option<f64>,
    /// `with_errors / files`.
    pub with_errors_share: Option<f64>,
    /// Error codes found, with how often.
    pub error_codes: BTreeMap<String, u64>,
}

/// Partners ranked by order value in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrencyShare {
    /// The currency.
    pub currency: String,
    /// All partners' orders together.
    pub total: Amount,
    /// Largest first.
    pub ranking: Vec<Share>,
}

/// One partner's share of business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// The partner.
    pub partner: String,
    /// Its order value.
    pub value: Amount,
    /// Its share of the total.
    pub share: f64,
    /// Its share and that of every partner ranked above it.
    pub cumulative: f64,
}

/// Which early warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Orders well below the partner's usual level.
    VolumeDrop,
    /// Nothing sent for longer than usual.
    Quiet,
}

/// An early warning about a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The partner.
    pub partner: String,
    /// Which.
    pub kind: WarningKind,
    /// In words.
    pub message: String,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The sum of a partner's days in `[from, to]`.
fn sum(history: &History, from: Day, to: Day) -> DayStats {
    let mut total = DayStats::default();
    if from <= to {
        for stats in history.range(from..=to).map(|(_, s)| s) {
            total.add(stats);
        }
    }
    total
}

/// New orders in each of `weeks` seven-day blocks ending on `last`, oldest first.
fn weekly_orders(history: &History, last: Day, weeks: u32) -> Vec<f64> {
    (0..weeks as i32)
        .rev()
        .map(|w| {
            let end = last - 7 * w;
            history
                .range(end - 6..=end)
                .map(|(_, s)| s.orders)
                .sum::<u64>() as f64
        })
        .collect()
}

/// The trend at `today`: recent weekly orders and the usual week before them.
pub fn trend(history: &History, today: Day, t: &Thresholds) -> Trend {
    let recent = weekly_orders(history, today, t.recent_weeks);
    let recent_weekly_orders = recent.iter().sum::<f64>() / f64::from(t.recent_weeks.max(1));
    let mut baseline = weekly_orders(history, today - 7 * t.recent_weeks as i32, t.baseline_weeks);
    let usual_weekly_orders = median(&mut baseline);
    Trend {
        recent_weekly_orders,
        usual_weekly_orders,
        change: (usual_weekly_orders > 0.0)
            .then(|| recent_weekly_orders / usual_weekly_orders - 1.0),
    }
}

/// The early warnings about one partner at `today`.
pub fn warnings(partner: &str, history: &History, ctx: &Context) -> Vec<Warning> {
    let t = &ctx.thresholds;
    let mut out = Vec::new();
    let sending: Vec<Day> = history
        .range(..=ctx.today)
        .filter(|(_, s)| s.inbound_documents() > 0)
        .map(|(d, _)| *d)
        .collect();
    if let Some(&last) = sending.last()
        && !ctx.watched.contains(partner)
    {
        let from = last - 7 * t.baseline_weeks as i32;
        let recent: Vec<Day> = sending.iter().copied().filter(|d| *d >= from).collect();
        let mut gaps: Vec<f64> = recent.windows(2).map(|w| f64::from(w[1] - w[0])).collect();
        if gaps.len() >= 2 {
            let usual_gap = median(&mut gaps);
            let quiet_days = ctx.today - last;
            let limit = (t.quiet_factor * usual_gap).max(f64::from(t.min_quiet_days));
            if f64::from(quiet_days) > limit {
                out.push(Warning {
                    partner: partner.to_owned(),
                    kind: WarningKind::Quiet,
                    message: format!(
                        "partner {partner} has sent nothing for {quiet_days} days (since {}); it \
                         usually sends every {usual_gap} days",
                        day::iso(last)
                    ),
                });
            }
        }
    }
    let trend = trend(history, ctx.today, t);
    if out.is_empty()
        && trend.usual_weekly_orders >= t.min_usual_weekly_orders
        && trend.recent_weekly_orders < t.drop_ratio * trend.usual_weekly_orders
    {
        out.push(Warning {
            partner: partner.to_owned(),
            kind: WarningKind::VolumeDrop,
            message: format!(
                "partner {partner} ordered {:.1} times a week over the last {} weeks, against \
                 {:.1} usually ({:+.0}%)",
                trend.recent_weekly_orders,
                t.recent_weeks,
                trend.usual_weekly_orders,
                trend.change.unwrap_or(0.0) * 100.0
            ),
        });
    }
    out
}

/// One partner's figures over the window.
pub fn partner_report(partner: &str, history: &History, ctx: &Context) -> PartnerReport {
    let total = sum(history, ctx.since, ctx.today);
    let days = (ctx.today - ctx.since + 1).max(1);
    let weeks = f64::from(days) / 7.0;
    let documents = total.documents();
    let weekly = (0..(days + 6) / 7)
        .rev()
        .map(|w| {
            let end = ctx.today - 7 * w;
            let start = (end - 6).max(ctx.since);
            let s = sum(history, start, end);
            Week {
                start: day::iso(start),
                documents: s.documents(),
                orders: s.orders,
                order_lines: s.order_lines,
                judged_promised: s.judged_promised,
                on_time_promised: s.on_time_promised,
            }
        })
        .collect();
    let keeping = |judged: u64, on_time: u64, days_late: u64| Keeping {
        judged,
        on_time,
        on_time_rate: ratio(on_time, judged),
        avg_days_late: ratio(days_late, judged - on_time),
    };
    let hours = |ms: u64, n: u64| ratio(ms, n).map(|v| v / 3_600_000.0);
    PartnerReport {
        partner: partner.to_owned(),
        name: ctx.names.get(partner).cloned().unwrap_or_default(),
        volume: Volume {
            documents,
            inbound: total.inbound.clone(),
            outbound: total.outbound.clone(),
            orders: total.orders,
            order_lines: total.order_lines,
            order_value: total.order_value.clone(),
            documents_per_day: documents as f64 / f64::from(days),
            lines_per_day: total.order_lines as f64 / f64::from(days),
            documents_per_week: documents as f64 / weeks,
            lines_per_week: total.order_lines as f64 / weeks,
            trend: trend(history, ctx.today, &ctx.thresholds),
            weekly,
        },
        promises: Promises {
            shipped: total.shipped,
            promised: keeping(
                total.judged_promised,
                total.on_time_promised,
                total.days_late_promised,
            ),
            requested: keeping(
                total.judged_requested,
                total.on_time_requested,
                total.days_late_requested,
            ),
        },
        responsiveness: Responsiveness {
            responses: total.responses_timed,
            avg_response_hours: hours(total.response_ms, total.responses_timed),
            shipments: total.shipments_timed,
            avg_shipment_hours: hours(total.shipment_ms, total.shipments_timed),
            acks: total.acks,
            avg_ack_seconds: ratio(total.ack_ms, total.acks).map(|v| v / 1000.0),
            acks_late: total.acks_late,
            acks_overdue: ctx.overdue_acks.get(partner).copied().unwrap_or(0),
        },
        quality: Quality {
            files: total.files,
            rejected: total.files_rejected,
            with_errors: total.files_with_errors,
            rejected_share: ratio(total.files_rejected, total.files),
            with_errors_share: ratio(total.files_with_errors, total.files),
            error_codes: total.error_codes,
        },
    }
}

/// The report over `histories` (partner → days); every named partner appears, with or without
/// history.
pub fn report(histories: &BTreeMap<String, History>, ctx: &Context) -> Report {
    let empty = History::new();
    let ids: BTreeSet<&String> = histories.keys().chain(ctx.names.keys()).collect();
    let partners: Vec<PartnerReport> = ids
        .iter()
        .map(|id| partner_report(id, histories.get(*id).unwrap_or(&empty), ctx))
        .collect();
    let warnings = ids
        .iter()
        .flat_map(|id| warnings(id, histories.get(*id).unwrap_or(&empty), ctx))
        .collect();
    Report {
        since: day::iso(ctx.since),
        until: day::iso(ctx.today),
        days: u32::try_from(ctx.today - ctx.since + 1).unwrap_or(0),
        share: share(&partners),
        partners,
        warnings,
    }
}

/// Partners ranked by order value, per currency, with cumulative shares.
pub fn share(partners: &[PartnerReport]) -> Vec<CurrencyShare> {
    let mut by_currency: BTreeMap<&str, Vec<(&str, Amount)>> = BTreeMap::new();
    for p in partners {
        for (c, v) in &p.volume.order_value {
            by_currency.entry(c).or_default().push((&p.partner, *v));
        }
    }
    by_currency
        .into_iter()
        .map(|(currency, mut rows)| {
            rows.sort_by(|a, b| b.1.to_f64().total_cmp(&a.1.to_f64()).then(a.0.cmp(b.0)));
            let total = rows
                .iter()
                .fold(Amount::ZERO, |t, (_, v)| t.checked_add(*v).unwrap_or(t));
            let whole = total.to_f64();
            let mut cumulative = 0.0;
            let ranking = rows
                .into_iter()
                .map(|(partner, value)| {
                    let share = if whole > 0.0 {
                        value.to_f64() / whole
                    } else {
                        0.0
                    };
                    cumulative += share;
                    Share {
                        partner: partner.to_owned(),
                        value,
                        share,
                        cumulative,
                    }
                })
                .collect();
            CurrencyShare {
                currency: currency.to_owned(),
                total,
                ranking,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn orders(n: u64) -> DayStats {
        DayStats {
            orders: n,
            inbound: [("order.created".to_owned(), n)].into(),
            ..DayStats::default()
        }
    }

    /// Two orders every Monday-equivalent for `weeks` weeks up to `last`, then `recent` a week.
    fn steady(today: Day, per_week: u64, recent_per_week: u64, silent_for: i32) -> History {
        let mut h = History::new();
        for w in 0..16 {
            let d = today - silent_for - 7 * w;
            let n = if w < 4 { recent_per_week } else { per_week };
            if n > 0 {
                h.insert(d, orders(n));
            }
        }
        h
    }

    fn ctx(today: Day) -> Context {
        Context {
            today,
            since: today - 364,
            ..Context::default()
        }
    }

    #[test]
    fn a_halved_partner_drops_and_a_steady_one_does_not() {
        let today = 20_000;
        let c = ctx(today);
        assert!(warnings("steady", &steady(today, 4, 4, 0), &c).is_empty());
        let halved = warnings("halved", &steady(today, 4, 2, 0), &c);
        assert_eq!(halved.len(), 1);
        assert_eq!(halved[0].kind, WarningKind::VolumeDrop);
        let t = trend(&steady(today, 4, 2, 0), today, &c.thresholds);
        assert_eq!((t.recent_weekly_orders, t.usual_weekly_orders), (2.0, 4.0));
        assert_eq!(t.change, Some(-0.5));
        // A dip to 75%: not "well below".
        assert!(warnings("dip", &steady(today, 4, 3, 0), &c).is_empty());
        // Orders now and then: never judged for volume (this one's silence is another matter).
        let rare = warnings("rare", &steady(today, 1, 0, 0), &c);
        assert!(
            rare.iter().all(|w| w.kind != WarningKind::VolumeDrop),
            "{rare:?}"
        );
    }

    #[test]
    fn a_partner_silent_for_three_usual_gaps_is_quiet_and_not_also_a_drop() {
        let today = 20_000;
        let c = ctx(today);
        // Weekly senders: 21 days is three gaps, not more (its month is thin, though).
        let kinds = |w: Vec<Warning>| w.iter().map(|w| w.kind).collect::<Vec<_>>();
        assert_eq!(
            kinds(warnings("weekly", &steady(today, 4, 4, 21), &c)),
            vec![WarningKind::VolumeDrop]
        );
        let quiet = warnings("weekly", &steady(today, 4, 4, 22), &c);
        assert_eq!(quiet.len(), 1, "{quiet:?}");
        assert_eq!(quiet[0].kind, WarningKind::Quiet);
        assert!(quiet[0].message.contains("22 days"), "{}", quiet[0].message);
        // Watched by expect_within: left to that, and the drop is not raised instead.
        let mut watched = c.clone();
        watched.watched.insert("weekly".into());
        let w = warnings("weekly", &steady(today, 4, 4, 22), &watched);
        assert_eq!(kinds(w), vec![WarningKind::VolumeDrop]);
    }

    #[test]
    fn share_ranks_by_value_with_cumulative_shares() {
        let today = 20_000;
        let mut histories = BTreeMap::new();
        for (p, v) in [("a", "100"), ("b", "300"), ("c", "600")] {
            let mut s = orders(1);
            s.order_value
                .insert("EUR".into(), Amount::parse(v).unwrap());
            histories.insert(p.to_owned(), History::from([(today - 3, s)]));
        }
        let r = report(&histories, &ctx(today));
        assert_eq!(r.share.len(), 1);
        let ranking = &r.share[0].ranking;
        assert_eq!(
            ranking
                .iter()
                .map(|s| s.partner.as_str())
                .collect::<Vec<_>>(),
            vec!["c", "b", "a"]
        );
        assert_eq!(r.share[0].total.to_string(), "1000.00");
        assert!((ranking[1].cumulative - 0.9).abs() < 1e-9);
        assert!((ranking[2].cumulative - 1.0).abs() < 1e-9);
        assert_eq!(r.partners[0].volume.weekly.len(), 53);
        assert_eq!(r.days, 365);
    }

    #[test]
    fn keeping_averages_lateness_over_the_late_orders() {
        let today = 20_000;
        let s = DayStats {
            shipped: 4,
            judged_promised: 4,
            on_time_promised: 2,
            days_late_promised: 6,
            ..DayStats::default()
        };
        let h = History::from([(today, s)]);
        let p = partner_report("x", &h, &ctx(today));
        assert_eq!(p.promises.promised.on_time_rate, Some(0.5));
        assert_eq!(p.promises.promised.avg_days_late, Some(3.0));
        assert_eq!(p.promises.requested.on_time_rate, None);
    }
}
