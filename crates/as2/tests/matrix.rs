//! The crate against pyas2lib over every combination a partnership can choose, both ways:
//! {signed, unsigned} × {AES-128-CBC, AES-256-CBC, 3DES, none} × {compressed, not} ×
//! {SHA-1, SHA-256, SHA-512} × {sync MDN, async MDN, no MDN}.
//!
//! pyas2lib builds → `receive_with` accepts the same payload → `build_mdn` → pyas2lib verifies the
//! MDN (signature and MIC); and `build_with` → pyas2lib reads the same payload → its MDN passes
//! `read_mdn_with`. One pyas2lib process serves the whole matrix over stdin/stdout
//! (`as2_peer.py batch`); every failing combination is reported by name.
//!
//! Needs `sh tests/peers/setup.sh` (pyas2lib in tests/peers/.venv); fails when it is missing.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use as2::{
    Digest, Encryption, MdnCheck, MdnRequest, MdnStatus, Outgoing, ReceiveOptions, Receiver,
    SendOptions, build_mdn, build_with, read_mdn_with, receive_with,
};
use base64::Engine as _;
use common::{certificate, identity, make_certs, repo_root};
use serde_json::{Value, json};

/// CRLF line ends, so that pyas2lib's canonical text form is the payload itself: equality is
/// byte for byte in both directions.
const X12: &[u8] = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*EDIGATE        *240101*1200*U*00401*000000001*0*P*>~\r\nGS*PO*PARTNER*EDIGATE*20240101*1200*1*X*004010~\r\nST*850*0001~\r\nBEG*00*SA*PO1**20240101~\r\nSE*3*0001~\r\nGE*1*1~\r\nIEA*1*000000001~\r\n";

#[derive(Debug, Clone, Copy)]
struct Combo {
    signed: bool,
    enc: Option<Encryption>,
    compress: bool,
    digest: Digest,
    mdn: &'static str,
}

impl Combo {
    fn name(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}-mdn",
            if self.signed { "signed" } else { "unsigned" },
            match self.enc {
                None => "plain",
                Some(Encryption::Aes128Cbc) => "aes128",
                Some(Encryption::Aes256Cbc) => "aes256",
                Some(Encryption::TripleDesCbc) => "3des",
                Some(e) => panic!("{e:?} not in the matrix"),
            },
            if self.compress {
                "compressed"
            } else {
                "uncompressed"
            },
            self.digest.micalg(),
            self.mdn
        )
    }

    fn py_enc(&self) -> Value {
        match self.enc {
            None => Value::Null,
            Some(Encryption::Aes128Cbc) => "aes_128_cbc".into(),
            Some(Encryption::Aes256Cbc) => "aes_256_cbc".into(),
            Some(Encryption::TripleDesCbc) => "tripledes_192_cbc".into(),
            Some(e) => panic!("{e:?} not in the matrix"),
        }
    }

    fn py_digest(&self) -> &'static str {
        match self.digest {
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
        }
    }
}

fn all_combos() -> Vec<Combo> {
    let mut out = Vec::new();
    for signed in [true, false] {
        for enc in [
            Some(Encryption::Aes128Cbc),
            Some(Encryption::Aes256Cbc),
            Some(Encryption::TripleDesCbc),
            None,
        ] {
            for compress in [true, false] {
                for digest in [Digest::Sha1, Digest::Sha256, Digest::Sha512] {
                    for mdn in ["sync", "async", "none"] {
                        out.push(Combo {
                            signed,
                            enc,
                            compress,
                            digest,
                            mdn,
                        });
                    }
                }
            }
        }
    }
    out
}

/// `as2_peer.py batch`: one request line in, one answer line out.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(dir: &std::path::Path) -> Self {
        let py = repo_root().join("tests/peers/.venv/bin/python");
        let ok = Command::new(&py)
            .args(["-c", "import pyas2lib.as2"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "pyas2lib is not installed in tests/peers/.venv: run `sh tests/peers/setup.sh`"
        );
        let mut child = Command::new(py)
            .arg(repo_root().join("tests/peers/as2_peer.py"))
            .arg("batch")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // pyas2lib logs a traceback for every message it refuses; kept for failure messages.
            .stderr(std::fs::File::create(dir.join("batch.stderr")).expect("batch.stderr"))
            .spawn()
            .expect("start as2_peer.py batch");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, req: Value) -> Result<Value, String> {
        writeln!(self.stdin, "{req}").map_err(|e| format!("write to pyas2lib: {e}"))?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("read from pyas2lib: {e}"))?;
        let v: Value =
            serde_json::from_str(&line).map_err(|e| format!("pyas2lib said {line:?}: {e}"))?;
        match v.get("error") {
            Some(e) => Err(format!("pyas2lib: {}", e.as_str().unwrap_or_default())),
            None => Ok(v),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn unb64(v: &Value) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().ok_or("not a string")?)
        .map_err(|e| e.to_string())
}

fn headers_of(v: &Value) -> Result<Vec<(String, String)>, String> {
    v.as_array()
        .ok_or("headers are not a list")?
        .iter()
        .map(|kv| {
            Ok((
                kv[0].as_str().ok_or("header name")?.to_string(),
                kv[1].as_str().ok_or("header value")?.to_string(),
            ))
        })
        .collect()
}

fn fields_json(h: &[(String, String)]) -> Value {
    Value::Array(h.iter().map(|(k, v)| json!([k, v])).collect())
}

struct Keys {
    edigate: as2::Identity,
    partner_cert: as2::Certificate,
}

/// pyas2lib builds, the crate receives and answers, pyas2lib checks the answer.
fn pyas2lib_to_crate(peer: &mut Peer, k: &Keys, c: Combo) -> Result<(), String> {
    let name = c.name();
    let built = peer.ask(json!({
        "op": "build", "id": name, "payload": b64(X12), "sign": c.signed, "enc": c.py_enc(),
        "compress": c.compress, "digest": c.py_digest(), "mdn": c.mdn,
    }))?;
    let headers = headers_of(&built["headers"])?;
    let body = unb64(&built["body"])?;
    let r = Receiver {
        own: &k.edigate,
        partner: &k.partner_cert,
        require_encryption: c.enc.is_some(),
        require_signature: c.signed,
    };
    let rec = receive_with(&headers, &body, &r, &ReceiveOptions::default())
        .map_err(|e| format!("receive: {e}"))?;
    let payload = rec
        .outcome
        .as_ref()
        .map_err(|f| format!("refused: {f:?}"))?;
    if payload.data != X12 {
        return Err(format!(
            "payload differs: {:?}",
            String::from_utf8_lossy(&payload.data)
        ));
    }
    if (rec.signed, rec.encrypted.then_some(()), rec.compressed)
        != (c.signed, c.enc.map(|_| ()), c.compress)
    {
        return Err(format!(
            "read as signed={} encrypted={} compressed={}",
            rec.signed, rec.encrypted, rec.compressed
        ));
    }
    if let Some(mic) = built["mic"].as_str() {
        let ours = rec.mic.as_ref().map(|m| m.digest.as_str());
        if ours != Some(mic) {
            return Err(format!("MIC: pyas2lib {mic}, ours {ours:?}"));
        }
    }
    match (c.mdn, &rec.mdn) {
        ("none", None) => return Ok(()),
        ("none", Some(m)) => return Err(format!("an MDN was not asked for: {m:?}")),
        (_, None) => return Err("the MDN request was not seen".into()),
        ("async", Some(m)) if m.async_url.is_none() => {
            return Err("the async MDN URL was not seen".into());
        }
        ("sync", Some(m)) if m.async_url.is_some() => {
            return Err("a sync MDN read as async".into());
        }
        _ => {}
    }
    let mdn = build_mdn(&rec, &k.edigate, "edigate").map_err(|e| format!("build_mdn: {e}"))?;
    let verdict = peer.ask(json!({
        "op": "verify_mdn", "id": name, "headers": fields_json(&mdn.headers), "body": b64(&mdn.body),
    }))?;
    if verdict["status"] != "processed" {
        return Err(format!("pyas2lib on our MDN: {verdict}"));
    }
    Ok(())
}

/// The crate builds, pyas2lib reads and answers, the crate checks the answer.
fn crate_to_pyas2lib(peer: &mut Peer, k: &Keys, c: Combo) -> Result<(), String> {
    let mdn_request = match c.mdn {
        "sync" => MdnRequest::Sync {
            to: "edi@example.invalid".into(),
            signed: true,
        },
        "async" => MdnRequest::Async {
            to: "edi@example.invalid".into(),
            signed: true,
            url: "http://127.0.0.1:9/mdn".into(),
        },
        _ => MdnRequest::None,
    };
    let msg = build_with(
        X12,
        &Outgoing {
            from: "edigate",
            to: "partner",
            content_type: "application/edi-x12",
            filename: Some("po.x12"),
            subject: Some("EDI"),
            sign: c.signed.then_some(&k.edigate),
            encrypt: c.enc.map(|e| (&k.partner_cert, e)),
            mdn: mdn_request,
        },
        &SendOptions {
            digest: c.digest,
            compress: c.compress,
            ..SendOptions::default()
        },
    )
    .map_err(|e| format!("build: {e}"))?;
    let parsed = peer.ask(json!({
        "op": "parse", "sign": c.signed, "enc": c.py_enc(), "compress": c.compress,
        "digest": c.py_digest(), "mdn": c.mdn,
        "headers": fields_json(&msg.headers), "body": b64(&msg.body),
    }))?;
    if parsed["status"] != "processed" {
        return Err(format!("pyas2lib refused: {parsed}"));
    }
    if unb64(&parsed["payload"])? != X12 {
        return Err(format!(
            "pyas2lib read another payload: {}",
            parsed["payload"]
        ));
    }
    let mdn = &parsed["mdn"];
    if c.mdn == "none" {
        return if mdn.is_null() {
            Ok(())
        } else {
            Err("pyas2lib answered an MDN that was not asked for".into())
        };
    }
    if mdn.is_null() {
        return Err("pyas2lib answered no MDN".into());
    }
    let report = read_mdn_with(
        &headers_of(&mdn["headers"])?,
        &unb64(&mdn["body"])?,
        // pyas2lib signs its MDNs with the partner's key.
        &k.partner_cert,
        &msg,
        &MdnCheck {
            require_signed: true,
            // pyas2lib returns no MIC for unsigned messages; a returned MIC must still match.
            require_mic: c.signed,
            ..MdnCheck::default()
        },
    )
    .map_err(|e| format!("read_mdn: {e}"))?;
    if report.status != MdnStatus::Processed || !report.signed {
        return Err(format!("pyas2lib's MDN: {report:?}"));
    }
    if c.signed && report.returned_mic.is_none() {
        return Err("no MIC in pyas2lib's MDN".into());
    }
    Ok(())
}

#[test]
fn every_combination_both_ways_against_pyas2lib() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certs(dir.path(), &["edigate", "partner"]);
    let keys = Keys {
        edigate: identity(dir.path(), "edigate"),
        partner_cert: certificate(dir.path(), "partner"),
    };
    let mut peer = Peer::start(dir.path());
    let combos = all_combos();
    assert_eq!(combos.len(), 144);
    let mut failures = Vec::new();
    for c in &combos {
        if let Err(e) = pyas2lib_to_crate(&mut peer, &keys, *c) {
            failures.push(format!("pyas2lib → crate {}: {e}", c.name()));
        }
        if let Err(e) = crate_to_pyas2lib(&mut peer, &keys, *c) {
            failures.push(format!("crate → pyas2lib {}: {e}", c.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} round trips failed:\n{}\n(pyas2lib's log: {})",
        failures.len(),
        combos.len() * 2,
        failures.join("\n"),
        dir.path().join("batch.stderr").display()
    );
}
