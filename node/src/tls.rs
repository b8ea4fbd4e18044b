//! HTTPS for the API: the node's server configuration from PEM files, a
//! self-signed pair for `node init --tls`, and the two ways a client trusts
//! a node: a CA file, or the SHA-256 fingerprint of the node's certificate
//! pinned in its configuration.
//!
//! rustls with the ring provider (ring is already built for libp2p's noise).
//! Servers offer HTTP/2 and HTTP/1.1 by ALPN.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The prefix of a certificate fingerprint's text.
pub const FINGERPRINT_PREFIX: &str = "sha256:";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The self-signed certificate could not be made.
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A fingerprint is not `sha256:` and 64 hex digits.
    #[error("a certificate fingerprint is `sha256:` and 64 hex digits, not {0:?}")]
    Fingerprint(String),
}

/// Makes ring this process's default rustls provider, which every HTTP
/// client built on reqwest here needs (reqwest is built without one of its
/// own, to avoid a second crypto library). Idempotent.
pub fn install_default_provider() {
    // An error means a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The certificates in a PEM file, leaf first.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(path, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, error))?;
    if certificates.is_empty() {
        return Err(file_error(path, "holds no certificate"));
    }
    Ok(certificates)
}

/// The server side: the certificate chain and key from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certificates = read_certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| file_error(key, error))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certificates, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A self-signed certificate for `names` (host names or IP addresses), and
/// its key, both PEM.
pub fn self_signed(names: &[String]) -> Result<(String, String), TlsError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

/// `sha256:` and the hex SHA-256 of a certificate's DER bytes.
pub fn fingerprint(certificate: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, certificate);
    format!("{FINGERPRINT_PREFIX}{}", hex::encode(digest.as_ref()))
}

/// How a client decides to trust a node's certificate.
#[derive(Clone, Debug)]
pub enum Trust {
    /// Certificates signed by one of these (a self-signed certificate can be
    /// its own CA).
    Ca(Vec<CertificateDer<'static>>),
    /// Exactly the certificate with this SHA-256 fingerprint.
    Pin([u8; 32]),
}

impl Trust {
    /// The CAs in a PEM file.
    pub fn ca_file(path: &Path) -> Result<Self, TlsError> {
        read_certificates(path).map(Trust::Ca)
    }

    /// A fingerprint as [`fingerprint`] prints it.
    pub fn pin(text: &str) -> Result<Self, TlsError> {
        let hex_digits = text.strip_prefix(FINGERPRINT_PREFIX).unwrap_or(text);
        let bytes = hex::decode(hex_digits).map_err(|_| TlsError::Fingerprint(text.to_owned()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TlsError::Fingerprint(text.to_owned()))?;
        Ok(Trust::Pin(bytes))
    }

    /// The client configuration that trusts what this says, and nothing else.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let mut config = match self {
            Trust::Ca(certificates) => {
                let mut roots = rustls::RootCertStore::empty();
                for certificate in certificates {
                    roots.add(certificate.clone())?;
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::Pin(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
                    pin: *pin,
                    provider: provider(),
                }))
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Accepts exactly one certificate, by fingerprint; the handshake's
/// signatures are still checked against it.
#[derive(Debug)]
struct PinnedCertificate {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if digest.as_ref() == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_loads_as_a_server_and_pins_by_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        server_config(&cert_path, &key_path).unwrap();
        let der = read_certificates(&cert_path).unwrap().remove(0);
        let printed = fingerprint(der.as_ref());
        assert!(matches!(Trust::pin(&printed).unwrap(), Trust::Pin(_)));
        Trust::ca_file(&cert_path).unwrap().client_config().unwrap();
        assert!(matches!(
            Trust::pin("sha256:abcd"),
            Err(TlsError::Fingerprint(_))
        ));
        assert!(matches!(
            server_config(&key_path, &key_path),
            Err(TlsError::File { .. })
        ));
    }
}
