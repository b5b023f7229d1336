//! The server side of TLS for the gateway's listeners (an AS2 channel, an email channel's
//! STARTTLS): rustls on ring, from PEM files named in the configuration.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// A TLS acceptor for `files`' certificate chain and key. The error names the file and what is
/// wrong with it.
pub(crate) fn server_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("certificate {}: {e}", files.certificate.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "certificate {}: no certificate in it",
            files.certificate.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!(
            "key {}: {e} (an unencrypted PEM key: PKCS#8, PKCS#1 or SEC1)",
            files.key.display()
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("the certificate and key do not make a server identity: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
