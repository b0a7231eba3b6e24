//! The cluster's security: the shared secret every control-plane call carries, the TLS
//! files, and the rule that a daemon without a secret listens on loopback only.
//!
//! The secret authenticates (`authorization: Bearer <secret>` metadata, checked in
//! constant time); TLS, when configured, encrypts and lets clients verify the server
//! against the cluster's CA. The server does not ask clients for certificates.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::credential::{Caller, WORKER_METHODS};
use ring::hmac;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The environment variable holding the cluster secret.
pub const ENV_SECRET: &str = "GALE_SECRET";
/// The environment variable holding the TLS certificate file (PEM).
pub const ENV_TLS_CERT: &str = "GALE_TLS_CERT";
/// The environment variable holding the TLS private key file (PEM, PKCS#8, PKCS#1 or SEC1).
pub const ENV_TLS_KEY: &str = "GALE_TLS_KEY";
/// The environment variable holding the TLS CA certificate file (PEM).
pub const ENV_TLS_CA: &str = "GALE_TLS_CA";
/// The environment variable naming the server name clients expect on nimbus's certificate.
pub const ENV_TLS_SERVER_NAME: &str = "GALE_TLS_SERVER_NAME";

/// The TLS server name clients expect unless told otherwise.
pub const DEFAULT_TLS_DOMAIN: &str = "localhost";

/// How a daemon or client authenticates and encrypts: the shared secret and optional TLS
/// files. The default has neither (loopback only, plaintext). `Debug` does not show the
/// secret.
#[derive(Clone, Default, Debug)]
pub struct Security {
    /// The cluster secret; `None`: no authentication (and loopback only).
    pub secret: Option<Secret>,
    /// The TLS files; `None`: plaintext.
    pub tls: Option<TlsFiles>,
    /// The name clients expect on nimbus's certificate (`GALE_TLS_SERVER_NAME`); `None`:
    /// the host of the nimbus URL.
    pub tls_server_name: Option<String>,
}

/// The cluster's shared secret: printable ASCII without spaces (so that it fits in a
/// metadata value), not empty. Its `Debug` does not show it.
#[derive(Clone)]
pub struct Secret(String);

/// The files TLS needs (all PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// This node's certificate (chain), presented by servers.
    pub cert: PathBuf,
    /// The private key of `cert`.
    pub key: PathBuf,
    /// The CA certificate(s) clients trust.
    pub ca: PathBuf,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A secret from a string (surrounding whitespace is trimmed). Errors if it is empty or
    /// has characters other than printable ASCII (`!` to `~`); the message never shows it.
    pub fn new(secret: &str) -> Result<Secret, String> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("the cluster secret is empty".to_owned());
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the cluster secret must be printable ASCII without spaces (e.g. hex or base64)"
                    .to_owned(),
            );
        }
        Ok(Secret(secret.to_owned()))
    }

    /// The secret in the `GALE_SECRET` environment variable; `None` if it is unset or
    /// empty.
    pub fn from_env() -> Result<Option<Secret>, String> {
        Self::from_var(env_var(ENV_SECRET)?.as_deref())
    }

    /// The secret in a file (its whole content, trimmed). Errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Secret, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
        Secret::new(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The secret's text, e.g. to hand it to another process or a data-plane handshake.
    /// Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this secret, compared in constant time (neither its content
    /// nor the secret's length leaks through timing).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        // HMAC(secret, candidate) == HMAC(secret, secret) iff candidate == secret; `verify`
        // compares the two tags in constant time.
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_bytes());
        let expected = hmac::sign(&key, self.0.as_bytes());
        hmac::verify(&key, candidate, expected.as_ref()).is_ok()
    }

    /// A secret from an environment variable's value (`None` or empty: no secret).
    fn from_var(value: Option<&str>) -> Result<Option<Secret>, String> {
        match value {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => Secret::new(v)
                .map(Some)
                .map_err(|e| format!("{ENV_SECRET}: {e}")),
        }
    }
}

/// An environment variable's value (`None` if unset); an error if it is not UTF-8.
fn env_var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

/// Reads a file for TLS, naming it (and what it is for) in the error.
fn read_tls_file(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the TLS {what} {}: {e}", path.display()))
}

/// Reads a PEM file that must hold at least one certificate.
fn read_certs(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    let pem = read_tls_file(what, path)?;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| format!("the TLS {what} {} is not valid PEM: {e}", path.display()))?;
        count += 1;
    }
    if count == 0 {
        return Err(format!(
            "the TLS {what} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(pem)
}

/// Reads a PEM file that must hold a private key.
fn read_key(path: &Path) -> Result<Vec<u8>, String> {
    let pem = read_tls_file("private key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "the TLS private key {} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            path.display()
        )
    })?;
    Ok(pem)
}

/// The refusal of a call that needs the cluster secret, made with a worker credential.
fn worker_denied(topology: &str) -> tonic::Status {
    tonic::Status::permission_denied(format!(
        "a worker credential (of topology `{topology}`) may only get its topology's \
         assignment, heartbeat and download its binary; this call needs the cluster secret"
    ))
}

/// What the `authorization` metadata value is: `Bearer <token>` (the scheme in any case).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    if value.len() < SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let token = value[SCHEME.len()..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

impl Security {
    /// Security from the environment: `GALE_SECRET` (unset or empty: no secret) and the
    /// TLS files `GALE_TLS_CERT`, `GALE_TLS_KEY`, `GALE_TLS_CA` (all three or none).
    pub fn from_env() -> Result<Security, String> {
        let mut vars = Vec::new();
        for name in [
            ENV_SECRET,
            ENV_TLS_CERT,
            ENV_TLS_KEY,
            ENV_TLS_CA,
            ENV_TLS_SERVER_NAME,
        ] {
            if let Some(value) = env_var(name)? {
                vars.push((name.to_owned(), value));
            }
        }
        Security::from_vars(vars)
    }

    /// Security from a list of environment variables, as [`Security::to_env`] makes them
    /// (other names are ignored; a later duplicate wins). This is [`Security::from_env`]
    /// without the process environment.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Security, String> {
        let (mut secret, mut cert, mut key, mut ca, mut server_name) =
            (None, None, None, None, None);
        for (name, value) in vars {
            let slot = match name.as_str() {
                ENV_SECRET => &mut secret,
                ENV_TLS_CERT => &mut cert,
                ENV_TLS_KEY => &mut key,
                ENV_TLS_CA => &mut ca,
                ENV_TLS_SERVER_NAME => &mut server_name,
                _ => continue,
            };
            *slot = Some(value);
        }
        let secret = Secret::from_var(secret.as_deref())?;
        let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let tls = match (nonempty(cert), nonempty(key), nonempty(ca)) {
            (None, None, None) => None,
            (Some(cert), Some(key), Some(ca)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
                ca: ca.into(),
            }),
            (cert, key, ca) => {
                let missing: Vec<&str> = [
                    (ENV_TLS_CERT, cert.is_none()),
                    (ENV_TLS_KEY, key.is_none()),
                    (ENV_TLS_CA, ca.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect();
                return Err(format!(
                    "TLS needs {ENV_TLS_CERT}, {ENV_TLS_KEY} and {ENV_TLS_CA} together; {} not set",
                    missing.join(" and ")
                ));
            }
        };
        Ok(Security {
            secret,
            tls,
            tls_server_name: nonempty(server_name),
        })
    }

    /// Environment variables that hand this security to a child process (a worker started
    /// by a supervisor): `GALE_SECRET` and, with TLS, `GALE_TLS_CERT`, `GALE_TLS_KEY` and
    /// `GALE_TLS_CA`, the paths made absolute (against the current directory) so the child
    /// may run elsewhere. Unset parts are left out; [`Security::from_env`] reads them back.
    /// Paths that are not UTF-8 are passed lossily.
    pub fn to_env(&self) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        if let Some(secret) = &self.secret {
            vars.push((ENV_SECRET.to_owned(), secret.0.clone()));
        }
        if let Some(tls) = &self.tls {
            for (name, path) in [
                (ENV_TLS_CERT, &tls.cert),
                (ENV_TLS_KEY, &tls.key),
                (ENV_TLS_CA, &tls.ca),
            ] {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                vars.push((name.to_owned(), path.to_string_lossy().into_owned()));
            }
        }
        if let Some(name) = &self.tls_server_name {
            vars.push((ENV_TLS_SERVER_NAME.to_owned(), name.clone()));
        }
        vars
    }

    /// Server side, for a call that needs the cluster secret: checks the
    /// `authorization: Bearer <secret>` metadata of a request, in constant time. `Ok` if no
    /// secret is configured. Otherwise an `UNAUTHENTICATED` status that says whether the
    /// secret was missing, malformed or wrong (never echoing what was sent), or
    /// `PERMISSION_DENIED` for a valid worker credential (see [`super::credential`]).
    pub fn check<T>(&self, req: &tonic::Request<T>) -> Result<(), tonic::Status> {
        match self.caller(req)? {
            Caller::Admin => Ok(()),
            Caller::Worker { topology } => Err(worker_denied(&topology)),
        }
    }

    /// Server side, for a worker call about topology `topology` (its assignment, its
    /// heartbeat, its binary): the cluster secret, or that topology's worker credential.
    /// Another topology's credential gets `PERMISSION_DENIED`. Returns who called.
    pub fn check_worker<T>(
        &self,
        req: &tonic::Request<T>,
        topology: &str,
    ) -> Result<Caller, tonic::Status> {
        let caller = self.caller(req)?;
        if caller.may_act_for(topology) {
            Ok(caller)
        } else {
            Err(tonic::Status::permission_denied(format!(
                "this worker credential is not for topology `{topology}`"
            )))
        }
    }

    /// Who the request's `authorization` metadata says the caller is ([`Caller::Admin`]
    /// when no secret is configured), or `UNAUTHENTICATED`.
    pub fn caller<T>(&self, req: &tonic::Request<T>) -> Result<Caller, tonic::Status> {
        self.caller_of(req.metadata().get("authorization").map(|v| v.as_bytes()))
    }

    /// The check of the [`super::auth_gate::AuthGate`] in front of every service, on the
    /// HTTP/2 headers of a request before its body is read: the caller must authenticate,
    /// and a worker credential may only call [`WORKER_METHODS`] (the handler then checks
    /// the topology), so an upload with one is refused before a byte of it is read.
    pub fn gate(
        &self,
        path: &str,
        headers: &tonic::codegen::http::HeaderMap,
    ) -> Result<(), tonic::Status> {
        match self.caller_of(headers.get("authorization").map(|v| v.as_bytes()))? {
            Caller::Admin => Ok(()),
            Caller::Worker { topology } => {
                let method = path.rsplit('/').next().unwrap_or_default();
                let service = path.trim_start_matches('/').split('/').next();
                if service == Some("gale.cluster.Nimbus") && WORKER_METHODS.contains(&method) {
                    Ok(())
                } else {
                    Err(worker_denied(&topology))
                }
            }
        }
    }

    /// The security a worker of topology `id` is started with: the same TLS settings, and
    /// instead of the cluster secret, the topology's worker credential (none without a
    /// secret). Errors if the id cannot be part of a credential (not printable ASCII).
    pub fn for_worker(&self, id: &str) -> Result<Security, String> {
        let secret = match &self.secret {
            None => None,
            Some(s) => Some(
                Secret::new(&super::credential::derive(s.expose().as_bytes(), id)).map_err(
                    |_| format!("topology id `{id}` cannot be part of a worker credential"),
                )?,
            ),
        };
        Ok(Security {
            secret,
            ..self.clone()
        })
    }

    /// The key this process's data plane authenticates with, derived from its secret or
    /// worker credential ([`super::credential::data_plane_key`]): the workers of one
    /// topology share it. `None` without a secret.
    pub fn data_plane_key(&self) -> Option<std::sync::Arc<[u8]>> {
        self.secret
            .as_ref()
            .map(|s| super::credential::data_plane_key(s.expose().as_bytes()).into())
    }

    fn caller_of(&self, value: Option<&[u8]>) -> Result<Caller, tonic::Status> {
        let Some(secret) = &self.secret else {
            return Ok(Caller::Admin);
        };
        let Some(value) = value else {
            return Err(tonic::Status::unauthenticated(
                "missing cluster secret: the request has no `authorization` metadata \
                 (give the client the cluster secret with GALE_SECRET or --secret-file)",
            ));
        };
        let Some(token) = bearer_token(value) else {
            return Err(tonic::Status::unauthenticated(
                "malformed `authorization` metadata: expected `Bearer <cluster secret>`",
            ));
        };
        if token.starts_with(super::credential::PREFIX.as_bytes()) {
            return match super::credential::verify(secret.expose().as_bytes(), token) {
                Some(topology) => Ok(Caller::Worker {
                    topology: topology.to_owned(),
                }),
                None => Err(tonic::Status::unauthenticated(
                    "invalid worker credential (not issued by this cluster's secret)",
                )),
            };
        }
        if secret.matches(token) {
            Ok(Caller::Admin)
        } else {
            Err(tonic::Status::unauthenticated(
                "wrong cluster secret (check GALE_SECRET or --secret-file on the client)",
            ))
        }
    }

    /// Client side: adds the `authorization: Bearer <secret>` metadata to a request
    /// (replacing any); nothing without a secret.
    pub fn authorize<T>(&self, req: &mut tonic::Request<T>) {
        let Some(secret) = &self.secret else { return };
        // A `Secret` is printable ASCII, always a valid metadata value.
        if let Ok(value) = MetadataValue::try_from(format!("Bearer {}", secret.0)) {
            req.metadata_mut().insert("authorization", value);
        }
    }

    /// Whether a daemon may listen on `addr`: anywhere with a secret; without one only on
    /// a loopback address (`127.0.0.0/8`, `::1`, or `::ffff:127.x.y.z`), since anyone who
    /// can reach it could otherwise control the cluster.
    pub fn check_bind(&self, addr: &SocketAddr) -> Result<(), String> {
        let loopback = match addr {
            SocketAddr::V4(a) => a.ip().is_loopback(),
            SocketAddr::V6(a) => {
                a.ip().is_loopback() || a.ip().to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        if loopback || self.secret.is_some() {
            Ok(())
        } else {
            Err(format!(
                "refusing to listen on {addr} without a cluster secret: anyone who can reach \
                 it could control the cluster; set GALE_SECRET or --secret-file to listen on \
                 other interfaces, or listen on a loopback address such as 127.0.0.1"
            ))
        }
    }

    /// The tonic server TLS config from the files: this node's certificate and key
    /// (`None` without TLS). The files are read and checked now; errors name the file.
    pub fn server_tls(&self) -> Result<Option<ServerTlsConfig>, String> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let cert = read_certs("certificate", &tls.cert)?;
        let key = read_key(&tls.key)?;
        Ok(Some(
            ServerTlsConfig::new().identity(Identity::from_pem(cert, key)),
        ))
    }

    /// The tonic client TLS config: trusts the `ca` file and expects the server's
    /// certificate to name [`DEFAULT_TLS_DOMAIN`] (`localhost`). `None` without TLS.
    pub fn client_tls(&self) -> Result<Option<ClientTlsConfig>, String> {
        self.client_tls_for(DEFAULT_TLS_DOMAIN)
    }

    /// Like [`Security::client_tls`], but expecting the server's certificate to name
    /// `domain` (a DNS name or an IP address).
    pub fn client_tls_for(&self, domain: &str) -> Result<Option<ClientTlsConfig>, String> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let ca = read_certs("CA certificate", &tls.ca)?;
        Ok(Some(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .domain_name(domain),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secured(secret: &str) -> Security {
        Security {
            tls_server_name: None,
            secret: Some(Secret::new(secret).unwrap()),
            tls: None,
        }
    }

    fn request(auth: Option<&str>) -> tonic::Request<()> {
        let mut req = tonic::Request::new(());
        if let Some(auth) = auth {
            req.metadata_mut()
                .insert("authorization", auth.parse().unwrap());
        }
        req
    }

    fn certs() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/certs")
    }

    fn tls_files() -> TlsFiles {
        TlsFiles {
            cert: certs().join("node.pem"),
            key: certs().join("node.key"),
            ca: certs().join("ca.pem"),
        }
    }

    fn unauthenticated(result: Result<(), tonic::Status>) -> String {
        let status = result.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        status.message().to_owned()
    }

    #[test]
    fn check_without_secret_accepts_anything() {
        let open = Security::default();
        open.check(&request(None)).unwrap();
        open.check(&request(Some("Bearer whatever"))).unwrap();
        open.check(&request(Some("garbage"))).unwrap();
    }

    #[test]
    fn check_with_secret() {
        let sec = secured("s3cr3t-value");
        sec.check(&request(Some("Bearer s3cr3t-value"))).unwrap();
        sec.check(&request(Some("bearer  s3cr3t-value "))).unwrap();

        let msg = unauthenticated(sec.check(&request(None)));
        assert!(msg.contains("missing"), "{msg}");

        for wrong in [
            "Bearer s3cr3t-valuE",
            "Bearer s3cr3t",
            "Bearer s3cr3t-value2",
        ] {
            let msg = unauthenticated(sec.check(&request(Some(wrong))));
            assert!(msg.contains("wrong"), "{msg}");
            assert!(!msg.contains("s3cr3t"), "{msg}");
        }
        for bad in [
            "s3cr3t-value",
            "Basic s3cr3t-value",
            "Bearer",
            "Bearer   ",
            "",
        ] {
            let msg = unauthenticated(sec.check(&request(Some(bad))));
            assert!(msg.contains("malformed"), "{bad:?}: {msg}");
            assert!(!msg.contains("s3cr3t"), "{msg}");
        }
        // A header value that is not ASCII at all.
        let mut req = tonic::Request::new(());
        req.metadata_mut().insert(
            "authorization",
            tonic::metadata::MetadataValue::try_from(&b"Bearer \xff\xfe"[..]).unwrap(),
        );
        let msg = unauthenticated(sec.check(&req));
        assert!(msg.contains("wrong"), "{msg}");
    }

    #[test]
    fn authorize_then_check() {
        let sec = secured("abc");
        let mut req = request(Some("Bearer old"));
        sec.authorize(&mut req);
        assert_eq!(req.metadata().get("authorization").unwrap(), "Bearer abc");
        sec.check(&req).unwrap();
        let msg = unauthenticated(secured("other").check(&req));
        assert!(msg.contains("wrong"), "{msg}");

        let mut plain = request(None);
        Security::default().authorize(&mut plain);
        assert!(plain.metadata().get("authorization").is_none());
    }

    #[test]
    fn a_worker_credential_is_for_worker_calls_of_its_topology_only() {
        let nimbus = secured("cluster-secret");
        let worker = nimbus.for_worker("wc-3").unwrap();
        let token = worker.secret.as_ref().unwrap().expose().to_owned();
        assert!(!token.contains("cluster-secret"), "{token}");
        let mut req = tonic::Request::new(());
        worker.authorize(&mut req);
        assert_eq!(
            nimbus.caller(&req).unwrap(),
            Caller::Worker {
                topology: "wc-3".into()
            }
        );
        // Worker calls of its own topology: allowed; of another: refused.
        nimbus.check_worker(&req, "wc-3").unwrap();
        let status = nimbus.check_worker(&req, "wc-4").unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        // Admin calls: refused, saying why.
        let status = nimbus.check(&req).unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(
            status.message().contains("worker credential")
                && status.message().contains("cluster secret"),
            "{status:?}"
        );
        // The secret itself may do either.
        let admin = request(Some("Bearer cluster-secret"));
        nimbus.check(&admin).unwrap();
        assert_eq!(nimbus.check_worker(&admin, "wc-4").unwrap(), Caller::Admin);
        // A credential from another cluster's secret is not a credential here.
        let foreign = secured("other").for_worker("wc-3").unwrap();
        let mut req = tonic::Request::new(());
        foreign.authorize(&mut req);
        let msg = unauthenticated(nimbus.check(&req));
        assert!(msg.contains("invalid worker credential"), "{msg}");
        // Without a secret there is nothing to hand out.
        assert!(
            Security::default()
                .for_worker("wc-3")
                .unwrap()
                .secret
                .is_none()
        );
        assert!(nimbus.for_worker("has space").is_err());
    }

    #[test]
    fn the_gate_lets_a_worker_credential_through_to_worker_methods_only() {
        let nimbus = secured("cluster-secret");
        let token = nimbus.for_worker("wc-3").unwrap().secret.unwrap();
        let mut headers = tonic::codegen::http::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("Bearer {}", token.expose()).parse().unwrap(),
        );
        for ok in ["GetAssignment", "WorkerHeartbeat", "Download"] {
            nimbus
                .gate(&format!("/gale.cluster.Nimbus/{ok}"), &headers)
                .unwrap();
        }
        for denied in [
            "/gale.cluster.Nimbus/Submit",
            "/gale.cluster.Nimbus/Kill",
            "/gale.cluster.Nimbus/Rebalance",
            "/gale.cluster.Nimbus/List",
            "/gale.cluster.Nimbus/SupervisorHeartbeat",
            "/other.Service/GetAssignment",
            "",
        ] {
            let status = nimbus.gate(denied, &headers).unwrap_err();
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{denied}");
        }
        let mut admin = tonic::codegen::http::HeaderMap::new();
        admin.insert("authorization", "Bearer cluster-secret".parse().unwrap());
        nimbus.gate("/gale.cluster.Nimbus/Submit", &admin).unwrap();
        let status = nimbus
            .gate(
                "/gale.cluster.Nimbus/GetAssignment",
                &tonic::codegen::http::HeaderMap::new(),
            )
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn workers_of_a_topology_share_a_data_plane_key_others_do_not() {
        let nimbus = secured("cluster-secret");
        let a = nimbus.for_worker("a-1").unwrap();
        let a_again = nimbus.for_worker("a-1").unwrap();
        let b = nimbus.for_worker("b-1").unwrap();
        assert_eq!(a.data_plane_key(), a_again.data_plane_key());
        assert_ne!(a.data_plane_key(), b.data_plane_key());
        assert_ne!(a.data_plane_key(), nimbus.data_plane_key());
        assert!(Security::default().data_plane_key().is_none());
    }

    #[test]
    fn secrets() {
        assert!(Secret::new("").is_err());
        assert!(Secret::new("  \n").is_err());
        let err = Secret::new("has space").unwrap_err();
        assert!(!err.contains("has space"), "{err}");
        assert!(Secret::new("naïve").is_err());
        assert_eq!(Secret::new(" x\n").unwrap().expose(), "x");
        let s = Secret::new("abc").unwrap();
        assert!(s.matches(b"abc"));
        assert!(!s.matches(b"abd"));
        assert!(!s.matches(b"ab"));
        assert!(!s.matches(b""));
        assert!(!s.matches(b"abcd"));
    }

    #[test]
    fn secret_from_file() {
        let path = std::env::temp_dir().join(format!("gale-secret-{}", std::process::id()));
        std::fs::write(&path, "  file-secret\n").unwrap();
        let s = Secret::from_file(&path).unwrap();
        assert_eq!(s.expose(), "file-secret");
        std::fs::write(&path, "\n").unwrap();
        let err = Secret::from_file(&path).unwrap_err();
        assert!(
            err.contains(&path.display().to_string()) && err.contains("empty"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();
        let err = Secret::from_file(&path).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let sec = Security {
            tls_server_name: None,
            secret: Some(Secret::new("topsecret-xyz").unwrap()),
            tls: Some(tls_files()),
        };
        let debug = format!("{sec:?} {:?} {sec:#?}", sec.secret);
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }

    #[test]
    fn check_bind() {
        let open = Security::default();
        for ok in [
            "127.0.0.1:6627",
            "127.1.2.3:0",
            "[::1]:6627",
            "[::ffff:127.0.0.1]:1",
        ] {
            open.check_bind(&ok.parse().unwrap()).unwrap();
        }
        for bad in [
            "0.0.0.0:6627",
            "[::]:6627",
            "10.0.0.5:6627",
            "[::ffff:10.0.0.1]:1",
        ] {
            let err = open.check_bind(&bad.parse().unwrap()).unwrap_err();
            assert!(
                err.contains("GALE_SECRET") && err.contains("--secret-file"),
                "{err}"
            );
        }
        let sec = secured("k");
        for ok in ["0.0.0.0:6627", "[::]:6627", "127.0.0.1:1", "10.0.0.5:6627"] {
            sec.check_bind(&ok.parse().unwrap()).unwrap();
        }
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn env_round_trip() {
        let none = Security::default();
        assert!(none.to_env().is_empty());
        let back = Security::from_vars(none.to_env()).unwrap();
        assert!(back.secret.is_none() && back.tls.is_none());

        let full = Security {
            tls_server_name: None,
            secret: Some(Secret::new("rt-secret").unwrap()),
            tls: Some(TlsFiles {
                cert: "/etc/gale/node.pem".into(),
                key: "/etc/gale/node.key".into(),
                ca: "relative/ca.pem".into(),
            }),
        };
        let env = full.to_env();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, [ENV_SECRET, ENV_TLS_CERT, ENV_TLS_KEY, ENV_TLS_CA]);
        let back = Security::from_vars(env).unwrap();
        assert_eq!(back.secret.unwrap().expose(), "rt-secret");
        let tls = back.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/etc/gale/node.pem"));
        assert_eq!(tls.key, PathBuf::from("/etc/gale/node.key"));
        assert!(tls.ca.is_absolute() && tls.ca.ends_with("relative/ca.pem"));

        let secret_only = Security::from_vars(vars(&[(ENV_SECRET, "x"), ("PATH", "/bin")]));
        let secret_only = secret_only.unwrap();
        assert!(secret_only.tls.is_none());
        let back = Security::from_vars(secret_only.to_env()).unwrap();
        assert_eq!(back.secret.unwrap().expose(), "x");
    }

    #[test]
    fn from_vars_errors() {
        let empty = Security::from_vars(vars(&[(ENV_SECRET, "")])).unwrap();
        assert!(empty.secret.is_none());
        let err = Security::from_vars(vars(&[(ENV_SECRET, "a b")])).unwrap_err();
        assert!(err.contains(ENV_SECRET) && !err.contains("a b"), "{err}");
        let err =
            Security::from_vars(vars(&[(ENV_TLS_CERT, "c.pem"), (ENV_TLS_KEY, "")])).unwrap_err();
        assert!(
            err.contains(&format!("{ENV_TLS_KEY} and {ENV_TLS_CA} not set")),
            "{err}"
        );
    }

    #[test]
    fn tls_configs_load() {
        let sec = Security {
            tls_server_name: None,
            secret: None,
            tls: Some(tls_files()),
        };
        assert!(sec.server_tls().unwrap().is_some());
        assert!(sec.client_tls().unwrap().is_some());
        assert!(sec.client_tls_for("127.0.0.1").unwrap().is_some());
        assert!(Security::default().server_tls().unwrap().is_none());
        assert!(Security::default().client_tls().unwrap().is_none());
    }

    #[test]
    fn tls_errors_name_the_file() {
        let missing = certs().join("missing.pem");
        let shown = missing.display().to_string();
        let with = |f: fn(&mut TlsFiles, PathBuf)| {
            let mut files = tls_files();
            f(&mut files, missing.clone());
            Security {
                tls_server_name: None,
                secret: None,
                tls: Some(files),
            }
        };
        let err = with(|t, p| t.cert = p).server_tls().unwrap_err();
        assert!(err.contains(&shown) && err.contains("certificate"), "{err}");
        let err = with(|t, p| t.key = p).server_tls().unwrap_err();
        assert!(err.contains(&shown) && err.contains("private key"), "{err}");
        let err = with(|t, p| t.ca = p).client_tls().unwrap_err();
        assert!(err.contains(&shown) && err.contains("CA"), "{err}");

        // Files that exist but hold the wrong thing.
        let key = certs().join("node.key");
        let cert = certs().join("node.pem");
        let swapped = Security {
            tls_server_name: None,
            secret: None,
            tls: Some(TlsFiles {
                cert: key.clone(),
                key: cert.clone(),
                ca: key.clone(),
            }),
        };
        let err = swapped.server_tls().unwrap_err();
        assert!(
            err.contains(&key.display().to_string()) && err.contains("no PEM certificate"),
            "{err}"
        );
        let err = swapped.client_tls().unwrap_err();
        assert!(err.contains(&key.display().to_string()), "{err}");
        let swapped_key = Security {
            tls_server_name: None,
            secret: None,
            tls: Some(TlsFiles {
                key: cert.clone(),
                ..tls_files()
            }),
        };
        let err = swapped_key.server_tls().unwrap_err();
        assert!(
            err.contains(&cert.display().to_string()) && err.contains("private key"),
            "{err}"
        );
    }

    /// A real round trip: a TLS gRPC server whose one unary method checks the secret.
    mod round_trip {
        use super::*;
        use std::convert::Infallible;
        use std::task::{Context, Poll};
        use tonic::codegen::{BoxFuture, Service, http};

        const PATH: &str = "/gale.test.Ping/Ping";

        #[derive(Clone)]
        struct Ping(Security);

        struct PingMethod(Security);

        impl tonic::server::UnaryService<()> for PingMethod {
            type Response = ();
            type Future = BoxFuture<tonic::Response<()>, tonic::Status>;
            fn call(&mut self, req: tonic::Request<()>) -> Self::Future {
                let result = self.0.check(&req).map(|()| tonic::Response::new(()));
                Box::pin(async move { result })
            }
        }

        impl Service<http::Request<tonic::body::Body>> for Ping {
            type Response = http::Response<tonic::body::Body>;
            type Error = Infallible;
            type Future = BoxFuture<Self::Response, Infallible>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
                let method = PingMethod(self.0.clone());
                Box::pin(async move {
                    let codec = tonic_prost::ProstCodec::<(), ()>::default();
                    Ok(tonic::server::Grpc::new(codec).unary(method, req).await)
                })
            }
        }

        impl tonic::server::NamedService for Ping {
            const NAME: &'static str = "gale.test.Ping";
        }

        async fn ping(
            channel: tonic::transport::Channel,
            security: &Security,
        ) -> Result<(), tonic::Status> {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let mut req = tonic::Request::new(());
            security.authorize(&mut req);
            let codec = tonic_prost::ProstCodec::<(), ()>::default();
            grpc.unary(req, http::uri::PathAndQuery::from_static(PATH), codec)
                .await
                .map(|_| ())
        }

        #[tokio::test]
        async fn tls_and_secret() {
            let server_side = Security {
                tls_server_name: None,
                secret: Some(Secret::new("round-trip").unwrap()),
                tls: Some(tls_files()),
            };
            let incoming =
                tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap())
                    .unwrap();
            let addr = incoming.local_addr().unwrap();
            let server = tonic::transport::Server::builder()
                .tls_config(server_side.server_tls().unwrap().unwrap())
                .unwrap()
                .add_service(Ping(server_side.clone()))
                .serve_with_incoming(incoming);
            let server = tokio::spawn(server);

            for domain in ["localhost", "127.0.0.1"] {
                let channel = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
                    .unwrap()
                    .tls_config(server_side.client_tls_for(domain).unwrap().unwrap())
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                ping(channel.clone(), &server_side).await.unwrap();
                let wrong = Security {
                    tls_server_name: None,
                    secret: Some(Secret::new("nope").unwrap()),
                    tls: None,
                };
                let status = ping(channel.clone(), &wrong).await.unwrap_err();
                assert_eq!(status.code(), tonic::Code::Unauthenticated);
                assert!(status.message().contains("wrong"), "{status:?}");
                let status = ping(channel, &Security::default()).await.unwrap_err();
                assert!(status.message().contains("missing"), "{status:?}");
            }

            // A server name the certificate does not cover fails the handshake.
            let bad = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
                .unwrap()
                .tls_config(server_side.client_tls_for("example.com").unwrap().unwrap())
                .unwrap()
                .connect()
                .await;
            assert!(bad.is_err());
            // So does plaintext.
            let plain = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await;
            if let Ok(channel) = plain {
                assert!(ping(channel, &server_side).await.is_err());
            }
            server.abort();
        }
    }
}
