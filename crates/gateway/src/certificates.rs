//! Partners' AS2 certificates about to expire (or expired): a rollover needs the partner's new
//! certificate in place before the old one ends, so the gateway says so in time.

use serde::{Deserialize, Serialize};

/// How many days ahead `edigate status` warns, unless `[alerts] certificate_days` says.
pub const WARN_DAYS: i64 = 30;

/// A certificate ending within the warning window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiring {
    /// The partner.
    pub partner: String,
    /// The certificate file.
    pub path: String,
    /// The end of its validity, as OpenSSL prints it.
    pub not_after: String,
    /// Whole days left; negative once expired.
    pub days_left: i64,
}

/// Every partner certificate ending within `within_days` days, soonest first. A partner with a
/// newer certificate that stays valid past the window is not warned about: that is a rollover
/// under way.
pub fn expiring(partners: &partner::Partners, within_days: i64) -> Vec<Expiring> {
    let mut out = Vec::new();
    for p in partners.all() {
        let Some(as2) = &p.as2 else { continue };
        let lasting = as2
            .certificates
            .iter()
            .any(|c| c.certificate.days_left().is_ok_and(|d| d > within_days));
        if lasting {
            continue;
        }
        for c in &as2.certificates {
            let Ok(days_left) = c.certificate.days_left() else {
                continue;
            };
            if days_left <= within_days {
                out.push(Expiring {
                    partner: p.id.clone(),
                    path: c.path.display().to_string(),
                    not_after: c.certificate.not_after(),
                    days_left,
                });
            }
        }
    }
    out.sort_by_key(|e| e.days_left);
    out
}
