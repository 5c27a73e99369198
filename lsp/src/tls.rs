//! TLS toward the relay, for `wss://` and `https://`: which certificate authorities are
//! trusted, and how a certificate failure is told to the user.
//!
//! Trusted are the system's certificate store (where a company installs its own CAs),
//! Mozilla's list built into the binary (so a machine or container without a store
//! still reaches public relays), and the PEM file of the `caFile` setting, for a relay
//! whose certificate comes from a private CA or is self-signed.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path} (setting caFile or PAIRPROG_CA_FILE): {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("the CA file {path} (setting caFile or PAIRPROG_CA_FILE) holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("the CA file {path} (setting caFile or PAIRPROG_CA_FILE) has an unusable certificate: {reason}")]
    BadCertificate { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// The client configuration for connections to the relay, trusting the usual roots
/// plus the certificates of `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        // A missing or partly unreadable system store is not fatal: the built-in list
        // and caFile still apply.
        tracing::debug!(%error, "cannot load part of the system's certificate store");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system root certificates");
    if let Some(path) = ca_file {
        let file_error = |reason: String| TlsError::CaFile {
            path: path.to_owned(),
            reason,
        };
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|e| file_error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_error(e.to_string()))?;
        if certificates.is_empty() {
            return Err(TlsError::NoCertificate {
                path: path.to_owned(),
            });
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|e| TlsError::BadCertificate {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
        }
    }
    // The ring provider is named rather than taken from the process default, which
    // rustls can only choose by itself when exactly one provider is compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// When `error` (or an error it wraps) is a TLS certificate failure, a sentence for the
/// user saying so and what to do about it. Retrying cannot fix those, so the caller
/// stops and reports instead of reconnecting forever.
pub fn certificate_failure(error: &(dyn StdError + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = find_rustls_error(e) {
            return match tls {
                rustls::Error::InvalidCertificate(reason) => Some(format!(
                    "the relay's TLS certificate is not accepted ({reason:?}); if it comes \
                     from a private CA or is self-signed, point the caFile setting \
                     (or PAIRPROG_CA_FILE) at that CA's PEM file"
                )),
                other => Some(format!("TLS with the relay failed: {other}")),
            };
        }
        current = e.source();
    }
    None
}

/// The rustls error in `e`, directly or inside the `std::io::Error` that tokio-rustls
/// wraps it in (whose `source` does not always reach it).
fn find_rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    e.downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// An error and every error it wraps, joined, for messages shown to the user: the
/// outermost often says only "error sending request".
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_builds_without_a_ca_file() {
        client_config(None).expect("a client configuration from the usual roots alone");
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let error = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(matches!(error, TlsError::CaFile { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn a_file_without_certificates_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("pairprog-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let path = dir.join("not-a-ca.pem");
        std::fs::write(&path, "just some text\n").expect("write the file");
        let error = client_config(Some(&path)).unwrap_err();
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn certificate_failures_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let message = certificate_failure(&io).expect("recognised as a certificate failure");
        assert!(message.contains("caFile"), "{message}");
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(certificate_failure(&plain), None);
    }
}
