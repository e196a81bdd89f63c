//! A throw-away public key infrastructure for TLS tests, written as PEM files.
//!
//! [`Pki::generate`] makes a CA, a server certificate it signed (for `localhost` and
//! `127.0.0.1`, so it verifies whether a client dials the name or the address), a
//! client certificate it signed, and a second, unrelated CA that signed nothing the
//! servers use: the "wrong CA" of negative tests. Keys are ECDSA P-256 (rcgen's
//! default), which OpenSSL (Valkey) and rustls (the exporter) both accept.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The PEM files, in a temp dir that lives as long as this value.
pub struct Pki {
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed neither certificate above.
    pub other_ca_cert: PathBuf,
    /// A client certificate signed by the other CA.
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
    dir: TempDir,
}

impl Pki {
    pub fn generate() -> Pki {
        let dir = tempfile::Builder::new().prefix("valkey-pki-").tempdir().expect("create a temp dir for the PKI");
        let path = |name: &str| dir.path().join(name);

        let ca = new_ca("valkey-slot-exporter test CA");
        let other_ca = new_ca("some other CA");
        write(&path("ca.crt"), &ca.pem());
        write(&path("other-ca.crt"), &other_ca.pem());

        let (server_cert, server_key) = leaf(&ca, "localhost", &["localhost", "127.0.0.1"]);
        write(&path("server.crt"), &server_cert);
        write(&path("server.key"), &server_key);
        let (client_cert, client_key) = leaf(&ca, "exporter client", &["exporter.client.test"]);
        write(&path("client.crt"), &client_cert);
        write(&path("client.key"), &client_key);
        let (other_client_cert, other_client_key) = leaf(&other_ca, "stranger", &["stranger.test"]);
        write(&path("other-client.crt"), &other_client_cert);
        write(&path("other-client.key"), &other_client_key);

        Pki {
            ca_cert: path("ca.crt"),
            server_cert: path("server.crt"),
            server_key: path("server.key"),
            client_cert: path("client.crt"),
            client_key: path("client.key"),
            other_ca_cert: path("other-ca.crt"),
            other_client_cert: path("other-client.crt"),
            other_client_key: path("other-client.key"),
            dir,
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn new_ca(common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, common_name);
    let key = KeyPair::generate().expect("generate a CA key");
    CertifiedIssuer::self_signed(params, key).expect("self-sign the CA")
}

/// A certificate for `names` signed by `issuer`: (certificate PEM, key PEM).
fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, common_name: &str, names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("certificate parameters");
    params.distinguished_name.push(DnType::CommonName, common_name);
    let key = KeyPair::generate().expect("generate a key");
    let cert = params.signed_by(&key, issuer).expect("sign the certificate");
    (cert.pem(), key.serialize_pem())
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
