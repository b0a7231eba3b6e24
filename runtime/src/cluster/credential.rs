//! Worker credentials: what a worker process gets instead of the cluster secret.
//!
//! A worker runs user code, so it must not hold the cluster secret (with it, that code
//! could submit, kill or rebalance topologies). Its supervisor hands it a credential
//! derived from the secret for its topology only:
//!
//! ```text
//! gale-worker.<topology id>.<hex HMAC-SHA256(cluster secret, "worker:" + topology id)>
//! ```
//!
//! Nimbus, which holds the secret, recomputes the tag and compares it in constant time; a
//! valid credential makes the caller [`Caller::Worker`] of that topology, allowed only the
//! worker calls ([`WORKER_METHODS`]) and only for its own topology. The workers of one
//! topology authenticate their data plane with a key derived from the credential
//! ([`data_plane_key`]), so they still recognise each other, and a worker of another
//! topology cannot join.

use ring::hmac;

/// What every worker credential starts with.
pub const PREFIX: &str = "gale-worker.";

/// The gRPC methods of `gale.cluster.Nimbus` a worker credential may call (for its own
/// topology): everything else needs the cluster secret.
pub const WORKER_METHODS: &[&str] = &[
    "GetAssignment",
    "WorkerHeartbeat",
    "Download",
    "Checkpoints",
];

/// Who a request's token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The cluster secret: a client, a supervisor, an operator. May do anything.
    Admin,
    /// A worker credential of topology `topology`.
    Worker {
        /// The topology whose workers hold this credential.
        topology: String,
    },
}

impl Caller {
    /// Whether this caller may act for topology `id` in a worker call.
    pub fn may_act_for(&self, id: &str) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Worker { topology } => topology == id,
        }
    }
}

/// The tag of topology `id`'s worker credential under `secret`.
fn tag(secret: &[u8], id: &str) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::sign(&key, format!("worker:{id}").as_bytes())
}

/// Topology `id`'s worker credential under `secret` (see the module docs).
pub fn derive(secret: &[u8], id: &str) -> String {
    format!("{PREFIX}{id}.{}", hex(tag(secret, id).as_ref()))
}

/// If `token` looks like a worker credential, the topology it names (unverified).
pub fn topology_of(token: &[u8]) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX.as_bytes())?;
    let text = std::str::from_utf8(rest).ok()?;
    let (id, _) = text.rsplit_once('.')?;
    Some(id)
}

/// Verifies a worker credential against `secret`, in constant time in the tag. Returns
/// the topology it is for, or `None` if it is not a valid credential.
pub fn verify<'a>(secret: &[u8], token: &'a [u8]) -> Option<&'a str> {
    let id = topology_of(token)?;
    let hex_tag = &token[PREFIX.len() + id.len() + 1..];
    let given = unhex(hex_tag)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, format!("worker:{id}").as_bytes(), &given).ok()?;
    Some(id)
}

/// The data-plane key of whoever holds `credential` (a worker credential, or the cluster
/// secret for a process that has it): HMAC-SHA256(credential, "gale data plane"). The
/// workers of one topology share it; those of another topology cannot compute it.
pub fn data_plane_key(credential: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, credential);
    hmac::sign(&key, b"gale data plane").as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_verifies_for_its_topology_only() {
        let c = derive(b"cluster-secret", "wc-3");
        assert!(c.starts_with("gale-worker.wc-3."), "{c}");
        assert!(!c.contains("cluster-secret"));
        assert_eq!(verify(b"cluster-secret", c.as_bytes()), Some("wc-3"));
        // Another secret, a forged topology, a changed tag: refused.
        assert_eq!(verify(b"other-secret", c.as_bytes()), None);
        let forged = c.replace("wc-3", "wc-4");
        assert_eq!(verify(b"cluster-secret", forged.as_bytes()), None);
        let mut flipped = c.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(verify(b"cluster-secret", &flipped), None);
        for junk in [
            &b""[..],
            b"gale-worker.",
            b"gale-worker.wc-3",
            b"gale-worker.wc-3.zz",
            b"gale-worker.wc-3.abc",
            b"cluster-secret",
        ] {
            assert_eq!(verify(b"cluster-secret", junk), None, "{junk:?}");
        }
    }

    #[test]
    fn ids_with_dots_and_distinct_topologies() {
        let c = derive(b"s", "a.b-1");
        assert_eq!(verify(b"s", c.as_bytes()), Some("a.b-1"));
        assert_ne!(derive(b"s", "a-1"), derive(b"s", "a-2"));
        assert_eq!(derive(b"s", "a-1"), derive(b"s", "a-1"));
    }

    #[test]
    fn workers_of_one_topology_share_a_data_plane_key() {
        let one = derive(b"s", "t-1");
        let other = derive(b"s", "t-2");
        assert_eq!(
            data_plane_key(one.as_bytes()),
            data_plane_key(one.as_bytes())
        );
        assert_ne!(
            data_plane_key(one.as_bytes()),
            data_plane_key(other.as_bytes())
        );
        assert_ne!(data_plane_key(one.as_bytes()), one.as_bytes());
    }

    #[test]
    fn callers() {
        assert!(Caller::Admin.may_act_for("x-1"));
        let w = Caller::Worker {
            topology: "x-1".into(),
        };
        assert!(w.may_act_for("x-1"));
        assert!(!w.may_act_for("x-2"));
    }
}
