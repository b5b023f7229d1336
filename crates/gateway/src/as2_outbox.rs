//! Sending over AS2: partners' documents as AS2 messages checked by their MDNs, and our own
//! asynchronous MDNs to partners.
//!
//! A delivery to a partner whose `[as2]` has a `url` is built once per round of attempts
//! (signed and encrypted per the partnership, to the partner's valid certificate ending last,
//! with our signing key), kept in the outbox with its `Message-ID` and MIC, and POSTed — the same
//! bytes on every retry, so the partner recognises a retransmission. The MDN is checked strictly
//! with [`as2::read_mdn`]: signed by one of the partner's certificates, answering our
//! `Message-ID`, returning our MIC. Anything else fails the attempt (retried with backoff, then
//! dead-lettered). A sync MDN comes in the response; for an async one the delivery waits in
//! [`outbox::DeliveryState::AwaitingReceipt`] until the MDN is POSTed to an AS2 channel's
//! `/mdn`, or the wait runs out and the message is sent again. Every MDN is kept with its
//! delivery as evidence, late ones too.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use outbox::{Delivery, Outbox, Receipt, ReceiptVerdict, Transmission};

use crate::as2_channel::{As2Partner, OwnAs2, decode_http, encode_http};
use crate::sinks::DeliveryError;
use crate::{Gateway, clock, telemetry};

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The MDN came and checked out.
    Delivered,
    /// Sent; the asynchronous MDN is awaited until then.
    AwaitingMdn {
        /// When waiting ends.
        until: u64,
    },
}

fn http_client(timeout_ms: u64) -> Result<reqwest::Client, String> {
    let timeout = Duration::from_millis(timeout_ms);
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // A moved partner is a configuration change, shown as failing deliveries.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(crate::as2_channel::REPORTING_UA)
        .build()
        .map_err(|e| e.to_string())
}

/// A partner's AS2 endpoint.
pub struct As2Outbox {
    partner: Arc<As2Partner>,
    own: Arc<OwnAs2>,
    url: reqwest::Url,
    client: reqwest::Client,
}

impl std::fmt::Debug for As2Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("As2Outbox")
            .field("partner", &self.partner.partner)
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl As2Outbox {
    /// The endpoint of `partner`, whose `[as2]` has a url; checked at start.
    pub fn new(partner: Arc<As2Partner>, own: Arc<OwnAs2>) -> Result<As2Outbox, String> {
        let raw = partner.settings.url.clone().unwrap_or_default();
        let url = reqwest::Url::parse(&raw)
            .map_err(|e| format!("partner {}: [as2] url {raw:?}: {e}", partner.partner))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "partner {}: [as2] url {raw:?} is not http or https",
                partner.partner
            ));
        }
        if partner.settings.mdn == partner::As2MdnMode::Async && own.async_mdn_url.is_none() {
            return Err(format!(
                "partner {} asks for async MDNs, but [as2] has no async_mdn_url (where partners \
                 POST them: an AS2 channel's address followed by /mdn)",
                partner.partner
            ));
        }
        let client = http_client(own.timeout_ms)?;
        Ok(As2Outbox {
            partner,
            own,
            url,
            client,
        })
    }

    /// Sends one document (named `file_name`) and checks its MDN.
    pub fn deliver(
        &self,
        outbox: &Outbox,
        d: &Delivery,
        file_name: &str,
        payload: &[u8],
    ) -> Result<Sent, DeliveryError> {
        let what = || format!("AS2 POST to {}", self.url);
        let local = |e: outbox::Error| DeliveryError::Unavailable {
            what: what(),
            message: format!("outbox: {e}"),
        };
        let t = match outbox.transmission(d.id).map_err(local)? {
            Some(t) if t.cycle_started_at == d.cycle_started_at => t,
            _ => {
                let t = self.build(d, file_name, payload)?;
                outbox.record_transmission(d.id, &t).map_err(local)?;
                t
            }
        };
        let rt = tokio::runtime::Handle::try_current().map_err(|e| DeliveryError::Unavailable {
            what: what(),
            message: format!("no runtime: {e}"),
        })?;
        let mut request = self.client.post(self.url.clone()).body(t.body.clone());
        for (k, v) in &t.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let answered = rt.block_on(async {
            let r = request.send().await?;
            let status = r.status();
            let headers: Vec<(String, String)> = r
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = r.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body.to_vec()))
        });
        let (status, headers, body) = answered.map_err(|e| DeliveryError::Unavailable {
            what: what(),
            message: e.to_string(),
        })?;
        let code = status.as_u16();
        if status.is_server_error() || code == 408 || code == 429 {
            return Err(DeliveryError::Unavailable {
                what: what(),
                message: format!("HTTP {status}"),
            });
        }
        if !status.is_success() {
            return Err(DeliveryError::Rejected {
                what: what(),
                status: code,
                message: format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
            });
        }
        if self.partner.settings.mdn == partner::As2MdnMode::Async {
            tracing::info!(delivery = %d.id, as2_message_id = %t.reference, partner = %self.partner.partner, "AS2 message sent; awaiting its MDN");
            return Ok(Sent::AwaitingMdn {
                until: clock::now_ms().saturating_add(self.own.mdn_timeout_ms),
            });
        }
        if body.is_empty() {
            return Err(DeliveryError::Unavailable {
                what: what(),
                message: "no MDN in the response".into(),
            });
        }
        let (receipt, _) =
            check_mdn(outbox, &self.partner, d, &t, &headers, &body, "sync").map_err(local)?;
        match receipt.verdict {
            ReceiptVerdict::Accepted | ReceiptVerdict::Warning => Ok(Sent::Delivered),
            ReceiptVerdict::Refused => Err(DeliveryError::Unavailable {
                what: what(),
                message: format!("MDN not accepted: {}", receipt.detail),
            }),
        }
    }

    fn build(
        &self,
        d: &Delivery,
        file_name: &str,
        payload: &[u8],
    ) -> Result<Transmission, DeliveryError> {
        let unsendable = |m: String| {
            DeliveryError::Unsendable(format!("AS2 message for {}: {m}", self.partner.partner))
        };
        let s = &self.partner.settings;
        let certificates = self.partner.certificates();
        let encrypt_to = match (s.encrypt, certificates.first()) {
            (false, _) => None,
            (true, Some(c)) => Some((*c, s.encryption)),
            (true, None) => {
                return Err(unsendable(
                    "every certificate of the partner has expired; add its new one".into(),
                ));
            }
        };
        let content_type = match d.content_kind.as_str() {
            k @ ("application/edi-x12" | "application/edifact" | "application/xml") => k,
            _ => "application/octet-stream",
        };
        let mdn = match s.mdn {
            partner::As2MdnMode::Sync => as2::MdnRequest::Sync {
                to: self.own.name.clone(),
                signed: true,
            },
            partner::As2MdnMode::Async => as2::MdnRequest::Async {
                to: self.own.name.clone(),
                signed: true,
                url: self.own.async_mdn_url.clone().unwrap_or_default(),
            },
        };
        let sent = as2::build_with(
            payload,
            &as2::Outgoing {
                from: &s.us,
                to: &s.id,
                content_type,
                filename: Some(file_name),
                subject: Some(file_name),
                sign: s.sign.then(|| self.own.signing()),
                encrypt: encrypt_to,
                mdn,
            },
            &as2::SendOptions {
                digest: s.digest,
                compress: s.compress,
                ..as2::SendOptions::default()
            },
        )
        .map_err(|e| unsendable(e.to_string()))?;
        tracing::info!(delivery = %d.id, as2_message_id = %sent.message_id, partner = %self.partner.partner, signed = s.sign, encrypted = s.encrypt, "AS2 message built");
        Ok(Transmission {
            reference: sent.message_id,
            check: sent.mic.to_field(),
            headers: sent.headers,
            body: sent.body,
            cycle_started_at: d.cycle_started_at,
            at: clock::now_ms(),
        })
    }
}

/// Checks an MDN against what was sent and records it with the delivery, raw, whatever it says;
/// returns it with the delivery as the recording transaction left it.
fn check_mdn(
    outbox: &Outbox,
    partner: &As2Partner,
    d: &Delivery,
    t: &Transmission,
    headers: &[(String, String)],
    body: &[u8],
    via: &str,
) -> Result<(Receipt, Delivery), outbox::Error> {
    let (digest, algorithm) = t
        .check
        .split_once(',')
        .map_or((t.check.as_str(), "sha-256"), |(d, a)| (d.trim(), a.trim()));
    let sent = as2::OutgoingMessage {
        message_id: t.reference.clone(),
        headers: Vec::new(),
        body: Vec::new(),
        mic: as2::Mic {
            digest: digest.to_string(),
            algorithm: algorithm.to_string(),
        },
    };
    let mut outcome: Result<as2::MdnReport, String> = Err(format!(
        "partner {} has no valid certificate to check the MDN with",
        partner.partner
    ));
    for cert in partner.certificates() {
        match as2::read_mdn(headers, body, cert, &sent, true) {
            Ok(report) => {
                let wrong_signer = !report.signed
                    && matches!(&report.status, as2::MdnStatus::Failed(m) if m.starts_with("MDN signature"));
                outcome = Ok(report);
                if !wrong_signer {
                    break;
                }
            }
            Err(e) => {
                outcome = Err(format!("unreadable MDN: {e}"));
                break;
            }
        }
    }
    let (verdict, detail, signed) = match &outcome {
        Ok(r) => match &r.status {
            as2::MdnStatus::Processed => (
                ReceiptVerdict::Accepted,
                r.disposition.clone().unwrap_or_default(),
                r.signed,
            ),
            as2::MdnStatus::Warning(w) => (ReceiptVerdict::Warning, w.clone(), r.signed),
            as2::MdnStatus::Failed(reason) => (ReceiptVerdict::Refused, reason.clone(), r.signed),
        },
        Err(reason) => (ReceiptVerdict::Refused, reason.clone(), false),
    };
    let raw = encode_http(None, headers, body);
    let receipt = Receipt {
        at: clock::now_ms(),
        reference: t.reference.clone(),
        verdict,
        detail,
        signed,
        via: via.to_string(),
        size: raw.len() as u64,
    };
    let recorded = outbox.record_receipt(d.id, &receipt, &raw)?;
    if verdict == ReceiptVerdict::Refused {
        tracing::warn!(delivery = %d.id, as2_message_id = %t.reference, partner = %partner.partner, via, reason = %receipt.detail, "AS2 MDN not accepted");
    }
    telemetry::as2_mdn(&partner.partner, &t.reference, verdict.as_str(), via);
    Ok((receipt, recorded))
}

/// Takes an asynchronous MDN POSTed to an AS2 channel's `/mdn`: finds the delivery by the
/// `Original-Message-ID`, checks the MDN, keeps it, and settles the delivery.
pub(crate) fn receive_async_mdn(
    gw: &Gateway,
    channel: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (StatusCode, String) {
    let outbox = &gw.pipeline.outbox;
    let reference = match as2::mdn_original_message_id(headers, body) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("not an MDN: {e}");
            if let Err(e) =
                gw.as2_refuse(channel, None, "as2-mdn-unreadable", headers, body, &reason)
            {
                tracing::error!(channel, error = %e, "cannot keep an unreadable MDN");
            }
            return (StatusCode::BAD_REQUEST, reason);
        }
    };
    let found = outbox.delivery_by_reference(&reference).and_then(|d| {
        Ok(match d {
            Some(d) => outbox.transmission(d.id)?.map(|t| (d, t)),
            None => None,
        })
    });
    let (d, t) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            let reason = format!(
                "an MDN for AS2 message {reference}, which was not sent from here (or was purged)"
            );
            // Kept raw like any refused input, for an operator to look at.
            if let Err(e) =
                gw.as2_refuse(channel, None, "as2-mdn-unmatched", headers, body, &reason)
            {
                tracing::error!(channel, error = %e, "cannot keep an unmatched MDN");
            }
            return (StatusCode::NOT_FOUND, reason);
        }
        Err(e) => {
            tracing::error!(channel, error = %e, "cannot look the MDN's message up");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later".into());
        }
    };
    let Some(partner) = d
        .destination
        .strip_prefix("partner:")
        .and_then(|p| gw.as2_partnerships.of_partner(p))
    else {
        return (
            StatusCode::NOT_FOUND,
            format!("message {reference} did not go to an AS2 partner"),
        );
    };
    let (receipt, recorded) = match check_mdn(outbox, partner, &d, &t, headers, body, "async") {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(channel, error = %e, "cannot record the MDN");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later".into());
        }
    };
    let now = clock::now_ms();
    let settled = match receipt.verdict {
        // The state the receipt was recorded in, not the one read before: the delivery loop may
        // have moved the delivery from in flight to awaiting its MDN in between.
        ReceiptVerdict::Accepted | ReceiptVerdict::Warning => match recorded.state.kind() {
            // Still being sent (the MDN came before the POST's answer was taken in), or being
            // sent again: taking in the answer finds this receipt and settles the delivery.
            outbox::DeliveryStateKind::InFlight
            | outbox::DeliveryStateKind::Delivered
            | outbox::DeliveryStateKind::Dropped => Ok(()),
            _ => outbox.confirm_receipt(d.id, now).map(|done| {
                telemetry::delivered(&done, now);
            }),
        },
        ReceiptVerdict::Refused => outbox
            .refuse_receipt(
                d.id,
                &format!("MDN not accepted: {}", receipt.detail),
                now,
                &gw.retry,
            )
            .map(|_| ()),
    };
    if let Err(e) = settled {
        tracing::error!(channel, delivery = %d.id, error = %e, "MDN recorded; the delivery's state could not be changed");
    }
    (
        StatusCode::OK,
        format!("MDN for {reference} recorded: {}", receipt.verdict.as_str()),
    )
}

/// Posts our asynchronous MDNs to the URLs partners gave.
pub struct MdnSender {
    client: reqwest::Client,
}

impl std::fmt::Debug for MdnSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnSender").finish_non_exhaustive()
    }
}

impl MdnSender {
    /// A sender whose requests take at most `timeout_ms`.
    pub fn new(timeout_ms: u64) -> Result<MdnSender, String> {
        Ok(MdnSender {
            client: http_client(timeout_ms)?,
        })
    }

    /// POSTs one MDN as kept by the AS2 channel (the URL first).
    pub fn deliver(&self, payload: &[u8]) -> Result<(), DeliveryError> {
        let (url, headers, body) = decode_http(payload);
        let url = url.unwrap_or_default();
        let what = || format!("AS2 MDN POST to {url}");
        let parsed = reqwest::Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                DeliveryError::Unsendable(format!("{}: not an http or https URL", what()))
            })?;
        let rt = tokio::runtime::Handle::try_current().map_err(|e| DeliveryError::Unavailable {
            what: what(),
            message: format!("no runtime: {e}"),
        })?;
        let mut request = self.client.post(parsed).body(body);
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let status = rt
            .block_on(async { request.send().await.map(|r| r.status()) })
            .map_err(|e| DeliveryError::Unavailable {
                what: what(),
                message: e.to_string(),
            })?;
        let code = status.as_u16();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || code == 408 || code == 429 {
            Err(DeliveryError::Unavailable {
                what: what(),
                message: format!("HTTP {status}"),
            })
        } else {
            Err(DeliveryError::Rejected {
                what: what(),
                status: code,
                message: format!("HTTP {status}"),
            })
        }
    }
}
