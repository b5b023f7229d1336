//! What the operator's commands (`status`, `messages`, `trace`, `outbox`) share: the admin API
//! client, the token lookup, errors with their exit codes, and tables for people.
//!
//! sled lets one process open the outbox, so these commands never open it: they ask the running
//! daemon over its admin API (see `gateway::admin`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::de::DeserializeOwned;

/// How to reach the daemon, and how to print: flattened into every operator command.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The admin API of the running `edigate serve`.
    #[arg(long, env = "EDIGATE_ADMIN", default_value = "http://127.0.0.1:7410")]
    pub admin: String,
    /// The admin API's bearer token. Without it (and without EDIGATE_TOKEN), the token the
    /// daemon generated is read from DATA_DIR/admin.token.
    #[arg(long, env = "EDIGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The daemon's data directory, where it writes the token it generates.
    #[arg(long, default_value = "edigate-data")]
    pub data_dir: PathBuf,
    /// Print the admin API's JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Why a command failed, each with its exit code.
#[derive(Debug)]
pub enum Failure {
    /// No daemon answered (exit 2).
    Unreachable {
        /// The admin URL tried.
        url: String,
        /// What the connection said.
        detail: String,
    },
    /// 401 (exit 2).
    Unauthorized {
        /// Where the token came from, or why there was none.
        source: String,
    },
    /// The daemon answered with an error: 404, 409, 400 (exit 1).
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// A mistake on the command line (exit 2).
    Usage(String),
    /// Anything else (exit 1).
    Other(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Unreachable { .. } | Failure::Unauthorized { .. } | Failure::Usage(_) => 2,
            Failure::Api { .. } | Failure::Other(_) => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable { url, detail } => write!(
                f,
                "cannot reach the edigate admin API at {url}: is `edigate serve` running? ({detail})"
            ),
            Failure::Unauthorized { source } => {
                write!(f, "the admin API refused the token ({source})")
            }
            // 404s are worded by the API itself ("no message m-…").
            Failure::Api {
                status: 404,
                message,
            } => f.write_str(message),
            Failure::Api { status, message } => {
                write!(f, "the admin API answered {status}: {message}")
            }
            Failure::Usage(m) | Failure::Other(m) => f.write_str(m),
        }
    }
}

/// Runs a command body, printing a failure as `edigate: …` with its exit code.
pub fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edigate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The admin API client.
pub struct Client {
    base: String,
    token: Option<String>,
    token_source: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client for `args.admin`, with the token from `--token`, `EDIGATE_TOKEN` or the data
    /// directory.
    pub fn new(args: &AdminArgs) -> Result<Client, Failure> {
        let (token, token_source) = match &args.token {
            Some(t) => (
                Some(t.trim().to_owned()),
                "given by --token or EDIGATE_TOKEN".to_owned(),
            ),
            None => {
                let file = args.data_dir.join(gateway::admin::TOKEN_FILE);
                match std::fs::read_to_string(&file) {
                    Ok(t) => (
                        Some(t.trim().to_owned()),
                        format!("read from {}", file.display()),
                    ),
                    Err(e) => (
                        None,
                        format!(
                            "none given: no --token, no EDIGATE_TOKEN, and {}: {e}",
                            file.display()
                        ),
                    ),
                }
            }
        };
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(60))
            // The admin API is local: a proxy from the environment must not come between.
            .no_proxy()
            .build()
            .map_err(|e| Failure::Other(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            base: args.admin.trim_end_matches('/').to_owned(),
            token,
            token_source,
            http,
        })
    }

    /// `GET path?query`, the body as JSON.
    pub fn get(&self, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value, Failure> {
        self.send(self.http.get(self.url(path)).query(query))
    }

    /// `POST path`, the body as JSON.
    pub fn post(&self, path: &str) -> Result<serde_json::Value, Failure> {
        self.send(self.http.post(self.url(path)))
    }

    /// `POST path` with a JSON body, the answer as JSON.
    pub fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, Failure> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Failure::Other(format!("cannot encode the request: {e}")))?;
        self.send(
            self.http
                .post(self.url(path))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn send(
        &self,
        mut request: reqwest::blocking::RequestBuilder,
    ) -> Result<serde_json::Value, Failure> {
        if let Some(t) = &self.token {
            request = request.bearer_auth(t);
        }
        let response = request.send().map_err(|e| {
            if e.is_builder() {
                Failure::Usage(format!("--admin {:?} is not a usable URL: {e}", self.base))
            } else {
                Failure::Unreachable {
                    url: self.base.clone(),
                    detail: root_cause(&e),
                }
            }
        })?;
        let status = response.status();
        let text = response.text().map_err(|e| Failure::Unreachable {
            url: self.base.clone(),
            detail: root_cause(&e),
        })?;
        let body: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return body.ok_or_else(|| {
                Failure::Other(format!(
                    "{} answered something that is not JSON: is it an edigate admin API?",
                    self.base
                ))
            });
        }
        if status.as_u16() == 401 {
            return Err(Failure::Unauthorized {
                source: self.token_source.clone(),
            });
        }
        let message = body
            .as_ref()
            .and_then(|b| b.get("error"))
            .and_then(|e| e.as_str())
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        Err(Failure::Api {
            status: status.as_u16(),
            message,
        })
    }
}

/// The innermost error: "Connection refused (os error 111)" rather than reqwest's outer layers.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Reads an API answer into its type.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|e| {
        Failure::Other(format!(
            "unexpected answer from the admin API (a daemon of another version?): {e}"
        ))
    })
}

/// Prints an API answer as indented JSON.
pub fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(_) => println!("{value}"),
    }
}

/// Milliseconds since the epoch as UTC RFC 3339, to the second.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`,
/// for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// A table for people: columns padded to their widest cell, numbers right-aligned.
pub struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles; a title starting with `>` is right-aligned (the `>` is
    /// not shown).
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header
                .iter()
                .map(|h| h.strip_prefix('>').unwrap_or(h))
                .collect(),
            right: header.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra ones ignored).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table, one line per row after the header, each ending in a line break.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let cell = |row: &[String], i: usize| row.get(i).map_or("", String::as_str).to_owned();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(cell(row, i).chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for i in 0..columns {
                let text = cell(row, i);
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(text.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&text);
                } else {
                    line.push_str(&text);
                    if i + 1 < columns {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A message id as the operator typed it (`m-000000000042`, `m-42` or `42`).
pub fn message_id(text: &str) -> Result<outbox::MessageId, Failure> {
    gateway::admin::parse_id(text, "m").ok_or_else(|| {
        Failure::Usage(format!(
            "{text:?} is not a message id (m-000000000042, m-42 or 42)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_767_225_599_999), "2025-12-31T23:59:59Z");
        assert_eq!(utc(1_798_761_600_000), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["ID", ">N", "NOTE"]);
        t.row(vec!["a".into(), "1".into(), "x".into()]);
        t.row(vec!["bbbb".into(), "1234".into(), String::new()]);
        assert_eq!(t.render(), "ID       N  NOTE\na        1  x\nbbbb  1234\n");
    }
}
