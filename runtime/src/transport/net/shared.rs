//! State shared by the plane's handle, its tasks and its senders.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use ring::hmac;
use ring::rand::SystemRandom;
use tokio::sync::watch;

use super::link::Link;
use super::{ChannelId, Inbound, LinkEvent, NetStats, NetTls};

/// Locks a mutex, ignoring poisoning (every critical section leaves its state consistent).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The plane's counters.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) frames_sent: AtomicU64,
    pub(super) bytes_sent: AtomicU64,
    pub(super) frames_received: AtomicU64,
    pub(super) bytes_received: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) refused: AtomicU64,
}

/// Adds to a counter.
pub(super) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(super) fn snapshot(&self) -> NetStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NetStats {
            frames_sent: get(&self.frames_sent),
            bytes_sent: get(&self.bytes_sent),
            frames_received: get(&self.frames_received),
            bytes_received: get(&self.bytes_received),
            dropped: get(&self.dropped),
            reconnects: get(&self.reconnects),
            rejected_handshakes: get(&self.rejected),
            refused_connections: get(&self.refused),
        }
    }
}

/// Everything the plane's parts share.
pub(super) struct Shared {
    pub(super) me: u32,
    /// This worker's incarnation (the assignment version at which it got its slot).
    pub(super) incarnation: u64,
    pub(super) topology: String,
    /// The HMAC key made from the cluster secret.
    pub(super) key: Option<hmac::Key>,
    pub(super) tls: Option<NetTls>,
    /// Frames in flight this worker accepts per channel per connection (its receive queues).
    pub(super) credit: u32,
    /// The largest frame length accepted (and sent).
    pub(super) max_frame: usize,
    pub(super) inbound: HashMap<ChannelId, Arc<dyn Inbound>>,
    /// One link per peer worker.
    pub(super) links: BTreeMap<u32, Arc<Link>>,
    pub(super) stats: Counters,
    pub(super) rng: SystemRandom,
    /// How many links are up, and a condition signalled when that changes.
    up: Mutex<usize>,
    up_cv: Condvar,
    /// Told of every link that comes up or goes down.
    watchers: Mutex<Vec<crossbeam_channel::Sender<LinkEvent>>>,
    /// Set by `shutdown` (or drop): no new connections or frames.
    closing: AtomicBool,
    /// Tells the listener, the dialers and the handshakes to stop.
    stop: watch::Sender<bool>,
    /// Live background tasks, and a condition signalled when one ends.
    tasks: Mutex<usize>,
    tasks_cv: Condvar,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        me: u32,
        incarnation: u64,
        topology: String,
        key: Option<hmac::Key>,
        tls: Option<NetTls>,
        credit: u32,
        max_frame: usize,
        inbound: HashMap<ChannelId, Arc<dyn Inbound>>,
        links: BTreeMap<u32, Arc<Link>>,
    ) -> Shared {
        Shared {
            me,
            incarnation,
            topology,
            key,
            tls,
            credit,
            max_frame,
            inbound,
            links,
            stats: Counters::default(),
            rng: SystemRandom::new(),
            up: Mutex::new(0),
            up_cv: Condvar::new(),
            watchers: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            stop: watch::Sender::new(false),
            tasks: Mutex::new(0),
            tasks_cv: Condvar::new(),
        }
    }

    pub(super) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Refuses new connections and frames from now on, and stops the background loops.
    pub(super) fn begin_close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.stop.send_replace(true);
    }

    /// Completes once the plane is stopping.
    pub(super) async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        // An error means the sender is gone, which also means stopping.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// The link to `peer` came up (called with that link's state locked).
    pub(super) fn link_up(&self, peer: u32) {
        *lock(&self.up) += 1;
        self.up_cv.notify_all();
        self.tell(LinkEvent::Up(peer));
    }

    /// A newer connection to `peer` replaced the current one (called with that link's
    /// state locked): what was in flight on the old one is lost, as on a link that went
    /// down and came back.
    pub(super) fn link_replaced(&self, peer: u32) {
        if !self.is_closing() {
            self.tell(LinkEvent::Down(peer));
            self.tell(LinkEvent::Up(peer));
        }
    }

    /// Tells every watcher (unbounded: never blocks; a watcher that is gone is forgotten).
    fn tell(&self, event: LinkEvent) {
        lock(&self.watchers).retain(|w| w.send(event).is_ok());
    }

    /// The link to `peer` went down (called with that link's state locked).
    pub(super) fn link_down(&self, peer: u32) {
        let mut up = lock(&self.up);
        *up = up.saturating_sub(1);
        self.up_cv.notify_all();
        drop(up);
        // A plane that shuts down closes its links: it loses nothing.
        if !self.is_closing() {
            self.tell(LinkEvent::Down(peer));
        }
    }

    /// A receiver of every link event from now on.
    pub(super) fn watch(&self) -> crossbeam_channel::Receiver<LinkEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        lock(&self.watchers).push(tx);
        rx
    }

    /// Waits until every link is up; false at the deadline.
    pub(super) fn wait_all_up(&self, deadline: Instant) -> bool {
        let mut up = lock(&self.up);
        while *up < self.links.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            up = self
                .up_cv
                .wait_timeout(up, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Waits until every background task has ended; false at the deadline.
    pub(super) fn wait_tasks(&self, deadline: Instant) -> bool {
        let mut n = lock(&self.tasks);
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            n = self
                .tasks_cv
                .wait_timeout(n, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// Held by every background task: `shutdown` waits until all are dropped (so the listening
/// port is free again when it returns).
pub(super) struct TaskGuard(Arc<Shared>);

impl TaskGuard {
    pub(super) fn new(shared: &Arc<Shared>) -> TaskGuard {
        *lock(&shared.tasks) += 1;
        TaskGuard(Arc::clone(shared))
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let mut n = lock(&self.0.tasks);
        *n = n.saturating_sub(1);
        self.0.tasks_cv.notify_all();
    }
}
