//! `edigate partners report`: what the document stream says about each partner — volume and its
//! trend, share of business, delivery dates kept, responsiveness, file quality, early warnings —
//! as a table, JSON, CSV or a self-contained HTML page with charts. The daemon computes the
//! report from its aggregates (`GET /v1/partners/report`); this command only renders it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use insights::report::{Keeping, PartnerReport, Report};

use super::ops::{self, AdminArgs, Client, Failure, Table};

/// Arguments of `edigate partners`.
#[derive(Debug, Args)]
pub struct PartnersArgs {
    #[command(subcommand)]
    command: PartnersCommand,
}

#[derive(Debug, Subcommand)]
enum PartnersCommand {
    /// Per partner: volume, share of business, promises kept, responsiveness, quality, warnings.
    Report(ReportArgs),
}

/// Arguments of `edigate partners report`.
#[derive(Debug, Args)]
struct ReportArgs {
    /// Only this partner (the share of business still ranks every partner).
    #[arg(long)]
    partner: Option<String>,
    /// The window's first day: a date (2026-01-01) or a duration back from today (90d, 12w);
    /// default: the daemon's `[insights] report_days`.
    #[arg(long, value_parser = since)]
    since: Option<String>,
    /// Print CSV, one line per partner.
    #[arg(long, conflicts_with = "html")]
    csv: bool,
    /// Write a self-contained HTML page with charts to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(flatten)]
    admin: AdminArgs,
}

/// A date becomes the time the admin API takes; a duration is passed as it is.
fn since(s: &str) -> Result<String, String> {
    let s = s.trim();
    if let Some(day) = insights::day::parse_iso(s) {
        let ms = u64::try_from(day).map_err(|_| format!("{s} is before 1970"))? * 86_400_000;
        return Ok(ms.to_string());
    }
    gateway::admin::parse_duration(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("{e}, or a date YYYY-MM-DD"))
}

/// Runs `edigate partners …`: exit 0, 1 when the daemon refused, 2 when it cannot be asked.
pub fn run(args: &PartnersArgs) -> ExitCode {
    match &args.command {
        PartnersCommand::Report(r) => ops::finish(report(r)),
    }
}

fn report(args: &ReportArgs) -> Result<(), Failure> {
    let client = Client::new(&args.admin)?;
    let mut query = Vec::new();
    if let Some(p) = &args.partner {
        query.push(("partner", p.clone()));
    }
    if let Some(s) = &args.since {
        query.push(("since", s.clone()));
    }
    let body = client.get("/v1/partners/report", &query)?;
    if args.admin.json && args.html.is_none() {
        ops::print_json(&body);
        return Ok(());
    }
    let report: Report = ops::decode(body)?;
    if let Some(file) = &args.html {
        std::fs::write(file, insights::html::render(&report))
            .map_err(|e| Failure::Other(format!("cannot write {}: {e}", file.display())))?;
        eprintln!(
            "edigate: partner report for {} to {} written to {}",
            report.since,
            report.until,
            file.display()
        );
        return Ok(());
    }
    if args.csv {
        print!("{}", csv(&report));
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn value(p: &PartnerReport) -> String {
    p.volume
        .order_value
        .iter()
        .map(|(c, v)| format!("{v} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn late(k: &Keeping) -> String {
    num(k.avg_days_late)
}

/// The tables for people.
fn render(r: &Report) -> String {
    let mut out = format!(
        "Partners from {} to {} ({} days)\n\n",
        r.since, r.until, r.days
    );
    let mut volume = Table::new(&[
        "PARTNER",
        ">DOCS",
        ">DOCS/DAY",
        ">ORDERS",
        ">LINES",
        ">LINES/WEEK",
        "ORDER VALUE",
        ">TREND",
    ]);
    let mut service = Table::new(&[
        "PARTNER",
        ">SHIPPED",
        ">ON TIME (PROMISED)",
        ">DAYS LATE",
        ">ON TIME (REQUESTED)",
        ">DAYS LATE",
        ">RESPONSE H",
        ">SHIPMENT H",
        ">ACK S",
        ">ACKS LATE",
        ">OVERDUE",
    ]);
    let mut quality = Table::new(&[
        "PARTNER",
        ">FILES",
        ">REJECTED",
        ">WITH ERRORS",
        "ERROR CODES",
    ]);
    for p in &r.partners {
        let v = &p.volume;
        volume.row(vec![
            p.partner.clone(),
            v.documents.to_string(),
            format!("{:.2}", v.documents_per_day),
            v.orders.to_string(),
            v.order_lines.to_string(),
            format!("{:.1}", v.lines_per_week),
            value(p),
            v.trend
                .change
                .map_or_else(|| "-".to_owned(), |c| format!("{:+.0}%", c * 100.0)),
        ]);
        let s = &p.responsiveness;
        service.row(vec![
            p.partner.clone(),
            p.promises.shipped.to_string(),
            pct(p.promises.promised.on_time_rate),
            late(&p.promises.promised),
            pct(p.promises.requested.on_time_rate),
            late(&p.promises.requested),
            num(s.avg_response_hours),
            num(s.avg_shipment_hours),
            num(s.avg_ack_seconds),
            s.acks_late.to_string(),
            s.acks_overdue.to_string(),
        ]);
        let q = &p.quality;
        quality.row(vec![
            p.partner.clone(),
            q.files.to_string(),
            format!("{} ({})", q.rejected, pct(q.rejected_share)),
            format!("{} ({})", q.with_errors, pct(q.with_errors_share)),
            q.error_codes
                .iter()
                .map(|(c, n)| format!("{c}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    out.push_str("Volume\n");
    out.push_str(&volume.render());
    out.push_str("\nPromises and responsiveness\n");
    out.push_str(&service.render());
    out.push_str("\nQuality\n");
    out.push_str(&quality.render());
    for c in &r.share {
        out.push_str(&format!(
            "\nShare of business ({}, total {})\n",
            c.currency, c.total
        ));
        let mut t = Table::new(&["PARTNER", ">VALUE", ">SHARE", ">CUMULATIVE"]);
        for s in &c.ranking {
            t.row(vec![
                s.partner.clone(),
                s.value.to_string(),
                pct(Some(s.share)),
                pct(Some(s.cumulative)),
            ]);
        }
        out.push_str(&t.render());
    }
    if !r.warnings.is_empty() {
        out.push('\n');
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {}\n", w.message));
    }
    out
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}

/// One line per partner, every figure in its own column; order values as `VALUE CUR` joined
/// by `;`.
fn csv(r: &Report) -> String {
    let mut out = String::from(
        "partner,name,documents,orders,order_lines,order_value,documents_per_day,lines_per_day,\
         trend_change,shipped,on_time_rate_promised,avg_days_late_promised,\
         on_time_rate_requested,avg_days_late_requested,avg_response_hours,avg_shipment_hours,\
         acks,avg_ack_seconds,acks_late,acks_overdue,files,rejected,with_errors,warnings\n",
    );
    for p in &r.partners {
        let v = &p.volume;
        let s = &p.responsiveness;
        let warnings: Vec<&str> = r
            .warnings
            .iter()
            .filter(|w| w.partner == p.partner)
            .map(|w| match w.kind {
                insights::WarningKind::VolumeDrop => "volume_drop",
                insights::WarningKind::Quiet => "quiet",
            })
            .collect();
        let values: Vec<String> = v
            .order_value
            .iter()
            .map(|(c, a)| format!("{a} {c}"))
            .collect();
        let cells = [
            p.partner.clone(),
            p.name.clone(),
            v.documents.to_string(),
            v.orders.to_string(),
            v.order_lines.to_string(),
            values.join(";"),
            format!("{}", v.documents_per_day),
            format!("{}", v.lines_per_day),
            opt(v.trend.change),
            p.promises.shipped.to_string(),
            opt(p.promises.promised.on_time_rate),
            opt(p.promises.promised.avg_days_late),
            opt(p.promises.requested.on_time_rate),
            opt(p.promises.requested.avg_days_late),
            opt(s.avg_response_hours),
            opt(s.avg_shipment_hours),
            s.acks.to_string(),
            opt(s.avg_ack_seconds),
            s.acks_late.to_string(),
            s.acks_overdue.to_string(),
            p.quality.files.to_string(),
            p.quality.rejected.to_string(),
            p.quality.with_errors.to_string(),
            warnings.join(";"),
        ];
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn since_takes_a_date_or_a_duration() {
        assert_eq!(since("1970-01-02").unwrap(), "86400000");
        assert_eq!(since("90d").unwrap(), "90d");
        assert!(since("yesterday").is_err());
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
