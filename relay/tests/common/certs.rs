//! A private certificate authority and a server certificate it signed for 127.0.0.1 and
//! localhost, made fresh for each test with rcgen and written to a temporary folder, as
//! an operator with an internal CA would have them. Shared with pairprog-lsp's tests.

use std::path::PathBuf;

pub struct TestCerts {
    pub dir: PathBuf,
    /// The CA's certificate (PEM): what a client must trust. The relay's tests trust
    /// it from memory (`ca_pem`); pairprog-lsp's are given this file.
    #[allow(dead_code)]
    pub ca: PathBuf,
    /// The server's certificate chain (PEM): `--tls-cert`.
    pub cert: PathBuf,
    /// The server's private key (PEM, PKCS#8): `--tls-key`.
    pub key: PathBuf,
    /// A second key, of no certificate here: a key that does not match `cert`.
    pub other_key: PathBuf,
    pub ca_pem: String,
}

impl TestCerts {
    pub fn new(tag: &str) -> TestCerts {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let dir = std::env::temp_dir().join(format!(
            "pairprog-certs-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary folder for certificates");

        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pairprog test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("a self-signed CA");

        let server_key = KeyPair::generate().expect("a server key");
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "pairprog test relay");
        let server_cert = server_params
            .signed_by(&server_key, &ca_cert, &ca_key)
            .expect("a server certificate signed by the CA");
        let other_key = KeyPair::generate().expect("another key");

        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        let ca_pem = ca_cert.pem();
        TestCerts {
            ca: write("ca.pem", &ca_pem),
            cert: write("relay.pem", &server_cert.pem()),
            key: write("relay-key.pem", &server_key.serialize_pem()),
            other_key: write("other-key.pem", &other_key.serialize_pem()),
            ca_pem,
            dir,
        }
    }

    /// A rustls client configuration trusting this CA only.
    pub fn client_config(&self) -> std::sync::Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let ca = rustls::pki_types::CertificateDer::from_pem_slice(self.ca_pem.as_bytes())
            .expect("the CA in DER");
        roots.add(ca).expect("the CA is a usable root");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        std::sync::Arc::new(config)
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
