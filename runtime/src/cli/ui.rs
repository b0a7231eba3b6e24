//! `run --ui ADDR`: the web UI, REST API and `/metrics` of a local run, on a thread of
//! their own. The cluster secret and TLS files are read as nimbus reads them
//! (`GALE_SECRET`, `GALE_TLS_*`): without a secret the server listens only on loopback.

use crate::cluster::security::Security;
use crate::exec::local::LiveMetrics;
use crate::topology::TopologyDesc;
use crate::web::api;
use crate::web::auth::Policy;
use crate::web::local::LocalBackend;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Starts the server of a local run of `desc` on `addr`; returns the address it listens
/// on (the port chosen when `addr`'s is 0).
pub fn start(
    desc: &'static TopologyDesc,
    live: LiveMetrics,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
) -> Result<SocketAddr, String> {
    let security = Security::from_env()?;
    security.check_bind(&addr)?;
    let tls = match &security.tls {
        Some(f) => Some(crate::web::tls::server_config(&f.cert, &f.key)?),
        None => None,
    };
    let policy = Policy {
        secret: security
            .secret
            .clone()
            .map(|s| -> crate::web::auth::SecretCheck {
                Arc::new(move |candidate: &[u8]| s.matches(candidate))
            }),
        public_read: false,
        tls: tls.is_some(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gale-ui")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the web UI's runtime: {e}"))?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| format!("cannot listen on {addr} (--ui): {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("the --ui listener: {e}"))?;
    let backend = Arc::new(LocalBackend::new(desc, live, stop));
    {
        let _guard = rt.enter();
        backend.spawn_sampler();
        crate::web::spawn(
            listener,
            tls.clone(),
            api::router(backend, policy),
            "web UI",
        )
        .map_err(|e| format!("the web UI: {e}"))?;
    }
    // The runtime's threads serve until the process ends.
    std::thread::Builder::new()
        .name("gale-ui".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .map_err(|e| format!("cannot start the web UI's thread: {e}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("web UI: {scheme}://{bound}/topologies/{}", desc.name);
    Ok(bound)
}
