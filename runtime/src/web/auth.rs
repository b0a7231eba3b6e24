//! Who may read and act over HTTP: the same rules as the gRPC control plane. With a
//! cluster secret, a request carries it as `Authorization: Bearer <secret>`, or comes from
//! a browser session opened with it (`POST /api/v1/session`): a cookie that is `HttpOnly`
//! and `SameSite=Strict`, plus, on every action, the session's CSRF token in
//! `X-CSRF-Token`. Reads need it too unless reads are public. Without a secret the server
//! listens only on loopback, and an action from a browser (a request that names its page's
//! `Origin`) still needs a session's CSRF token: another site's page cannot read one, so
//! it cannot act through the browser of someone on that machine.

use axum::http::{HeaderMap, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "gale_session";

/// The header that carries a session's CSRF token on an action.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The most sessions kept (the oldest goes first).
const MAX_SESSIONS: usize = 1024;

/// Checks a candidate secret (in constant time).
pub type SecretCheck = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// What the server asks of its callers.
#[derive(Clone)]
pub struct Policy {
    /// The cluster secret's check; `None`: no secret.
    pub secret: Option<SecretCheck>,
    /// Reads need no secret.
    pub public_read: bool,
    /// The server speaks TLS: cookies get `Secure`.
    pub tls: bool,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("secret", &self.secret.is_some())
            .field("public_read", &self.public_read)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credential at all.
    #[error(
        "missing cluster secret: send `Authorization: Bearer <secret>`, or log in (POST /api/v1/session)"
    )]
    Missing,
    /// An `Authorization` header that is not a bearer token.
    #[error("malformed `Authorization` header: expected `Bearer <cluster secret>`")]
    Malformed,
    /// The wrong secret.
    #[error("wrong cluster secret")]
    Wrong,
    /// A session cookie that is unknown or expired.
    #[error("the session has expired: log in again")]
    Expired,
    /// An action from a session without its CSRF token.
    #[error("missing or wrong CSRF token: send the session's token in `X-CSRF-Token`")]
    Csrf,
    /// Without a secret, a request naming a host other than a loopback one (a page of
    /// another site whose name was pointed at 127.0.0.1: DNS rebinding).
    #[error(
        "without a cluster secret this server answers only requests to a loopback host (localhost, 127.0.0.1, [::1])"
    )]
    Host,
}

impl Denied {
    /// The HTTP status: 401 when the caller must authenticate, 403 when what it sent is
    /// refused.
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::Missing | Denied::Malformed | Denied::Expired => StatusCode::UNAUTHORIZED,
            Denied::Wrong | Denied::Csrf | Denied::Host => StatusCode::FORBIDDEN,
        }
    }
}

/// One browser session.
#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    expires: Instant,
    /// Opened with the secret (not an anonymous session of a server without one).
    authenticated: bool,
}

/// The open sessions, by cookie value.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

/// A session as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The cookie's value.
    pub token: String,
    /// Its CSRF token.
    pub csrf: String,
}

impl Sessions {
    /// No sessions.
    pub fn new() -> Self {
        Sessions::default()
    }

    /// Opens a session at `now`.
    pub fn open(
        &self,
        now: Instant,
        authenticated: bool,
    ) -> Result<Opened, ring::error::Unspecified> {
        let token = random_hex()?;
        let csrf = random_hex()?;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, s| s.expires > now);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            open.remove(&oldest);
        }
        open.insert(
            token.clone(),
            Session {
                csrf: csrf.clone(),
                expires: now + SESSION_TTL,
                authenticated,
            },
        );
        Ok(Opened { token, csrf })
    }

    /// Closes the session `token`.
    pub fn close(&self, token: &str) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// The live session `token`: its CSRF token and whether it was opened with the secret.
    fn get(&self, token: &str, now: Instant) -> Option<(String, bool)> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(token)
            .filter(|s| s.expires > now)
            .map(|s| (s.csrf.clone(), s.authenticated))
    }

    /// The live session of a request's cookie, with its CSRF token.
    pub fn of_request(&self, headers: &HeaderMap, now: Instant) -> Option<(Opened, bool)> {
        let token = cookie(headers, COOKIE)?;
        let (csrf, authenticated) = self.get(&token, now)?;
        Some((Opened { token, csrf }, authenticated))
    }
}

/// Equal bytes, compared in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// 32 random bytes in hex.
fn random_hex() -> Result<String, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value of a session (`Secure` under TLS).
pub fn set_cookie(token: &str, tls: bool) -> String {
    format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if tls { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends the session cookie.
pub fn clear_cookie(tls: bool) -> String {
    format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        if tls { "; Secure" } else { "" }
    )
}

/// Whether the `Host` a request names is a loopback one (`localhost`, `127.x.y.z`,
/// `[::1]`, with or without a port).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get("host").and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Policy {
    /// Without a secret, a request must name a loopback host: the server listens only
    /// there, and a page of another site reaching it under its own name (DNS rebinding)
    /// is refused. With a secret, the secret decides.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if self.secret.is_some() || loopback_host(headers) {
            Ok(())
        } else {
            Err(Denied::Host)
        }
    }

    /// Whether a request with `headers` may read (`action` false) or act (`action` true).
    pub fn check(
        &self,
        headers: &HeaderMap,
        action: bool,
        sessions: &Sessions,
        now: Instant,
    ) -> Result<(), Denied> {
        self.check_host(headers)?;
        if let Some(value) = headers.get("authorization") {
            let Some(token) = value.as_bytes().strip_prefix(b"Bearer ") else {
                return Err(Denied::Malformed);
            };
            return match &self.secret {
                None => Ok(()),
                Some(check) if check(token) => Ok(()),
                Some(_) => Err(Denied::Wrong),
            };
        }
        if !action && (self.public_read || self.secret.is_none()) {
            return Ok(());
        }
        let session = sessions.of_request(headers, now);
        let Some((opened, authenticated)) = session else {
            return Err(if cookie(headers, COOKIE).is_some() {
                Denied::Expired
            } else if self.secret.is_some() {
                Denied::Missing
            } else if headers.contains_key("origin") {
                // A browser (it names the page's origin on every cross-site POST, and
                // would send no cookie there either): another site's page acting through
                // it. A script without a browser sends no `Origin`.
                Denied::Csrf
            } else {
                return Ok(());
            });
        };
        if self.secret.is_some() && !authenticated {
            return Err(Denied::Missing);
        }
        if action {
            let sent = headers.get(CSRF_HEADER).map(|v| v.as_bytes());
            if sent.is_none_or(|s| !same(s, opened.csrf.as_bytes())) {
                return Err(Denied::Csrf);
            }
        }
        Ok(())
    }

    /// Whether `secret` opens a session (always, without a secret).
    pub fn admits(&self, secret: Option<&str>) -> Result<(), Denied> {
        match (&self.secret, secret) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(Denied::Missing),
            (Some(check), Some(s)) if check(s.as_bytes()) => Ok(()),
            (Some(_), Some(_)) => Err(Denied::Wrong),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn policy(secret: Option<&'static str>, public_read: bool) -> Policy {
        Policy {
            secret: secret.map(|s| -> SecretCheck { Arc::new(move |c: &[u8]| c == s.as_bytes()) }),
            public_read,
            tls: false,
        }
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("a header value"));
        }
        h
    }

    #[test]
    fn a_bearer_secret_reads_and_acts_and_a_wrong_one_is_refused() {
        let p = policy(Some("s3cret"), false);
        let s = Sessions::new();
        let now = Instant::now();
        let ok = headers(&[("authorization", "Bearer s3cret".into())]);
        assert_eq!(p.check(&ok, false, &s, now), Ok(()));
        assert_eq!(p.check(&ok, true, &s, now), Ok(()));
        let wrong = headers(&[("authorization", "Bearer nope".into())]);
        assert_eq!(p.check(&wrong, true, &s, now), Err(Denied::Wrong));
        assert_eq!(Denied::Wrong.status(), StatusCode::FORBIDDEN);
        let basic = headers(&[("authorization", "Basic czNjcmV0".into())]);
        assert_eq!(p.check(&basic, false, &s, now), Err(Denied::Malformed));
        assert_eq!(
            p.check(&HeaderMap::new(), false, &s, now),
            Err(Denied::Missing)
        );
        assert_eq!(Denied::Missing.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn public_reads_need_no_secret_but_actions_do() {
        let p = policy(Some("s3cret"), true);
        let s = Sessions::new();
        let now = Instant::now();
        assert_eq!(p.check(&HeaderMap::new(), false, &s, now), Ok(()));
        assert_eq!(
            p.check(&HeaderMap::new(), true, &s, now),
            Err(Denied::Missing)
        );
    }

    #[test]
    fn a_session_acts_only_with_its_csrf_token_and_expires() {
        let p = policy(Some("s3cret"), false);
        let s = Sessions::new();
        let now = Instant::now();
        assert_eq!(p.admits(Some("nope")), Err(Denied::Wrong));
        assert_eq!(p.admits(None), Err(Denied::Missing));
        assert_eq!(p.admits(Some("s3cret")), Ok(()));
        let opened = s.open(now, true).expect("random bytes");
        let cookie = format!("other=1; {COOKIE}={}", opened.token);
        let read = headers(&[("cookie", cookie.clone())]);
        assert_eq!(p.check(&read, false, &s, now), Ok(()));
        assert_eq!(p.check(&read, true, &s, now), Err(Denied::Csrf));
        let forged = headers(&[("cookie", cookie.clone()), (CSRF_HEADER, "0".repeat(64))]);
        assert_eq!(p.check(&forged, true, &s, now), Err(Denied::Csrf));
        let act = headers(&[
            ("cookie", cookie.clone()),
            (CSRF_HEADER, opened.csrf.clone()),
        ]);
        assert_eq!(p.check(&act, true, &s, now), Ok(()));
        assert_eq!(
            p.check(&act, true, &s, now + SESSION_TTL + Duration::from_secs(1)),
            Err(Denied::Expired)
        );
        s.close(&opened.token);
        assert_eq!(p.check(&act, true, &s, now), Err(Denied::Expired));
    }

    #[test]
    fn without_a_secret_a_browser_still_needs_a_csrf_token_to_act() {
        let p = policy(None, false);
        let s = Sessions::new();
        let now = Instant::now();
        let local = headers(&[("host", "127.0.0.1:6628".into())]);
        assert_eq!(p.check(&local, false, &s, now), Ok(()));
        // A script (no `Origin`) acts; a page of another site does not.
        assert_eq!(p.check(&local, true, &s, now), Ok(()));
        let page = headers(&[
            ("host", "localhost:6628".into()),
            ("origin", "https://evil.example".into()),
        ]);
        assert_eq!(p.check(&page, true, &s, now), Err(Denied::Csrf));
        let opened = s.open(now, false).expect("random bytes");
        let act = headers(&[
            ("host", "[::1]:6628".into()),
            ("cookie", format!("{COOKIE}={}", opened.token)),
            (CSRF_HEADER, opened.csrf.clone()),
        ]);
        assert_eq!(p.check(&act, true, &s, now), Ok(()));
        // An anonymous session is no login once the server has a secret.
        let secured = policy(Some("s3cret"), false);
        assert_eq!(secured.check(&act, true, &s, now), Err(Denied::Missing));
    }

    #[test]
    fn without_a_secret_only_loopback_hosts_are_answered() {
        let p = policy(None, false);
        let s = Sessions::new();
        let now = Instant::now();
        for host in [
            "localhost",
            "LOCALHOST:80",
            "127.0.0.1:6628",
            "127.3.4.5",
            "[::1]:1",
        ] {
            let h = headers(&[("host", host.into())]);
            assert_eq!(p.check(&h, false, &s, now), Ok(()), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:6628",
            "10.0.0.1:6628",
            "[::2]:1",
        ] {
            let h = headers(&[("host", host.into())]);
            assert_eq!(p.check(&h, false, &s, now), Err(Denied::Host), "{host}");
        }
        assert_eq!(
            p.check(&HeaderMap::new(), false, &s, now),
            Err(Denied::Host)
        );
        // With a secret, the secret decides.
        let secured = policy(Some("s3cret"), true);
        let h = headers(&[("host", "gale.example:6628".into())]);
        assert_eq!(secured.check(&h, false, &s, now), Ok(()));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie("abc", true);
        assert!(
            c.starts_with("gale_session=abc; HttpOnly; SameSite=Strict; Path=/"),
            "{c}"
        );
        assert!(c.ends_with("; Secure"), "{c}");
        assert!(!set_cookie("abc", false).contains("Secure"));
    }
}
