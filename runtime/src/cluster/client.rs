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

/// Connects to nimbus at `url` (`http://host:port`, or `https://` with TLS configured).
pub async fn connect(url: &str, security: &Security) -> Result<Client, String> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("invalid nimbus address `{url}`: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60));
    if let Some(tls) = security.client_tls()? {
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
