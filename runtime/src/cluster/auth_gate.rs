//! The gate in front of every nimbus service: the cluster secret (or a worker credential,
//! for the worker calls only) is checked from the request's headers before anything reads
//! its body, so an unauthenticated request is answered `UNAUTHENTICATED` (a worker
//! credential on another call `PERMISSION_DENIED`) at once and its body (whatever its
//! size) is never buffered or decoded; dropping the request resets the HTTP/2 stream.
//!
//! Each handler checks the secret again (defence in depth); this gate is what keeps
//! unauthenticated bytes out of memory.

use super::security::Security;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

/// A service behind the secret check.
#[derive(Debug, Clone)]
pub struct AuthGate<S> {
    inner: S,
    security: Security,
}

impl<S> AuthGate<S> {
    /// `inner`, reachable only with the secret of `security` (anything, without a secret).
    pub fn new(inner: S, security: Security) -> Self {
        AuthGate { inner, security }
    }
}

impl<S> Service<http::Request<Body>> for AuthGate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self.security.gate(req.uri().path(), req.headers()) {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(status) => {
                // The body is dropped unread with the request.
                drop(req);
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

impl<S: NamedService> NamedService for AuthGate<S> {
    const NAME: &'static str = S::NAME;
}
