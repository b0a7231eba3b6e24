//! Workers outlive their supervisor (as Storm's do): a supervisor killed and restarted
//! finds the worker processes it started still running, and adopts them instead of starting
//! them again — the data keeps flowing through a supervisor crash.
//!
//! A supervisor lists the processes it runs in `<dir>/workers` (one line per worker:
//! pid, topology id, index, incarnation, port, binary hash), rewritten whenever that set
//! changes. A starting supervisor reads the list and adopts every process that still runs
//! the worker its line names: the process lives (not a zombie) and its command line names
//! the same topology, index and incarnation — so a pid reused by another process is never
//! taken for a worker. An adopted process is not the supervisor's child: it is watched
//! through `/proc` and stopped with `kill -9` by pid.

use crate::cluster::proto::LocalAssignment;
use std::path::Path;

/// The file, in a supervisor's directory, that lists its worker processes.
pub const FILE: &str = "workers";

/// One worker process a supervisor started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its process id.
    pub pid: u32,
    /// What it was started for.
    pub assignment: LocalAssignment,
}

/// The list as text: one line per record.
pub fn encode(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| {
            let a = &r.assignment;
            format!(
                "{} {} {} {} {} {}\n",
                r.pid, a.topology_id, a.worker, a.version, a.port, a.sha256
            )
        })
        .collect()
}

/// The records of a list; malformed lines (a torn write cannot make one: the file is
/// replaced whole) are skipped.
pub fn decode(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [pid, id, worker, version, port, sha] = f.as_slice() else {
                return None;
            };
            Some(Record {
                pid: pid.parse().ok()?,
                assignment: LocalAssignment {
                    topology_id: (*id).to_string(),
                    worker: worker.parse().ok()?,
                    version: version.parse().ok()?,
                    port: port.parse().ok()?,
                    sha256: (*sha).to_string(),
                },
            })
        })
        .collect()
}

/// Writes the list of `dir` (to a temporary file, then renamed over the old one).
pub fn save(dir: &Path, records: &[Record]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{FILE}.tmp"));
    std::fs::write(&tmp, encode(records))?;
    std::fs::rename(&tmp, dir.join(FILE))
}

/// The list of `dir` (empty when there is none).
pub fn load(dir: &Path) -> Vec<Record> {
    std::fs::read_to_string(dir.join(FILE))
        .map(|t| decode(&t))
        .unwrap_or_default()
}

/// True if a process command line (`/proc/<pid>/cmdline`: arguments separated by NULs)
/// runs worker `a`: worker mode, and the same topology, index, incarnation and binary.
pub fn cmdline_runs(cmdline: &[u8], a: &LocalAssignment) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let has = |flag: &str, value: &str| {
        args.windows(2)
            .any(|w| w[0] == flag.as_bytes() && w[1] == value.as_bytes())
    };
    args.get(1) == Some(&b"worker".as_slice())
        && has("--topology", &a.topology_id)
        && has("--worker", &a.worker.to_string())
        && has("--version", &a.version.to_string())
        && has("--sha256", &a.sha256)
}

/// The state letter of a `/proc/<pid>/stat` line (`R`, `S`, `Z`...): the field after the
/// command name, which is in parentheses and may itself hold spaces or parentheses.
pub fn stat_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// True if process `pid` lives (exists and is neither a zombie nor dead) and runs worker
/// `a`.
pub fn runs(pid: u32, a: &LocalAssignment) -> bool {
    let proc = Path::new("/proc").join(pid.to_string());
    let alive = std::fs::read_to_string(proc.join("stat"))
        .ok()
        .and_then(|s| stat_state(&s))
        .is_some_and(|c| c != 'Z' && c != 'X');
    alive && std::fs::read(proc.join("cmdline")).is_ok_and(|c| cmdline_runs(&c, a))
}

/// Sends `SIGKILL` to process `pid` (an adopted worker); an error when there is no such
/// process or it may not be signalled.
pub fn kill(pid: u32) -> std::io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("{pid} is not a process id")))?;
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn la(id: &str, worker: u32, version: u64) -> LocalAssignment {
        LocalAssignment {
            topology_id: id.into(),
            worker,
            port: 6700 + worker,
            sha256: "ab".repeat(32),
            version,
        }
    }

    #[test]
    fn the_list_round_trips_and_skips_what_it_cannot_read() {
        let records = vec![
            Record {
                pid: 41,
                assignment: la("wc-1", 0, 3),
            },
            Record {
                pid: 42,
                assignment: la("wc-1", 1, 7),
            },
        ];
        let text = encode(&records);
        assert_eq!(decode(&text), records);
        let mangled = format!("garbage\n{text}41 wc-2 x 1 1 ab\n\n");
        assert_eq!(decode(&mangled), records);
        let dir = std::env::temp_dir().join(format!("gale-adoption-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(load(&dir).is_empty());
        save(&dir, &records).unwrap();
        assert_eq!(load(&dir), records);
        save(&dir, &records[1..]).unwrap();
        assert_eq!(load(&dir), records[1..]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_command_line_runs_a_worker_only_with_its_topology_index_and_incarnation() {
        let cmd = |args: &[&str]| args.join("\0").into_bytes();
        let a = la("wc-1", 1, 7);
        let sha = a.sha256.clone();
        let full = [
            "/bin/wc",
            "worker",
            "--nimbus",
            "http://127.0.0.1:1",
            "--topology",
            "wc-1",
            "--worker",
            "1",
            "--version",
            "7",
            "--sha256",
            &sha,
        ];
        assert!(cmdline_runs(&cmd(&full), &a));
        assert!(
            !cmdline_runs(&cmd(&full), &la("wc-1", 1, 8)),
            "another incarnation"
        );
        assert!(
            !cmdline_runs(&cmd(&full), &la("wc-1", 0, 7)),
            "another index"
        );
        assert!(
            !cmdline_runs(&cmd(&full), &la("wc-10", 1, 7)),
            "another topology"
        );
        let other = LocalAssignment {
            sha256: "cd".repeat(32),
            ..a.clone()
        };
        assert!(!cmdline_runs(&cmd(&full), &other), "another binary");
        let mut nimbus = full;
        nimbus[1] = "nimbus";
        assert!(!cmdline_runs(&cmd(&nimbus), &a), "not a worker");
        assert!(!cmdline_runs(b"", &a));
    }

    #[test]
    fn the_state_comes_after_the_command_name_whatever_it_holds() {
        assert_eq!(stat_state("42 (wc) S 1 42 42 0"), Some('S'));
        assert_eq!(stat_state("42 (a) b) Z 1"), Some('Z'));
        assert_eq!(stat_state("42 (my worker) R 1"), Some('R'));
        assert_eq!(stat_state("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_not_a_worker() {
        let me = std::process::id();
        assert!(!runs(me, &la("wc-1", 0, 1)), "a test binary runs no worker");
        assert!(!runs(u32::MAX, &la("wc-1", 0, 1)), "no such process");
        assert!(kill(u32::MAX).is_err());
    }

    #[test]
    fn kill_ends_a_process_by_pid() {
        use std::os::unix::process::ExitStatusExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        kill(child.id()).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(9));
    }
}
