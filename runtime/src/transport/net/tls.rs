//! TLS for the data plane (rustls with the ring provider).

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A byte stream: plain TCP or TLS over TCP.
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A connection's stream, whichever kind.
pub(super) type BoxStream = Box<dyn Stream>;

/// TLS settings of the data plane: the rustls client configuration (used when dialing a
/// peer, whose certificate must be valid for the peer's IP address) and server
/// configuration (used when accepting).
#[derive(Clone)]
pub struct NetTls {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

impl fmt::Debug for NetTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NetTls { .. }")
    }
}

/// A certificate chain and its private key from PEM files; errors name the file.
pub fn read_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let read =
        |path: &Path| std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()));
    let certs = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("parsing {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| format!("parsing the private key {}: {e}", key.display()))?;
    Ok((certs, private))
}

impl NetTls {
    /// Mutual TLS from PEM files: this worker's certificate chain `cert`, its PKCS#8 private
    /// key `key`, and the cluster's CA certificates `ca`. Both ends present their
    /// certificate and verify the other's against `ca`; a dialer also checks that the
    /// acceptor's certificate is valid for the acceptor's IP address.
    pub fn from_pem_files(cert: &Path, key: &Path, ca: &Path) -> Result<NetTls, String> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
        };
        let (certs, private) = read_identity(cert, key)?;
        let mut roots = RootCertStore::empty();
        for ca_cert in CertificateDer::pem_slice_iter(&read(ca)?) {
            let ca_cert = ca_cert.map_err(|e| format!("parsing {}: {e}", ca.display()))?;
            roots
                .add(ca_cert)
                .map_err(|e| format!("a CA certificate in {}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("no CA certificate in {}", ca.display()));
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|e| format!("the client certificate verifier: {e}"))?;
        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), private.clone_key())
            .map_err(|e| {
                format!(
                    "the certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, private)
            .map_err(|e| {
                format!(
                    "the certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
        Ok(NetTls::from_configs(Arc::new(client), Arc::new(server)))
    }

    /// TLS from ready rustls configurations (the client one is used to dial peers, with
    /// the peer's IP address as the server name; the server one to accept them).
    pub fn from_configs(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> NetTls {
        NetTls { client, server }
    }

    /// The client side of TLS on a dialed connection to `ip`.
    pub(super) async fn connect(&self, ip: IpAddr, tcp: TcpStream) -> io::Result<BoxStream> {
        let stream = TlsConnector::from(Arc::clone(&self.client))
            .connect(ServerName::from(ip), tcp)
            .await?;
        Ok(Box::new(stream))
    }

    /// The server side of TLS on an accepted connection.
    pub(super) async fn accept(&self, tcp: TcpStream) -> io::Result<BoxStream> {
        let stream = TlsAcceptor::from(Arc::clone(&self.server))
            .accept(tcp)
            .await?;
        Ok(Box::new(stream))
    }
}
