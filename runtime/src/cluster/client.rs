//! A connection to nimbus: the gRPC channel (TLS when configured) and the secret added to
//! every call.

use super::proto::nimbus_client::NimbusClient;
use super::security::Security;
use std::time::Duration;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Adds the cluster secret to every request.
#[derive(Clone, Debug)]
pub struct Auth(Security);

impl Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        self.0.authorize(&mut req);
        Ok(req)
    }
}

/// A nimbus client that authenticates every call.
pub type Client = NimbusClient<InterceptedService<Channel, Auth>>;

/// The largest gRPC message a client or nimbus accepts (binaries travel in 1 MiB chunks).
pub const MAX_MESSAGE: usize = 16 << 20;

/// Why a client will not connect to a nimbus URL. None of these is retryable: the URL or
/// the security settings must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not `http://host:port` or `https://host:port`.
    #[error("invalid nimbus address `{0}`: expected http://HOST:PORT or https://HOST:PORT")]
    BadUrl(String),
    /// `https://` without TLS files: there is no CA to check the server against.
    #[error(
        "nimbus address `{0}` is https:// but no TLS files are configured (set GALE_TLS_CERT, GALE_TLS_KEY and GALE_TLS_CA, or --tls-cert/--tls-key/--tls-ca)"
    )]
    HttpsWithoutTls(String),
    /// The secret would cross the network in clear text.
    #[error(
        "refusing to send the cluster secret in clear text to {0}: configure TLS (GALE_TLS_CERT, GALE_TLS_KEY, GALE_TLS_CA) or reach nimbus on a loopback address"
    )]
    SecretInClear(String),
}

/// How to reach nimbus at a URL: the URL to dial, and the TLS server name to expect (`None`:
/// plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The URL dialled: `https://` whenever TLS is configured, whatever the user wrote.
    pub url: String,
    /// The name the server's certificate must carry: the configured server name, else
    /// the URL's host.
    pub tls_name: Option<String>,
}

/// Decides how to reach `url` with `security`, without any I/O except resolving a host
/// name to tell whether it is loopback. With TLS configured the connection is TLS even for
/// an `http://` URL; without TLS, a secret is sent only to a loopback address.
pub fn route(url: &str, security: &Security) -> Result<Route, ConnectError> {
    let bad = || ConnectError::BadUrl(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() || !matches!(scheme, "http" | "https") {
        return Err(bad());
    }
    if security.tls.is_some() {
        let name = security
            .tls_server_name
            .clone()
            .unwrap_or_else(|| host.to_string());
        return Ok(Route {
            url: format!("https://{rest}"),
            tls_name: Some(name),
        });
    }
    if scheme == "https" {
        return Err(ConnectError::HttpsWithoutTls(url.to_string()));
    }
    if security.secret.is_some() && !is_loopback_host(host, authority) {
        return Err(ConnectError::SecretInClear(host.to_string()));
    }
    Ok(Route {
        url: url.to_string(),
        tls_name: None,
    })
}

/// True if `host` is `localhost` or every address it resolves to is loopback.
fn is_loopback_host(host: &str, authority: &str) -> bool {
    use std::net::ToSocketAddrs;
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let addrs: Vec<std::net::SocketAddr> = authority
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
}

/// Connects to nimbus at `url` (`http://host:port`, or `https://`; with TLS configured the
/// connection is TLS either way, see [`route`]).
pub async fn connect(url: &str, security: &Security) -> Result<Client, String> {
    let route = route(url, security).map_err(|e| e.to_string())?;
    let mut endpoint = Endpoint::from_shared(route.url.clone())
        .map_err(|e| format!("invalid nimbus address `{url}`: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60));
    if let Some(name) = &route.tls_name
        && let Some(tls) = security.client_tls_for(name)?
    {
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS settings for `{url}`: {e}"))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot reach nimbus at {url}: {}", source_chain(&e)))?;
    Ok(
        NimbusClient::with_interceptor(channel, Auth(security.clone()))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
    )
}

/// An error and its causes, joined (tonic's transport errors say little on their own).
pub fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A gRPC error as a user reads it: the message, with the code when it adds something.
pub fn status_text(s: &tonic::Status) -> String {
    match s.code() {
        tonic::Code::Unauthenticated => format!("rejected: {}", s.message()),
        _ => s.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::security::{Secret, TlsFiles};

    fn with(secret: bool, tls: bool, name: Option<&str>) -> Security {
        Security {
            secret: secret.then(|| Secret::new("s3cret").unwrap()),
            tls: tls.then(|| TlsFiles {
                cert: "c".into(),
                key: "k".into(),
                ca: "a".into(),
            }),
            tls_server_name: name.map(str::to_string),
        }
    }

    #[test]
    fn tls_is_used_whatever_the_url_says() {
        let r = route("http://10.1.2.3:6627", &with(true, true, None)).unwrap();
        assert_eq!(r.url, "https://10.1.2.3:6627");
        assert_eq!(r.tls_name.as_deref(), Some("10.1.2.3"));
        let r = route(
            "http://10.1.2.3:6627",
            &with(true, true, Some("nimbus.prod")),
        )
        .unwrap();
        assert_eq!(r.tls_name.as_deref(), Some("nimbus.prod"));
        let r = route("https://[::1]:6627", &with(false, true, None)).unwrap();
        assert_eq!(r.tls_name.as_deref(), Some("::1"));
    }

    #[test]
    fn a_secret_never_goes_in_clear_text_beyond_loopback() {
        let e = route("http://10.1.2.3:6627", &with(true, false, None)).unwrap_err();
        assert_eq!(e, ConnectError::SecretInClear("10.1.2.3".into()));
        assert!(e.to_string().contains("clear text to 10.1.2.3"), "{e}");
        for ok in [
            "http://127.0.0.1:6627",
            "http://localhost:1",
            "http://[::1]:6627",
        ] {
            let r = route(ok, &with(true, false, None)).unwrap();
            assert_eq!((r.url.as_str(), r.tls_name), (ok, None));
        }
        // Without a secret nothing secret is sent: plaintext anywhere is the user's call.
        assert!(route("http://10.1.2.3:6627", &with(false, false, None)).is_ok());
    }

    #[test]
    fn bad_urls() {
        let sec = with(false, false, None);
        for bad in ["10.1.2.3:6627", "ftp://h:1", "http://", "http://:1"] {
            assert_eq!(
                route(bad, &sec),
                Err(ConnectError::BadUrl(bad.into())),
                "{bad}"
            );
        }
        assert!(matches!(
            route("https://h:1", &sec),
            Err(ConnectError::HttpsWithoutTls(_))
        ));
    }
}
