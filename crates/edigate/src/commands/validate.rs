//! `edigate validate FILE`: every error with its standard code, and the acknowledgements the
//! gateway would send.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use validate::Specs;
use validate::ack::{self, AckPolicy, ContrlPolicy, Sequential, Timestamp, X12Ack};
use validate::report::{InterchangeReport, MessageReport, Verdict};

/// Arguments of `edigate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The EDI file to check; `-` reads standard input.
    pub file: PathBuf,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the acknowledgements (TA1, 997/999, CONTRL) the gateway would send, as EDI.
    #[arg(long)]
    pub ack: bool,
    /// The spec directory (default: $EDIGATE_SPECS, ./specs, or the specs the binary was built with).
    #[arg(long)]
    pub specs: Option<PathBuf>,
    /// Which acknowledgement X12 groups get.
    #[arg(long, value_enum, default_value_t = X12AckArg::ByVersion)]
    pub x12_ack: X12AckArg,
    /// When EDIFACT interchanges get a CONTRL.
    #[arg(long, value_enum, default_value_t = ContrlArg::WhenAsked)]
    pub contrl: ContrlArg,
    /// Date and time written into acknowledgements, `CCYYMMDDHHMM` (default: now, UTC).
    #[arg(long, value_parser = parse_timestamp)]
    pub timestamp: Option<Timestamp>,
}

/// `--x12-ack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum X12AckArg {
    /// 997 before 005010, 999 from 005010 on.
    ByVersion,
    /// Always a 997.
    #[value(name = "997")]
    A997,
    /// Always a 999.
    #[value(name = "999")]
    A999,
}

/// `--contrl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ContrlArg {
    /// Only when UNB 0031 asks for one.
    WhenAsked,
    /// When asked, and whenever something is rejected.
    WhenAskedOrRejected,
    /// Always.
    Always,
}

impl ValidateArgs {
    fn policy(&self) -> AckPolicy {
        AckPolicy {
            x12: match self.x12_ack {
                X12AckArg::ByVersion => X12Ack::ByVersion,
                X12AckArg::A997 => X12Ack::Always997,
                X12AckArg::A999 => X12Ack::Always999,
            },
            contrl: match self.contrl {
                ContrlArg::WhenAsked => ContrlPolicy::WhenAsked,
                ContrlArg::WhenAskedOrRejected => ContrlPolicy::WhenAskedOrRejected,
                ContrlArg::Always => ContrlPolicy::Always,
            },
        }
    }
}

fn parse_timestamp(s: &str) -> Result<Timestamp, String> {
    if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("write CCYYMMDDHHMM, e.g. 202601311530".into());
    }
    Ok(Timestamp {
        date: s[..8].to_string(),
        time: s[8..].to_string(),
    })
}

/// Now, in UTC, as an acknowledgement timestamp.
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    Timestamp {
        date: format!("{y:04}{m:02}{d:02}"),
        time: format!("{:02}{:02}", rem / 3600, rem % 3600 / 60),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The spec directory to use.
pub fn specs_dir(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("EDIGATE_SPECS") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("specs");
    if local.join("x12").is_dir() || local.join("edifact").is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs")
}

/// Exit status 0 when everything is accepted, 1 when any error was found, 2 on usage or I/O
/// errors.
pub fn run(args: &ValidateArgs) -> ExitCode {
    let input = match super::read_input(&args.file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("edigate validate: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let dir = specs_dir(args.specs.as_deref());
    let specs = match Specs::load(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "edigate validate: cannot load the specs from {}: {e}",
                dir.display()
            );
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match check(
        &input,
        &args.file.display().to_string(),
        &specs,
        args,
        &mut out,
    ) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("edigate validate: {e}");
            ExitCode::from(2)
        }
    }
}

/// Validates `input`, writes the result; `Ok(true)` when everything is accepted.
pub fn check<W: Write>(
    input: &[u8],
    name: &str,
    specs: &Specs,
    args: &ValidateArgs,
    out: &mut W,
) -> io::Result<bool> {
    let mut clean = true;
    let mut reports = Vec::new();
    let mut numbers = Sequential::default();
    let when = args.timestamp.clone().unwrap_or_else(now);
    let mut acks = Vec::new();
    let mut fatal = None;
    for item in edi::Parser::new().lenient(true).interchanges(input) {
        match item {
            Ok(ic) => {
                let report = validate::validate(&ic, specs);
                clean &= report.is_clean();
                if args.ack {
                    match ack::acknowledge(&ic, &report, &mut numbers, &when, &args.policy()) {
                        Ok(a) => acks.extend(a.ta1.into_iter().chain(a.functional)),
                        Err(e) => return Err(io::Error::other(e.to_string())),
                    }
                }
                reports.push(report);
            }
            Err(e) => {
                clean = false;
                fatal = Some(e);
            }
        }
    }
    if args.json {
        let v = json!({
            "file": name,
            "accepted": clean,
            "interchanges": reports.iter().map(report_json).collect::<Vec<_>>(),
            "error": fatal.as_ref().map(|e| json!({"message": e.kind.to_string(), "offset": e.location.offset, "interchange": e.location.interchange})),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).map_err(io::Error::other)?
        )?;
    } else {
        for r in &reports {
            write_human(out, name, r)?;
        }
        if let Some(e) = &fatal {
            writeln!(out, "{name}: {e}")?;
        }
    }
    if args.ack {
        for a in &acks {
            out.write_all(a)?;
        }
    }
    Ok(clean)
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Accepted => "accepted",
        Verdict::AcceptedWithErrors => "accepted with errors",
        Verdict::PartiallyAccepted => "partially accepted",
        Verdict::Rejected => "rejected",
    }
}

fn write_message<W: Write>(out: &mut W, m: &MessageReport, x12: bool) -> io::Result<()> {
    let reasons: Vec<&str> = m.errors.iter().map(|e| e.describe()).collect();
    writeln!(
        out,
        "    {} {} (offset {}): {}{}",
        m.message_type,
        m.control_number,
        m.offset,
        verdict_word(m.verdict),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" — {}", reasons.join("; "))
        }
    )?;
    for s in &m.segments {
        let code = if x12 {
            format!("AK3/IK3 {}", s.code.x12())
        } else {
            format!("0085 {}", s.code.edifact())
        };
        writeln!(
            out,
            "      segment {} {} (offset {}): {} [{code}]: {}",
            s.position,
            s.tag,
            s.offset,
            s.code.describe(),
            s.detail
        )?;
        for e in &s.elements {
            let place = match (e.component, e.repetition) {
                (Some(c), _) => format!("{}{:02}-{c}", s.tag, e.position),
                (None, Some(r)) => format!("{}{:02} repetition {r}", s.tag, e.position),
                (None, None) => format!("{}{:02}", s.tag, e.position),
            };
            let code = if x12 {
                format!("AK4/IK4 {}", e.code.x12(true))
            } else {
                format!("0085 {}", e.code.edifact())
            };
            writeln!(
                out,
                "        {place} ({}) {:?} (offset {}): {} [{code}]: {}",
                e.element_id,
                e.value,
                e.offset,
                e.code.describe(),
                e.detail
            )?;
        }
    }
    Ok(())
}

fn write_human<W: Write>(out: &mut W, name: &str, r: &InterchangeReport) -> io::Result<()> {
    let x12 = r.standard == edi::Standard::X12;
    writeln!(
        out,
        "{name}: {} interchange {} (offset {}): {}",
        r.standard,
        r.control_number,
        r.offset,
        if r.is_rejected() {
            "rejected"
        } else {
            "envelope accepted"
        }
    )?;
    for e in &r.errors {
        let code = if x12 {
            format!("TA1 {}", e.code.x12())
        } else {
            format!("0085 {}", e.code.edifact())
        };
        writeln!(
            out,
            "  interchange (offset {}): {} [{code}]: {}",
            e.offset,
            e.code.describe(),
            e.detail
        )?;
    }
    for g in &r.groups {
        writeln!(
            out,
            "  group {} {} ({}): {} — {} of {} accepted",
            g.functional_id,
            g.control_number,
            g.version,
            verdict_word(g.verdict),
            g.accepted(),
            g.messages.len()
        )?;
        for e in &g.errors {
            let code = if x12 {
                format!("AK9 {}", e.x12())
            } else {
                format!("0085 {}", e.edifact())
            };
            writeln!(out, "    group: {} [{code}]", e.describe())?;
        }
        for m in &g.messages {
            write_message(out, m, x12)?;
        }
    }
    for m in &r.messages {
        write_message(out, m, x12)?;
    }
    Ok(())
}

fn message_json(m: &MessageReport, x12: bool) -> Value {
    json!({
        "type": m.message_type,
        "control_number": m.control_number,
        "version": m.version,
        "offset": m.offset,
        "verdict": verdict_word(m.verdict),
        "errors": m.errors.iter().map(|e| json!({"code": if x12 { e.x12() } else { e.edifact() }, "message": e.describe()})).collect::<Vec<_>>(),
        "segments": m.segments.iter().map(|s| json!({
            "position": s.position,
            "tag": s.tag,
            "offset": s.offset,
            "loop": s.loop_id,
            "code": if x12 { s.code.x12() } else { s.code.edifact() },
            "message": s.code.describe(),
            "detail": s.detail,
            "elements": s.elements.iter().map(|e| json!({
                "position": e.position,
                "component": e.component,
                "repetition": e.repetition,
                "element": e.element_id,
                "value": e.value,
                "offset": e.offset,
                "code": if x12 { e.code.x12(true) } else { e.code.edifact() },
                "message": e.code.describe(),
                "detail": e.detail,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn report_json(r: &InterchangeReport) -> Value {
    let x12 = r.standard == edi::Standard::X12;
    json!({
        "standard": r.standard.name(),
        "control_number": r.control_number,
        "offset": r.offset,
        "accepted": !r.is_rejected(),
        "errors": r.errors.iter().map(|e| json!({"code": if x12 { e.code.x12() } else { e.code.edifact() }, "message": e.code.describe(), "detail": e.detail, "offset": e.offset})).collect::<Vec<_>>(),
        "groups": r.groups.iter().map(|g| json!({
            "functional_id": g.functional_id,
            "control_number": g.control_number,
            "version": g.version,
            "verdict": verdict_word(g.verdict),
            "errors": g.errors.iter().map(|e| json!({"code": if x12 { e.x12() } else { e.edifact() }, "message": e.describe()})).collect::<Vec<_>>(),
            "messages": g.messages.iter().map(|m| message_json(m, x12)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "messages": r.messages.iter().map(|m| message_json(m, x12)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert!(parse_timestamp("202601311530").is_ok());
        assert!(parse_timestamp("2026013115").is_err());
    }
}
