//! Fast replay on link loss: when the link to a worker goes down (or comes back), the
//! tuple trees that may have lost a tuple in it fail at once instead of waiting for their
//! `message_timeout`.
//!
//! Two kinds of trees are lost with a worker:
//! - trees that had a tuple sent into it: the remote senders record their roots per peer
//!   ([`crate::transport::roots`]); this worker's replayer sends a fail for each to the
//!   acker that owns the root (on a down link, also for what was sent while it was down,
//!   once it is back);
//! - trees whose acker ran there: the replayer records the loss in the placement, and
//!   every spout executor fails the trees in flight whose acker is on a lost worker
//!   ([`super::placement::Placement::lost_ackers_since`]).

use super::placement::Placement;
use crate::ack::{AckOutbox, AckerMsg};
use crate::transport::TaskSender;
use crate::transport::net::LinkEvent;
use crossbeam_channel::Receiver;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The peer whose trees `event` loses, if any: every link that goes down, and a link that
/// comes back after it was down (what was sent while it was down is lost too); not a
/// link's first connection. `down` holds the peers whose link is down.
fn lost_peer(event: LinkEvent, down: &mut BTreeSet<u32>) -> Option<u32> {
    match event {
        LinkEvent::Down(p) => {
            down.insert(p);
            Some(p)
        }
        LinkEvent::Up(p) => down.remove(&p).then_some(p),
    }
}

/// Starts worker `me`'s replayer thread on `events` (from the data plane); `ackers` are the
/// senders to every acker task, by index. It runs until the plane is gone.
pub(crate) fn spawn(
    me: u32,
    placement: Arc<Placement>,
    events: Receiver<LinkEvent>,
    ackers: Vec<TaskSender<AckerMsg>>,
) -> std::io::Result<()> {
    let Some(roots) = placement.sent_roots() else {
        return Ok(()); // no data plane: nothing is ever lost to a link
    };
    // Its lines name the worker, as the worker's own do.
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("gale-replayer".into())
        .spawn(move || {
            let _in = span.enter();
            let mut down = BTreeSet::new();
            for event in events {
                let Some(peer) = lost_peer(event, &mut down) else {
                    continue;
                };
                let what = match event {
                    LinkEvent::Down(_) => "went down",
                    LinkEvent::Up(_) => "is up again",
                };
                let lost = roots.take(peer);
                if !lost.is_empty() {
                    tracing::warn!(
                        worker = me,
                        peer,
                        trees = lost.len(),
                        "the link to worker {peer} {what}: failing {} tuple trees sent into it now",
                        lost.len()
                    );
                    fail_all(&ackers, &lost);
                }
                placement.record_loss(peer);
            }
        })?;
    Ok(())
}

/// Sends a fail for every root in `roots` to the acker that owns it (one batch per acker).
fn fail_all(ackers: &[TaskSender<AckerMsg>], roots: &[u64]) {
    let mut batches: Vec<Vec<AckerMsg>> = vec![Vec::new(); ackers.len()];
    for &root in roots {
        if let Some(batch) = batches.get_mut(AckOutbox::acker_of(root, ackers.len())) {
            batch.push(AckerMsg::Fail { root });
        }
    }
    for (acker, batch) in ackers.iter().zip(batches) {
        if !batch.is_empty() {
            // An acker that is gone (finished, or on the lost worker) has nothing to fail;
            // the spouts fail the trees of a lost acker themselves.
            let _ = acker.send_batch(batch, Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_loses_trees_when_it_goes_down_and_when_it_comes_back_not_at_first() {
        let mut down = BTreeSet::new();
        assert_eq!(
            lost_peer(LinkEvent::Up(1), &mut down),
            None,
            "first connection"
        );
        assert_eq!(lost_peer(LinkEvent::Down(1), &mut down), Some(1));
        assert_eq!(lost_peer(LinkEvent::Up(2), &mut down), None);
        assert_eq!(
            lost_peer(LinkEvent::Up(1), &mut down),
            Some(1),
            "back after down"
        );
        assert_eq!(lost_peer(LinkEvent::Up(1), &mut down), None);
    }
}
