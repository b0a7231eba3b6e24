//! Data plane tests over real TCP on 127.0.0.1.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::frame::{HEADER, Kind, PREFIX};
use super::handshake::{Hello, NONCE};
use super::*;

/// Generous: these are upper bounds for things that normally take milliseconds.
const LONG: Duration = Duration::from_secs(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// An address nobody dials (an acceptor's lower peers).
fn unused() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9))
}

fn config(me: u32, listen: SocketAddr, peers: &[(u32, SocketAddr)]) -> NetConfig {
    NetConfig::new("test", me, listen, peers.iter().copied().collect())
}

/// Polls `f` until it holds; false after `timeout`.
fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Data(Vec<u8>),
    /// An end frame, with its producers.
    Ends(Vec<u64>),
    End,
}

/// A gate `deliver` waits at while closed.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    entered: AtomicUsize,
}

impl Gate {
    fn pass(&self) {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().expect("gate");
        while !*open {
            open = self.cv.wait(open).expect("gate");
        }
    }

    fn open(&self) {
        *self.open.lock().expect("gate") = true;
        self.cv.notify_all();
    }
}

/// Records what a channel receives.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
    cv: Condvar,
    gate: Option<Arc<Gate>>,
}

impl Inbound for Recorder {
    fn deliver(&self, payload: &[u8]) {
        if let Some(gate) = &self.gate {
            gate.pass();
        }
        self.events
            .lock()
            .expect("events")
            .push(Event::Data(payload.to_vec()));
        self.cv.notify_all();
    }

    fn end(&self, producers: &[u64]) {
        let event = if producers == [0] {
            Event::End
        } else {
            Event::Ends(producers.to_vec())
        };
        self.events.lock().expect("events").push(event);
        self.cv.notify_all();
    }
}

impl Recorder {
    fn len(&self) -> usize {
        self.events.lock().expect("events").len()
    }

    /// Waits for at least `n` events; all events so far.
    fn wait_for(&self, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + LONG;
        let mut events = self.events.lock().expect("events");
        while events.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "got {} of {n} events", events.len());
            events = self.cv.wait_timeout(events, left).expect("events").0;
        }
        events.clone()
    }
}

type Recorders = HashMap<ChannelId, Arc<Recorder>>;

fn recorders(channels: &[ChannelId]) -> (HashMap<ChannelId, Arc<dyn Inbound>>, Recorders) {
    let recs: Recorders = channels
        .iter()
        .map(|&c| (c, Arc::new(Recorder::default())))
        .collect();
    let inbound = recs
        .iter()
        .map(|(&c, r)| (c, Arc::clone(r) as Arc<dyn Inbound>))
        .collect();
    (inbound, recs)
}

/// Worker 1 (acceptor, started first on any port) and worker 0 (dialer), each configured
/// by `tweak(index, config)`; returns (worker 0, worker 1).
fn pair(
    rt: &tokio::runtime::Runtime,
    inbound0: HashMap<ChannelId, Arc<dyn Inbound>>,
    inbound1: HashMap<ChannelId, Arc<dyn Inbound>>,
    tweak: impl Fn(u32, &mut NetConfig),
) -> (DataPlane, DataPlane) {
    let mut cfg1 = config(1, any_port(), &[(0, unused())]);
    tweak(1, &mut cfg1);
    let one = DataPlane::start(cfg1, inbound1, rt.handle()).expect("start worker 1");
    let mut cfg0 = config(0, any_port(), &[(1, one.local_addr())]);
    tweak(0, &mut cfg0);
    let zero = DataPlane::start(cfg0, inbound0, rt.handle()).expect("start worker 0");
    (zero, one)
}

fn seq(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data(p) => Some(u64::from_le_bytes(p[..8].try_into().expect("8 bytes"))),
            Event::End | Event::Ends(_) => None,
        })
        .collect()
}

/// Sends `0..n` (as `u64` LE plus `extra` bytes) then the end marker.
fn send_all(out: &Outbound, n: u64, extra: usize) {
    for i in 0..n {
        let mut p = i.to_le_bytes().to_vec();
        p.resize(8 + extra, (i % 251) as u8);
        out.send(p).expect("send");
    }
    out.send_end(0).expect("send_end");
}

#[test]
fn all_frames_arrive_in_order_both_ways() {
    const N: u64 = 20_000;
    let rt = runtime();
    let channels = [1, 2, 3];
    let (in0, rec0) = recorders(&channels);
    let (in1, rec1) = recorders(&channels);
    let (zero, one) = pair(&rt, in0, in1, |_, _| {});
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));

    let senders: Vec<_> = channels
        .iter()
        .flat_map(|&c| [zero.outbound(1, c), one.outbound(0, c)])
        .map(|out| thread::spawn(move || send_all(&out, N, out.channel() as usize * 10)))
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    for recs in [&rec0, &rec1] {
        for (&c, rec) in recs {
            let events = rec.wait_for(N as usize + 1);
            assert_eq!(events.len(), N as usize + 1, "channel {c}");
            assert_eq!(events.last(), Some(&Event::End), "channel {c}: end last");
            assert!(seq(&events).into_iter().eq(0..N), "channel {c}: in order");
            let Event::Data(p) = &events[5] else {
                panic!("data")
            };
            assert_eq!(p.len(), 8 + c as usize * 10);
        }
    }
    for plane in [&zero, &one] {
        let s = plane.stats();
        assert_eq!(s.frames_sent, 3 * (N + 1));
        assert_eq!(s.frames_received, 3 * (N + 1));
        assert_eq!((s.dropped, s.rejected_handshakes, s.reconnects), (0, 0, 0));
    }
    zero.shutdown(LONG);
    one.shutdown(LONG);
}

#[test]
fn a_slow_channel_does_not_stop_the_others() {
    let rt = runtime();
    let gate = Arc::new(Gate::default());
    let slow = Arc::new(Recorder {
        gate: Some(Arc::clone(&gate)),
        ..Recorder::default()
    });
    let fast = Arc::new(Recorder::default());
    let mut in1: HashMap<ChannelId, Arc<dyn Inbound>> = HashMap::new();
    in1.insert(1, slow.clone());
    in1.insert(2, fast.clone());
    let (zero, one) = pair(&rt, HashMap::new(), in1, |_, _| {});
    assert!(zero.wait_connected(LONG));

    let credit = DEFAULT_CREDIT as usize;
    let total = 3 * credit as u64;
    let progress = Arc::new(AtomicUsize::new(0));
    let slow_sender = {
        let out = zero.outbound(1, 1);
        let progress = Arc::clone(&progress);
        thread::spawn(move || {
            for i in 0..total {
                out.send(i.to_le_bytes().to_vec()).expect("send");
                progress.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // The slow channel's sender gets exactly its credit out, then waits.
    assert!(eventually(LONG, || progress.load(Ordering::SeqCst) == credit));
    assert!(eventually(LONG, || gate.entered.load(Ordering::SeqCst) == 1));

    // Meanwhile the other channel on the same connection flows freely.
    let fast_sender = {
        let out = zero.outbound(1, 2);
        thread::spawn(move || send_all(&out, 1000, 0))
    };
    let events = fast.wait_for(1001);
    assert!(seq(&events).into_iter().eq(0..1000));
    fast_sender.join().expect("fast sender");
    assert_eq!(
        progress.load(Ordering::SeqCst),
        credit,
        "the slow sender is blocked"
    );
    assert_eq!(gate.entered.load(Ordering::SeqCst), 1);
    assert_eq!(slow.len(), 0);

    gate.open();
    slow_sender.join().expect("slow sender");
    let events = slow.wait_for(total as usize);
    assert!(seq(&events).into_iter().eq(0..total));
    drop(one);
}

#[test]
fn shutdown_flushes_and_wakes_blocked_senders() {
    let rt = runtime();
    let gate = Arc::new(Gate::default());
    let slow = Arc::new(Recorder {
        gate: Some(Arc::clone(&gate)),
        ..Recorder::default()
    });
    let other = Arc::new(Recorder::default());
    let mut in1: HashMap<ChannelId, Arc<dyn Inbound>> = HashMap::new();
    in1.insert(1, slow.clone());
    in1.insert(2, other.clone());
    let (zero, one) = pair(&rt, HashMap::new(), in1, |_, _| {});
    assert!(zero.wait_connected(LONG));

    let credit = DEFAULT_CREDIT as usize;
    let progress = Arc::new(AtomicUsize::new(0));
    let blocked = {
        let out = zero.outbound(1, 1);
        let progress = Arc::clone(&progress);
        thread::spawn(move || {
            for i in 0u64.. {
                out.send(i.to_le_bytes().to_vec())?;
                progress.fetch_add(1, Ordering::SeqCst);
            }
            Ok::<(), LinkDown>(())
        })
    };
    assert!(eventually(LONG, || progress.load(Ordering::SeqCst) == credit));
    // Queued (not yet necessarily written) when the shutdown starts: still delivered.
    let out = zero.outbound(1, 2);
    for i in 0..credit as u64 {
        out.send(i.to_le_bytes().to_vec()).expect("send");
    }
    zero.shutdown(LONG);
    assert_eq!(blocked.join().expect("sender"), Err(LinkDown));
    assert_eq!(out.send(vec![0; 8]), Err(LinkDown));
    assert!(
        seq(&other.wait_for(credit))
            .into_iter()
            .eq(0..credit as u64)
    );
    assert!(eventually(LONG, || !one.wait_connected(Duration::ZERO)));
    // The slow channel's queued frames are still delivered once its receiver moves on.
    gate.open();
    assert!(seq(&slow.wait_for(credit)).into_iter().eq(0..credit as u64));
}

#[test]
fn wrong_or_missing_secret_is_rejected() {
    let rt = runtime();
    let secret = |s: &str| Some(Arc::<[u8]>::from(s.as_bytes()));
    let cases = [
        (secret("alpha"), secret("beta")),
        (None, secret("beta")),
        (secret("alpha"), None),
    ];
    let mut planes = Vec::new();
    for (s0, s1) in cases {
        let (in0, rec0) = recorders(&[1]);
        let (in1, rec1) = recorders(&[1]);
        let (zero, one) = pair(&rt, in0, in1, |me, cfg| {
            cfg.secret = if me == 0 { s0.clone() } else { s1.clone() };
        });
        planes.push((zero, one, rec0, rec1));
    }
    for (zero, one, rec0, rec1) in &planes {
        // The acceptor rejects, the dialer hears why: both count it.
        assert!(eventually(LONG, || one.stats().rejected_handshakes > 0));
        assert!(eventually(LONG, || zero.stats().rejected_handshakes > 0));
        assert!(!zero.wait_connected(Duration::from_millis(50)));
        assert!(!one.wait_connected(Duration::from_millis(50)));
        assert_eq!(zero.outbound(1, 1).send(vec![1]), Err(LinkDown));
        assert_eq!(one.outbound(0, 1).send(vec![1]), Err(LinkDown));
        assert_eq!(zero.stats().dropped, 1);
        assert_eq!((rec0[&1].len(), rec1[&1].len()), (0, 0));
        assert_eq!(one.stats().frames_received, 0);
    }
    // The same secret on both sides connects.
    let (zero, one) = pair(&rt, HashMap::new(), HashMap::new(), |_, cfg| {
        cfg.secret = secret("alpha");
    });
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    assert_eq!(zero.stats().rejected_handshakes, 0);
}

/// Writes one frame on a raw stream.
/// Fencing: a worker of an older assignment version (its identity `topology@vN#sha`) and
/// one of the new version refuse each other, even with the right secret.
#[test]
fn workers_of_different_assignment_versions_refuse_each_other() {
    let rt = runtime();
    let (in0, rec0) = recorders(&[1]);
    let (in1, rec1) = recorders(&[1]);
    let (zero, one) = pair(&rt, in0, in1, |me, cfg| {
        cfg.secret = Some(Arc::<[u8]>::from(&b"same"[..]));
        cfg.topology = if me == 0 { "wc-1@v1#aa" } else { "wc-1@v2#aa" }.into();
    });
    assert!(eventually(LONG, || one.stats().rejected_handshakes > 0));
    assert!(eventually(LONG, || zero.stats().rejected_handshakes > 0));
    assert!(!zero.wait_connected(Duration::from_millis(50)));
    assert_eq!(zero.outbound(1, 1).send(vec![1]), Err(LinkDown));
    assert_eq!((rec0[&1].len(), rec1[&1].len()), (0, 0));
}

fn raw_write(s: &mut TcpStream, kind: Kind, payload: &[u8]) {
    let header = frame::header(kind, 0, payload.len()).expect("header");
    s.write_all(&header).expect("write");
    s.write_all(payload).expect("write");
}

/// Reads one frame from a raw stream: its kind byte and payload.
fn raw_read(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; PREFIX + HEADER];
    s.read_exact(&mut h).expect("read");
    let len = u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) as usize;
    let mut payload = vec![0; len - HEADER];
    s.read_exact(&mut payload).expect("read");
    (h[PREFIX], payload)
}

/// True once the peer has closed the raw stream (end of stream or reset).
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(LONG)).expect("timeout");
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                );
            }
        }
    }
}

/// A raw connection to worker 2 that passed the handshake as worker 1 (no secret).
fn handshake_as_worker_1(addr: SocketAddr) -> TcpStream {
    let mut raw = TcpStream::connect(addr).expect("connect");
    let hello = Hello {
        from: 1,
        to: 2,
        credit: 4,
        from_incarnation: 0,
        to_incarnation: 0,
        nonce: [0; NONCE],
        topology: "test".into(),
    };
    raw_write(&mut raw, Kind::Hello, &hello.encode());
    let (kind, nonce) = raw_read(&mut raw);
    assert_eq!((kind, nonce.len()), (Kind::Nonce.byte(), NONCE));
    raw_write(&mut raw, Kind::Auth, &[]);
    let (kind, accept) = raw_read(&mut raw);
    assert_eq!(kind, Kind::Accept.byte());
    let mut expected = DEFAULT_CREDIT.to_le_bytes().to_vec();
    expected.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(accept, expected, "the credit and incarnation, no code");
    raw
}

#[test]
fn oversized_frames_close_the_connection_only() {
    const MAX: usize = 1 << 20;
    let rt = runtime();
    // Worker 2 accepts workers 0 (a real plane) and 1 (played by raw streams below).
    let (in2, rec2) = recorders(&[7]);
    let mut cfg2 = config(2, any_port(), &[(0, unused()), (1, unused())]);
    cfg2.max_frame = MAX;
    let two = DataPlane::start(cfg2, in2, rt.handle()).expect("start worker 2");
    let (in0, rec0) = recorders(&[7]);
    let zero = DataPlane::start(
        config(0, any_port(), &[(2, two.local_addr())]),
        in0,
        rt.handle(),
    )
    .expect("start worker 0");
    assert!(zero.wait_connected(LONG));

    // Before the handshake.
    let mut raw = TcpStream::connect(two.local_addr()).expect("connect");
    raw.write_all(&(MAX as u32 + 1).to_le_bytes())
        .expect("write");
    assert!(closed_by_peer(&mut raw));
    assert!(eventually(LONG, || two.stats().rejected_handshakes == 1));

    // After a successful handshake as worker 1.
    let mut raw = handshake_as_worker_1(two.local_addr());
    raw.write_all(&(MAX as u32 + 1).to_le_bytes())
        .expect("write");
    assert!(closed_by_peer(&mut raw));
    // A frame for a channel worker 2 does not receive also closes the connection.
    let mut raw = handshake_as_worker_1(two.local_addr());
    let header = frame::header(Kind::Data, 99, 1).expect("header");
    raw.write_all(&header).expect("write");
    raw.write_all(&[0]).expect("write");
    assert!(closed_by_peer(&mut raw));

    // The real peer's connection was never disturbed.
    let sender = {
        let out = zero.outbound(2, 7);
        thread::spawn(move || send_all(&out, 100, 0))
    };
    let back = {
        let out = two.outbound(0, 7);
        thread::spawn(move || send_all(&out, 100, 0))
    };
    sender.join().expect("sender");
    back.join().expect("sender");
    assert!(seq(&rec2[&7].wait_for(101)).into_iter().eq(0..100));
    assert!(seq(&rec0[&7].wait_for(101)).into_iter().eq(0..100));
    assert_eq!(zero.stats().reconnects, 0);
}

#[test]
fn a_restarted_peer_reconnects() {
    let rt = runtime();
    let (in1, rec1) = recorders(&[5]);
    let (in0, rec0) = recorders(&[5]);
    let (zero, one) = pair(&rt, in0, in1, |_, _| {});
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    let out = zero.outbound(1, 5);
    out.send(0u64.to_le_bytes().to_vec()).expect("send");
    assert_eq!(seq(&rec1[&5].wait_for(1)), [0]);

    let addr = one.local_addr();
    let taken = DataPlane::start(
        config(1, addr, &[(0, unused())]),
        HashMap::new(),
        rt.handle(),
    );
    assert!(taken.is_err(), "the port is taken");
    one.shutdown(LONG);
    drop(one);
    // Once worker 0 sees the connection go, sends fail at once (those before may be lost).
    assert!(eventually(LONG, || out.send(vec![0; 8]).is_err()));
    assert_eq!(out.send(vec![0; 8]), Err(LinkDown));
    assert!(zero.stats().dropped >= 2);

    let (in1, rec1) = recorders(&[5]);
    // The old listener's socket may take a moment to be released under load.
    let start = Instant::now();
    let one = loop {
        match DataPlane::start(config(1, addr, &[(0, unused())]), in1.clone(), rt.handle()) {
            Ok(p) => break p,
            Err(_) if start.elapsed() < LONG => {
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("restart worker 1 on the same port: {e}"),
        }
    };
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    assert_eq!(zero.stats().reconnects, 1);
    let sender = thread::spawn(move || send_all(&out, 500, 0));
    let back = {
        let out = one.outbound(0, 5);
        thread::spawn(move || send_all(&out, 500, 0))
    };
    sender.join().expect("sender");
    back.join().expect("sender");
    assert!(seq(&rec1[&5].wait_for(501)).into_iter().eq(0..500));
    let events = rec0[&5].wait_for(501);
    assert!(seq(&events).into_iter().eq(0..500));
}

fn certs() -> NetTls {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/certs");
    NetTls::from_pem_files(
        &dir.join("node.pem"),
        &dir.join("node.key"),
        &dir.join("ca.pem"),
    )
    .expect("the test certificates")
}

#[test]
fn tls_carries_frames_and_refuses_plain_tcp() {
    let rt = runtime();
    let tls = certs();
    let (in0, rec0) = recorders(&[1, 2]);
    let (in1, rec1) = recorders(&[1, 2]);
    let (zero, one) = pair(&rt, in0, in1, |_, cfg| {
        cfg.tls = Some(tls.clone());
        cfg.secret = Some(Arc::from(&b"shared"[..]));
    });
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    let senders: Vec<_> = [1, 2]
        .iter()
        .flat_map(|&c| [zero.outbound(1, c), one.outbound(0, c)])
        .map(|out| thread::spawn(move || send_all(&out, 2000, 100)))
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    for recs in [&rec0, &rec1] {
        for rec in recs.values() {
            let events = rec.wait_for(2001);
            assert!(seq(&events).into_iter().eq(0..2000));
            assert_eq!(events.last(), Some(&Event::End));
        }
    }

    // A plain-TCP dialer to a TLS acceptor is refused.
    let (in3, rec3) = recorders(&[1]);
    let (plain, secure) = pair(&rt, HashMap::new(), in3, |me, cfg| {
        if me == 1 {
            cfg.tls = Some(tls.clone());
        }
    });
    assert!(eventually(LONG, || secure.stats().rejected_handshakes > 0));
    assert!(!plain.wait_connected(Duration::from_millis(50)));
    assert!(!secure.wait_connected(Duration::from_millis(50)));
    assert_eq!(plain.outbound(1, 1).send(vec![1]), Err(LinkDown));
    assert_eq!(rec3[&1].len(), 0);
}

/// Unauthenticated connections cannot pile up: with [`connect::MAX_HANDSHAKES`] handshakes
/// in progress, the next connection is closed at once (counted), long before the handshake
/// timeout; the ones in progress are kept, and once they go, peers connect again.
#[test]
fn handshakes_in_progress_are_capped() {
    let rt = runtime();
    let one = DataPlane::start(
        config(1, any_port(), &[(0, unused())]),
        HashMap::new(),
        rt.handle(),
    )
    .expect("start worker 1");
    let addr = one.local_addr();
    // Connections that never say hello hold a handshake each.
    let idle: Vec<TcpStream> = (0..connect::MAX_HANDSHAKES)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let started = Instant::now();
    let mut extra = TcpStream::connect(addr).expect("connect");
    assert!(
        closed_by_peer(&mut extra),
        "the connection over the cap stayed open"
    );
    assert!(
        started.elapsed() < handshake::TIMEOUT / 2,
        "closed only after {:?}: by the handshake timeout, not the cap",
        started.elapsed()
    );
    assert!(eventually(LONG, || one.stats().refused_connections == 1));
    assert_eq!(one.stats().rejected_handshakes, 0);
    // The ones in progress are still open.
    let mut first = idle[0].try_clone().expect("clone");
    first
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let err = first
        .read(&mut [0u8; 16])
        .expect_err("nothing to read, not closed");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    // When they go, their handshakes fail and free the room: a real peer connects.
    drop(first);
    drop(idle);
    assert!(eventually(LONG, || one.stats().rejected_handshakes
        >= connect::MAX_HANDSHAKES as u64));
    let zero = DataPlane::start(
        config(0, any_port(), &[(1, addr)]),
        HashMap::new(),
        rt.handle(),
    )
    .expect("start worker 0");
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    assert_eq!(one.stats().refused_connections, 1);
}

/// Fencing per incarnation: a dialer of another incarnation than the acceptor's view holds
/// is refused, and so is a dialer that expects another incarnation of the acceptor; after
/// `update_peer` the acceptor takes the new incarnation, and drops (and then refuses) the
/// old one, which still runs.
#[test]
fn a_stale_incarnation_is_refused_both_ways() {
    let rt = runtime();
    let secret = Some(Arc::<[u8]>::from(&b"same"[..]));
    // Worker 1 (incarnation 3) accepts worker 0 at incarnation 1.
    let (in1, rec1) = recorders(&[5]);
    let mut cfg1 = config(1, any_port(), &[(0, unused())]);
    cfg1.secret = secret.clone();
    cfg1.incarnation = 3;
    cfg1.incarnations.insert(0, 1);
    let one = DataPlane::start(cfg1, in1, rt.handle()).expect("start worker 1");
    let dialer = |incarnation: u64, expects: u64| {
        let mut cfg = config(0, any_port(), &[(1, one.local_addr())]);
        cfg.secret = secret.clone();
        cfg.incarnation = incarnation;
        cfg.incarnations.insert(1, expects);
        DataPlane::start(cfg, HashMap::new(), rt.handle()).expect("start worker 0")
    };

    // A dialer of a stale incarnation (0, not 1).
    let stale = dialer(0, 3);
    assert!(eventually(LONG, || stale.stats().rejected_handshakes > 0));
    assert!(!stale.wait_connected(Duration::from_millis(50)));
    assert_eq!(stale.outbound(1, 5).send(vec![1]), Err(LinkDown));
    drop(stale);
    // A dialer that expects a stale incarnation of the acceptor (2, not 3).
    let behind = dialer(1, 2);
    assert!(eventually(LONG, || behind.stats().rejected_handshakes > 0));
    assert!(!behind.wait_connected(Duration::from_millis(50)));
    drop(behind);
    assert!(one.stats().rejected_handshakes >= 2);

    // The right incarnations connect.
    let current = dialer(1, 3);
    assert!(current.wait_connected(LONG));
    current.outbound(1, 5).send(vec![1]).expect("send");
    assert_eq!(rec1[&5].wait_for(1), [Event::Data(vec![1])]);

    // Worker 0 is replaced by incarnation 2: until worker 1 follows, it is refused.
    let successor = dialer(2, 3);
    assert!(eventually(LONG, || successor.stats().rejected_handshakes > 0));
    assert!(!successor.wait_connected(Duration::from_millis(50)));
    // Worker 1 follows: the old incarnation's connection is dropped, the new one admitted.
    let rejected = one.stats().rejected_handshakes;
    one.update_peer(0, unused(), 2).expect("a peer");
    assert!(successor.wait_connected(LONG));
    successor.outbound(1, 5).send(vec![2]).expect("send");
    assert_eq!(rec1[&5].wait_for(2)[1], Event::Data(vec![2]));
    // The old incarnation is cut off and its redials are refused.
    assert!(eventually(LONG, || current
        .outbound(1, 5)
        .send(vec![3])
        .is_err()));
    assert!(eventually(LONG, || one.stats().rejected_handshakes > rejected));
    assert!(!current.wait_connected(Duration::from_millis(200)));
    assert_eq!(
        rec1[&5].len(),
        2,
        "nothing from the old incarnation after the update"
    );
    assert_eq!(one.update_peer(7, unused(), 1), Err(UnknownPeer(7)));
}

/// A peer that moves to another address as a new incarnation is reached there after
/// `update_peer`, while the old process (still running) no longer gets anything; and the
/// ends sent before the move reach the new incarnation without being sent again.
#[test]
fn after_update_peer_a_moved_peer_is_reached_at_its_new_address() {
    let rt = runtime();
    let (in1, old_rec) = recorders(&[5, 6]);
    let (zero, old) = pair(&rt, HashMap::new(), in1, |_, _| {});
    assert!(zero.wait_connected(LONG) && old.wait_connected(LONG));
    let data = zero.outbound(1, 5);
    data.send(0u64.to_le_bytes().to_vec()).expect("send");
    zero.outbound(1, 6).send_end(7).expect("end");
    zero.outbound(1, 6).send_end(9).expect("end");
    assert_eq!(old_rec[&5].wait_for(1).len(), 1);
    assert_eq!(
        old_rec[&6].wait_for(2),
        [Event::Ends(vec![7]), Event::Ends(vec![7, 9])]
    );

    // Worker 1 moves: incarnation 4 on another port.
    let (in1, new_rec) = recorders(&[5, 6]);
    let mut cfg = config(1, any_port(), &[(0, unused())]);
    cfg.incarnation = 4;
    let moved = DataPlane::start(cfg, in1, rt.handle()).expect("start the new worker 1");
    zero.update_peer(1, moved.local_addr(), 4).expect("a peer");
    assert!(moved.wait_connected(LONG));
    assert!(eventually(LONG, || {
        data.send(1u64.to_le_bytes().to_vec()).is_ok() && new_rec[&5].len() > 0
    }));
    let received = seq(&new_rec[&5].wait_for(1));
    assert!(received.iter().all(|&i| i == 1), "{received:?}");
    // One end frame with every producer that ended, on the new connection.
    assert_eq!(new_rec[&6].wait_for(1), [Event::Ends(vec![7, 9])]);
    // The old process got nothing after the move, and is not redialed.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(old_rec[&5].len(), 1);
    assert!(!old.wait_connected(Duration::from_millis(50)));
}

/// A restarted peer (same address, same incarnation) gets the ends again: it lost them.
#[test]
fn ends_are_sent_again_to_a_restarted_peer() {
    let rt = runtime();
    let (in1, _rec1) = recorders(&[5]);
    let (zero, one) = pair(&rt, HashMap::new(), in1, |_, _| {});
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    let addr = one.local_addr();
    one.shutdown(LONG);
    drop(one);
    // Sent while the peer is down: dropped, but remembered.
    let out = zero.outbound(1, 5);
    assert!(eventually(LONG, || out.send_end(3).is_err()));
    let (in1, rec1) = recorders(&[5]);
    let start = Instant::now();
    let _one = loop {
        match DataPlane::start(config(1, addr, &[(0, unused())]), in1.clone(), rt.handle()) {
            Ok(p) => break p,
            Err(_) if start.elapsed() < LONG => thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("restart worker 1 on the same port: {e}"),
        }
    };
    assert_eq!(rec1[&5].wait_for(1), [Event::Ends(vec![3])]);
}

/// Flow control across reconnects: while a slow receiver still holds a channel's frames
/// from an earlier connection, a new connection gets no fresh credit for that channel, so
/// repeated reconnects never make the receiver buffer more than its credit. Once the
/// receiver catches up, the credits come back on the current connection.
#[test]
fn a_reconnect_grants_no_credit_for_frames_still_held() {
    let rt = runtime();
    let gate = Arc::new(Gate::default());
    let rec = Arc::new(Recorder {
        gate: Some(Arc::clone(&gate)),
        ..Recorder::default()
    });
    let inbound: HashMap<ChannelId, Arc<dyn Inbound>> =
        [(5, Arc::clone(&rec) as Arc<dyn Inbound>)].into();
    let one = DataPlane::start(
        config(1, any_port(), &[(0, unused())]),
        inbound,
        rt.handle(),
    )
    .expect("start worker 1");
    let start_zero = || {
        let zero = DataPlane::start(
            config(0, any_port(), &[(1, one.local_addr())]),
            HashMap::new(),
            rt.handle(),
        )
        .expect("start worker 0");
        assert!(zero.wait_connected(LONG));
        zero
    };
    let credit = u64::from(DEFAULT_CREDIT);
    let zero = start_zero();
    let out = zero.outbound(1, 5);
    for i in 0..credit {
        out.send(i.to_le_bytes().to_vec()).expect("send");
    }
    // One frame waits in `deliver` at the closed gate, the others in the forwarder.
    assert!(eventually(LONG, || {
        gate.entered.load(Ordering::SeqCst) == 1 && one.stats().frames_received == credit
    }));
    drop(zero);
    for round in 0..4 {
        let zero = start_zero();
        let out = zero.outbound(1, 5);
        let sender = thread::spawn(move || out.send(u64::MAX.to_le_bytes().to_vec()));
        thread::sleep(Duration::from_millis(300));
        assert!(
            !sender.is_finished(),
            "round {round}: a reconnect granted credit while {credit} frames were held"
        );
        assert_eq!(one.stats().frames_received, credit, "round {round}");
        if round < 3 {
            drop(zero);
            assert_eq!(sender.join().expect("sender"), Err(LinkDown));
            continue;
        }
        // The receiver catches up: the held frames' credits reach the current connection.
        gate.open();
        assert_eq!(sender.join().expect("sender"), Ok(()));
        let events = rec.wait_for(credit as usize + 1);
        let mut expected: Vec<u64> = (0..credit).collect();
        expected.push(u64::MAX);
        assert_eq!(seq(&events), expected);
        assert!(one.stats().reconnects >= 4);
    }
}

/// Link events: up on the first connection, down when it breaks, up again when the peer
/// is back; a replaced connection is a down and an up; a shutdown reports nothing.
#[test]
fn link_events_report_losses_but_not_a_shutdown() {
    let rt = runtime();
    let (zero, one) = pair(&rt, HashMap::new(), HashMap::new(), |_, _| {});
    let events = zero.watch_links();
    assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
    let addr = one.local_addr();
    drop(one);
    let next = || events.recv_timeout(LONG).expect("an event");
    // The first connection may have come up before the watch started.
    let mut first = next();
    if first == LinkEvent::Up(1) {
        first = next();
    }
    assert_eq!(first, LinkEvent::Down(1));
    let start = Instant::now();
    let one = loop {
        match DataPlane::start(
            config(1, addr, &[(0, unused())]),
            HashMap::new(),
            rt.handle(),
        ) {
            Ok(p) => break p,
            Err(_) if start.elapsed() < LONG => thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("restart worker 1 on the same port: {e}"),
        }
    };
    assert_eq!(next(), LinkEvent::Up(1));
    assert!(one.wait_connected(LONG));
    zero.shutdown(LONG);
    assert!(
        events.recv_timeout(Duration::from_millis(300)).is_err(),
        "a shutdown loses nothing"
    );
}

/// The dialer's side of fencing: an acceptor that answers as another incarnation than the
/// one the dialer's view holds is refused (the dialer hangs up and counts it).
#[test]
fn a_dialer_refuses_an_acceptor_of_another_incarnation() {
    let rt = runtime();
    let listener = std::net::TcpListener::bind(any_port()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let (kind, hello) = raw_read(&mut s);
        assert_eq!(kind, Kind::Hello.byte());
        let hello = Hello::decode(&hello).expect("a hello");
        assert_eq!(
            (
                hello.from,
                hello.to,
                hello.from_incarnation,
                hello.to_incarnation
            ),
            (0, 1, 2, 3)
        );
        raw_write(&mut s, Kind::Nonce, &[0; NONCE]);
        let (kind, _) = raw_read(&mut s);
        assert_eq!(kind, Kind::Auth.byte());
        // Accepts, as incarnation 9.
        let mut accept = DEFAULT_CREDIT.to_le_bytes().to_vec();
        accept.extend_from_slice(&9u64.to_le_bytes());
        raw_write(&mut s, Kind::Accept, &accept);
        closed_by_peer(&mut s)
    });
    let mut cfg = config(0, any_port(), &[(1, addr)]);
    cfg.incarnation = 2;
    cfg.incarnations.insert(1, 3);
    let zero = DataPlane::start(cfg, HashMap::new(), rt.handle()).expect("start worker 0");
    assert!(
        fake.join().expect("the fake acceptor"),
        "the dialer hung up"
    );
    assert!(eventually(LONG, || zero.stats().rejected_handshakes > 0));
    assert!(!zero.wait_connected(Duration::from_millis(50)));
}
