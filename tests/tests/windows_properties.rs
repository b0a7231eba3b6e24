//! Windows against a reference over random out-of-order streams (issue 11): random keys,
//! random disorder, and events late by random amounts — within the watermark's bound,
//! within a window's allowed lateness (they update windows that fired, which fire again),
//! and beyond it (they go to the window's `late` stream and nowhere else). Tumbling, sliding
//! and session windows, each at parallelism 1 and 3, run in one topology
//! (`windows_properties.topo`): locally over many generated streams, and on a real cluster
//! with the tasks spread over two worker processes over one long stream and two random
//! ones (new every run).
//!
//! The reference is exact. One spout task emits the events phase by phase (see
//! `gale_tests::window_property_ops`), so every event reaches its windows under a known
//! watermark: the largest timestamp of the earlier phases minus the bound minus 1 ms. The
//! reference replays the events under those watermarks with plain loops over the windows
//! of each key. Every result each window emits is compared, in order, per window (its
//! firing and each firing again after a late update), every late event by id, and each
//! window's late count in the run summary (`unread_2`'s `late` stream has no edge: the
//! count is all there is of it).

use gale_tests::cluster::{Cluster, http_request, serial};
use gale_tests::window_property_ops::{
    prepare_local_run, read_late, read_results, take_recorded, write_phases,
};
use gale_tests::windows_properties::{self, Event, WindowValue};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use std::time::Duration;

/// `watermark bounded(20ms)`.
const BOUND: u64 = 20;
/// The first event's time.
const START: u64 = 1_000_000;

/// How a window assigns events.
#[derive(Debug, Clone, Copy)]
enum Assign {
    Tumbling { size: u64 },
    Sliding { size: u64, slide: u64 },
    Session { gap: u64 },
}

/// What a window's result is.
#[derive(Debug, Clone, Copy)]
enum Agg {
    Count,
    SumAmount,
}

/// A window of the topology, as the reference sees it.
#[derive(Debug)]
struct Spec {
    name: &'static str,
    /// Its operator as the plan prints it (checked against the topology).
    operator: &'static str,
    parallelism: u32,
    assign: Assign,
    lateness: u64,
    agg: Agg,
    /// An edge reads its `late` stream (into `late_<name>`).
    late_read: bool,
}

const WINDOWS: [Spec; 7] = [
    Spec {
        name: "tumble_1",
        operator: "tumbling(100ms, count)",
        parallelism: 1,
        assign: Assign::Tumbling { size: 100 },
        lateness: 40,
        agg: Agg::Count,
        late_read: true,
    },
    Spec {
        name: "tumble_3",
        operator: "tumbling(100ms, count)",
        parallelism: 3,
        assign: Assign::Tumbling { size: 100 },
        lateness: 40,
        agg: Agg::Count,
        late_read: true,
    },
    Spec {
        name: "slide_1",
        operator: "sliding(100ms, 25ms, sum(amount))",
        parallelism: 1,
        assign: Assign::Sliding {
            size: 100,
            slide: 25,
        },
        lateness: 10,
        agg: Agg::SumAmount,
        late_read: true,
    },
    Spec {
        name: "slide_3",
        operator: "sliding(100ms, 25ms, sum(amount))",
        parallelism: 3,
        assign: Assign::Sliding {
            size: 100,
            slide: 25,
        },
        lateness: 10,
        agg: Agg::SumAmount,
        late_read: true,
    },
    Spec {
        name: "session_1",
        operator: "session(30ms, sum(amount))",
        parallelism: 1,
        assign: Assign::Session { gap: 30 },
        lateness: 60,
        agg: Agg::SumAmount,
        late_read: true,
    },
    Spec {
        name: "session_3",
        operator: "session(30ms, sum(amount))",
        parallelism: 3,
        assign: Assign::Session { gap: 30 },
        lateness: 60,
        agg: Agg::SumAmount,
        late_read: true,
    },
    Spec {
        name: "unread_2",
        operator: "tumbling(50ms, count)",
        parallelism: 2,
        assign: Assign::Tumbling { size: 50 },
        lateness: 0,
        agg: Agg::Count,
        late_read: false,
    },
];

/// What a window did: every result per window, in order, and its late events.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// Per (key, start, end): each value the window emitted, in the order it emitted them.
    results: BTreeMap<(String, u64, u64), Vec<u64>>,
    /// The ids of its late events, sorted.
    late: Vec<u64>,
}

/// One open window of a key in the reference.
#[derive(Debug)]
struct Open {
    start: u64,
    end: u64,
    value: u64,
    fired: bool,
}

/// The reference: a window's semantics as grammar/README.md states them, replayed over the
/// events in their order under the watermark each one arrives with.
struct Reference<'a> {
    spec: &'a Spec,
    /// Event time (the last watermark), `None` before the first.
    time: Option<u64>,
    /// Per key, its open windows.
    open: BTreeMap<String, Vec<Open>>,
    out: Outcome,
}

impl Reference<'_> {
    /// The window's last millisecond plus the lateness has passed: it is gone.
    fn past_lateness(&self, end: u64) -> bool {
        self.time
            .is_some_and(|t| (end - 1).saturating_add(self.spec.lateness) <= t)
    }

    /// The watermark has reached the window's last millisecond: it fires.
    fn due(&self, end: u64) -> bool {
        self.time.is_some_and(|t| t >= end - 1)
    }

    fn emit(out: &mut Outcome, key: &str, w: &mut Open) {
        w.fired = true;
        out.results
            .entry((key.to_string(), w.start, w.end))
            .or_default()
            .push(w.value);
    }

    /// Event time advances to `t`: windows it reaches fire, those past their lateness go.
    fn advance(&mut self, t: u64) {
        if self.time.is_some_and(|now| t <= now) {
            return;
        }
        self.time = Some(t);
        let lateness = self.spec.lateness;
        for (key, windows) in &mut self.open {
            for w in windows.iter_mut() {
                if !w.fired && w.end - 1 <= t {
                    Self::emit(&mut self.out, key, w);
                }
            }
            windows.retain(|w| (w.end - 1).saturating_add(lateness) > t);
        }
    }

    /// The windows `[start, end)` an event at `at` belongs to (not merging).
    fn windows_of(&self, at: u64) -> Vec<(u64, u64)> {
        match self.spec.assign {
            Assign::Tumbling { size } => {
                let start = at / size * size;
                vec![(start, start + size)]
            }
            Assign::Sliding { size, slide } => {
                let first = (at + 1).saturating_sub(size).div_ceil(slide) * slide;
                (first..=at)
                    .step_by(slide as usize)
                    .map(|s| (s, s + size))
                    .collect()
            }
            Assign::Session { gap } => vec![(at, at + gap)],
        }
    }

    fn element(&mut self, e: &Event) {
        let add = match self.spec.agg {
            Agg::Count => 1,
            Agg::SumAmount => e.amount,
        };
        let own = self.windows_of(e.at);
        if let Assign::Session { .. } = self.spec.assign {
            // Merged with every open session of the key it overlaps; late if the merged
            // session is past its lateness.
            let (at, end) = own[0];
            let windows = self.open.get(&e.key).map(Vec::as_slice).unwrap_or_default();
            let overlapping = |w: &Open| w.start < end && at < w.end;
            let start = windows
                .iter()
                .filter(|w| overlapping(w))
                .fold(at, |s, w| s.min(w.start));
            let merged_end = windows
                .iter()
                .filter(|w| overlapping(w))
                .fold(end, |x, w| x.max(w.end));
            if self.past_lateness(merged_end) {
                self.out.late.push(e.id);
                return;
            }
            let due = self.due(merged_end);
            let windows = self.open.entry(e.key.clone()).or_default();
            let value = windows
                .iter()
                .filter(|w| overlapping(w))
                .map(|w| w.value)
                .sum::<u64>()
                + add;
            windows.retain(|w| !overlapping(w));
            let mut merged = Open {
                start,
                end: merged_end,
                value,
                fired: false,
            };
            if due {
                Self::emit(&mut self.out, &e.key, &mut merged);
            }
            windows.push(merged);
            return;
        }
        // Tumbling and sliding: the event goes to each of its windows not past their
        // lateness; late if there is none.
        let live: Vec<(u64, u64)> = own
            .into_iter()
            .filter(|&(_, end)| !self.past_lateness(end))
            .collect();
        if live.is_empty() {
            self.out.late.push(e.id);
            return;
        }
        for (start, end) in live {
            let due = self.due(end);
            let windows = self.open.entry(e.key.clone()).or_default();
            let i = match windows
                .iter()
                .position(|w| (w.start, w.end) == (start, end))
            {
                Some(i) => i,
                None => {
                    windows.push(Open {
                        start,
                        end,
                        value: 0,
                        fired: false,
                    });
                    windows.len() - 1
                }
            };
            windows[i].value += add;
            if due {
                // A late event within the lateness: the window fires again at once.
                Self::emit(&mut self.out, &e.key, &mut windows[i]);
            }
        }
    }
}

/// What window `spec` emits for `phases`.
fn reference(spec: &Spec, phases: &[Vec<Event>]) -> Outcome {
    let mut r = Reference {
        spec,
        time: None,
        open: BTreeMap::new(),
        out: Outcome::default(),
    };
    let mut max: Option<u64> = None;
    for phase in phases {
        // The watermark the spout sent at the end of the phases before.
        if let Some(m) = max {
            r.advance(m - BOUND - 1);
        }
        for e in phase {
            r.element(e);
        }
        max = phase.iter().map(|e| e.at).chain(max).max();
    }
    // The input ends: every window fires.
    r.advance(u64::MAX);
    r.out.late.sort_unstable();
    r.out
}

/// What window `name` did in a run, from what its recorders received.
fn observed(name: &str, results: &[(String, WindowValue)], late: &[(String, Event)]) -> Outcome {
    let (results_of, late_of) = (format!("results_{name}"), format!("late_{name}"));
    let mut o = Outcome::default();
    for (_, r) in results.iter().filter(|(c, _)| *c == results_of) {
        o.results
            .entry((r.key.clone(), r.start, r.end))
            .or_default()
            .push(r.value);
    }
    o.late = late
        .iter()
        .filter(|(c, _)| *c == late_of)
        .map(|(_, e)| e.id)
        .collect();
    o.late.sort_unstable();
    o
}

/// The differences between `want` and `got`, at most a few of each kind ("" if none).
fn differences(want: &Outcome, got: &Outcome) -> String {
    let mut s = String::new();
    let keys: std::collections::BTreeSet<_> =
        want.results.keys().chain(got.results.keys()).collect();
    for k in keys
        .into_iter()
        .filter(|k| want.results.get(*k) != got.results.get(*k))
        .take(5)
    {
        s.push_str(&format!(
            "  window {k:?}: want {:?}, got {:?}\n",
            want.results.get(k),
            got.results.get(k)
        ));
    }
    let missing: Vec<_> = want.late.iter().filter(|i| !got.late.contains(i)).collect();
    let extra: Vec<_> = got.late.iter().filter(|i| !want.late.contains(i)).collect();
    if !missing.is_empty() || !extra.is_empty() || want.late.len() != got.late.len() {
        s.push_str(&format!(
            "  late: {} wanted, {} got; not on `late`: {missing:?}; on `late` but not late: {extra:?}\n",
            want.late.len(),
            got.late.len()
        ));
    }
    s
}

/// Checks every window of a run against the reference; `late_count(window)` is the late
/// count the run reports for it (the summary, or the cluster's stats).
fn check(
    phases: &[Vec<Event>],
    results: &[(String, WindowValue)],
    late: &[(String, Event)],
    late_count: impl Fn(&str) -> Option<u64>,
) -> Result<(), String> {
    let mut report = String::new();
    for spec in &WINDOWS {
        let want = reference(spec, phases);
        let mut got = observed(spec.name, results, late);
        if !spec.late_read {
            // Nothing reads its `late` stream: its late events are only counted.
            assert!(got.late.is_empty());
            got.late = want.late.clone();
        }
        let mut d = differences(&want, &got);
        let count = late_count(spec.name);
        if count != Some(want.late.len() as u64) {
            d.push_str(&format!(
                "  late count: want {}, the run reports {count:?}\n",
                want.late.len()
            ));
        }
        if !d.is_empty() {
            report.push_str(&format!("{} ({}):\n{d}", spec.name, spec.operator));
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// Random phases (see `gale_tests::window_property_ops`): up to `max_phases` after the
/// first, each some events back in time from the largest timestamp so far (within the
/// bound, within the lateness, or far beyond), then one that may move time on. Ids number
/// the events in order.
fn phases(max_phases: usize) -> impl Strategy<Value = Vec<Vec<Event>>> {
    let back = prop_oneof![
        3 => 0..=BOUND,
        2 => 0..=150u64,
        1 => 0..=500u64,
    ];
    let step = prop_oneof![4 => 0..=40u64, 1 => 0..=300u64];
    let amount = 0..1000u64;
    let follower = (0..5u8, back, amount.clone());
    let phase = (
        proptest::collection::vec(follower, 0..=6),
        (0..5u8, step, amount.clone()),
    );
    (
        1..=5u8,
        (0..5u8, amount),
        proptest::collection::vec(phase, 0..=max_phases),
    )
        .prop_map(|(keys, first, raw)| {
            let mut id = 0;
            let mut event = |key: u8, at: u64, amount: u64| {
                id += 1;
                Event {
                    key: format!("k{}", key % keys),
                    at,
                    id: id - 1,
                    amount,
                }
            };
            let mut phases = vec![vec![event(first.0, START, first.1)]];
            let mut max = START;
            for (followers, (key, step, amount)) in raw {
                let mut phase: Vec<Event> = followers
                    .into_iter()
                    .map(|(key, back, amount)| event(key, max - back, amount))
                    .collect();
                phase.push(event(key, max + step, amount));
                max += step;
                phases.push(phase);
            }
            phases
        })
}

/// Runs the topology in this process over `phases`: what its recorders saw, and the
/// summary's late count per component.
#[allow(clippy::type_complexity)]
fn run_local(
    phases: &[Vec<Event>],
) -> (
    Vec<(String, WindowValue)>,
    Vec<(String, Event)>,
    BTreeMap<String, Option<u64>>,
) {
    prepare_local_run(phases);
    let summary =
        gale::run_local(windows_properties::topology(), Default::default()).expect("runs");
    let late_counts = summary
        .components
        .iter()
        .map(|c| (c.name.to_string(), c.late))
        .collect();
    let (results, late) = take_recorded();
    (results, late, late_counts)
}

fn check_local(phases: &[Vec<Event>]) -> Result<(), String> {
    let (results, late, counts) = run_local(phases);
    check(phases, &results, &late, |w| {
        counts.get(w).copied().flatten()
    })
}

/// A long stream (400 phases, about 1,800 events), the same every run.
fn long_stream() -> Vec<Vec<Event>> {
    let mut runner = TestRunner::deterministic();
    let tree = phases(400)
        .new_tree(&mut runner)
        .expect("the strategy generates");
    let mut p = tree.current();
    while p.len() < 300 {
        p = phases(400)
            .new_tree(&mut runner)
            .expect("the strategy generates")
            .current();
    }
    p
}

#[test]
fn the_topology_has_the_windows_the_reference_models() {
    let desc = &windows_properties::DESC;
    for spec in &WINDOWS {
        let c = desc
            .components
            .iter()
            .find(|c| c.name == spec.name)
            .unwrap_or_else(|| panic!("no window {}", spec.name));
        assert_eq!(
            (c.operator, c.parallelism),
            (spec.operator, spec.parallelism)
        );
        let late_edge = desc
            .edges
            .iter()
            .any(|e| desc.components[e.to].name == format!("late_{}", spec.name));
        assert_eq!(late_edge, spec.late_read, "{}", spec.name);
    }
    let spout = &desc.components[0];
    assert_eq!((spout.name, spout.tasks), ("events", 1));
}

#[test]
fn a_long_stream_exercises_every_case() {
    // The long stream has what the properties are about, for every window.
    let phases = long_stream();
    for spec in &WINDOWS {
        let want = reference(spec, &phases);
        assert!(
            want.late.len() > 10,
            "{}: {} late events",
            spec.name,
            want.late.len()
        );
        let fired_again = want.results.values().filter(|v| v.len() > 1).count();
        assert_eq!(
            fired_again > 10,
            spec.lateness > 0,
            "{}: {fired_again} windows fired again after late updates",
            spec.name,
        );
    }
    let sessions = reference(&WINDOWS[4], &phases);
    let events: usize = phases.iter().map(Vec::len).sum();
    let in_sessions = events - sessions.late.len();
    assert!(
        sessions.results.len() < in_sessions / 2,
        "sessions merge: {} sessions of {in_sessions} events",
        sessions.results.len()
    );
}

#[test]
fn a_long_stream_matches_the_reference_locally() {
    let _one = serial();
    let phases = long_stream();
    if let Err(report) = check_local(&phases) {
        panic!("the windows differ from the reference:\n{report}");
    }
}

proptest! {
    #![proptest_config(Config { cases: 64, ..Config::default() })]

    #[test]
    fn windows_over_random_streams_match_the_reference_locally(phases in phases(60)) {
        let _one = serial();
        let checked = check_local(&phases);
        prop_assert!(checked.is_ok(), "{}", checked.err().unwrap_or_default());
    }
}

/// The late count of each component in nimbus's REST API (0 for those without one).
fn cluster_late_counts(c: &Cluster, id: &str) -> BTreeMap<String, u64> {
    let (code, body) = http_request(
        &c.http,
        "GET",
        &format!("/api/v1/topologies/{id}"),
        Some(&c.secret),
        "",
    );
    assert_eq!(code, 200, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    json["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?.to_string(), c["late"].as_u64()?)))
        .collect()
}

/// Runs `phases` on the cluster (`run` numbers the run's files): what the recorders wrote
/// and nimbus's late counts, checked against the reference.
fn check_on_cluster(c: &Cluster, run: usize, phases: &[Vec<Event>]) -> Result<String, String> {
    let events = c.dir.join(format!("events-{run}.txt"));
    std::fs::write(&events, write_phases(phases)).expect("events written");
    let out = c.dir.join(format!("out-{run}"));
    std::fs::create_dir_all(&out).expect("output directory");
    let id = c.submit(
        env!("CARGO_BIN_EXE_windows_properties").as_ref(),
        &[
            "--set",
            &format!("events={}", events.display()),
            "--set",
            &format!("out_dir={}", out.display()),
        ],
    );
    c.wait_finished(&id, Duration::from_secs(120));
    let counts = cluster_late_counts(c, &id);
    let results = read_results(&out);
    let late = read_late(&out);
    check(phases, &results, &late, |w| counts.get(w).copied()).map(|()| id)
}

#[test]
fn long_and_random_streams_match_the_reference_on_two_workers() {
    let _one = serial();
    let c = Cluster::start("windows-properties", 2, 1, &[]);
    let long = long_stream();
    if let Err(report) = check_on_cluster(&c, 0, &long) {
        panic!(
            "the windows differ from the reference:\n{report}\n{}",
            c.list()
        );
    }
    // The tasks ran in two processes: some window tasks in the spout's, some not.
    let workers = c.workers();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let with_windows = workers
        .iter()
        .filter(|w| WINDOWS.iter().any(|s| w.runs(s.name)))
        .count();
    assert_eq!(with_windows, 2, "window tasks in both workers: {workers:?}");
    // Then random streams, new every run, on the same cluster.
    let mut runner = TestRunner::new(Config::default());
    for run in 1..=2 {
        let phases = phases(80)
            .new_tree(&mut runner)
            .expect("the strategy generates")
            .current();
        if let Err(report) = check_on_cluster(&c, run, &phases) {
            panic!(
                "random stream {run} differs from the reference:\n{report}\nits events:\n{}",
                write_phases(&phases)
            );
        }
    }
}
