//! One process's CPU time, read before and after every invocation of its environment: the
//! sum of its threads' run time from `/proc/<pid>/task/*/schedstat` (nanoseconds, unlike
//! `/proc/<pid>/stat`'s 10 ms ticks). Threads that have ended are not counted, nor are child
//! processes: a function that does its work in a helper process is measured short.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;

/// The files stay open and are read again from the start (procfs makes their text afresh for
/// a read at offset 0); the thread list is walked again only when the thread count in
/// `/proc/<pid>/stat` differs from the list's. Walking it every time — a directory read, then
/// an open, a size check, two reads and a close per thread, twice per invocation — was 4% of
/// all CPU samples in the local stack's throughput benchmark. The open files also pin the
/// process: once it has ended they stop answering, where a path would name whichever process
/// is given its pid next.
#[derive(Debug)]
pub struct CpuClock {
    pid: u32,
    /// `/proc/<pid>/stat`, opened on the first reading that can.
    stat: Option<File>,
    /// The process was seen and has ended: no reading again.
    ended: bool,
    /// Each listed thread's id and `schedstat`.
    threads: Vec<(u32, File)>,
}

impl CpuClock {
    /// A clock on process `pid`; nothing is opened until the first [`CpuClock::read`].
    pub fn new(pid: u32) -> CpuClock {
        CpuClock { pid, stat: None, ended: false, threads: Vec::new() }
    }

    /// The process's CPU time now; `None` once it has ended (or when `/proc` cannot be opened,
    /// for instance with no descriptor left: the next reading tries again).
    pub fn read(&mut self) -> Option<Duration> {
        if self.ended {
            return None;
        }
        if self.stat.is_none() {
            match File::open(format!("/proc/{}/stat", self.pid)) {
                Ok(f) => self.stat = Some(f),
                Err(e) => {
                    // Gone for good, unless the error was this process's (no descriptor left).
                    self.ended = e.kind() == std::io::ErrorKind::NotFound;
                    return None;
                }
            }
        }
        let mut buf = [0u8; 1024];
        let Some(count) = self.stat.as_ref().and_then(|f| read_from_start(f, &mut buf)).and_then(thread_count) else {
            self.ended = true;
            self.threads.clear();
            return None;
        };
        if count != self.threads.len() {
            self.list();
        }
        let mut ns = 0u64;
        // A thread that has ended stops answering: it leaves the list, and its time the sum.
        self.threads.retain(|(_, f)| match read_from_start(f, &mut buf).and_then(leading_number) {
            Some(v) => {
                ns += v;
                true
            }
            None => false,
        });
        Some(Duration::from_nanos(ns))
    }

    /// Opens the `schedstat` of every thread the process has now.
    fn list(&mut self) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            self.threads.clear();
            return;
        };
        self.threads = tasks
            .flatten()
            .filter_map(|t| {
                let tid = t.file_name().to_str()?.parse().ok()?;
                Some((tid, File::open(t.path().join("schedstat")).ok()?))
            })
            .collect();
    }
}

/// A `/proc` file's text now, in one read: the files read here are far shorter than `buf`.
fn read_from_start<'b>(f: &File, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let n = f.read_at(buf, 0).ok().filter(|n| *n > 0)?;
    Some(&buf[..n])
}

/// The first whitespace-separated number of `text` (a `schedstat`'s run time, ns).
fn leading_number(text: &[u8]) -> Option<u64> {
    std::str::from_utf8(text).ok()?.split_whitespace().next()?.parse().ok()
}

/// `num_threads` of a `/proc/<pid>/stat` text: its 20th field, counted after the command name,
/// which is in parentheses and may itself hold spaces and parentheses.
fn thread_count(stat: &[u8]) -> Option<usize> {
    let after = &stat[stat.iter().rposition(|b| *b == b')')? + 1..];
    std::str::from_utf8(after).ok()?.split_whitespace().nth(17)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_count_is_read_past_any_command_name() {
        let fields_4_to_19 = " 1".repeat(16);
        let stat = format!("4242 (a (b) c) S{fields_4_to_19} 7 0 99\n");
        assert_eq!(thread_count(stat.as_bytes()), Some(7));
        assert_eq!(thread_count(b"4242 (sh) S 1 2"), None, "too short");
        assert_eq!(thread_count(b"no name at all"), None);
        assert_eq!(leading_number(b"123456 789 3\n"), Some(123_456));
    }

    #[test]
    fn a_busy_process_is_measured_until_it_ends() {
        let mut child = std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap();
        let mut clock = CpuClock::new(child.id());
        let before = clock.read().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let after = clock.read().unwrap();
        assert!(after > before, "{after:?} after {before:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(clock.read(), None, "an ended process reads nothing");
        assert_eq!(clock.read(), None, "nor ever again, whoever gets its pid");
        assert_eq!(CpuClock::new(u32::MAX).read(), None, "no such process");
    }

    #[test]
    fn threads_are_listed_when_they_start_and_dropped_when_they_end() {
        let mut clock = CpuClock::new(std::process::id());
        let (tid_tx, tid_rx) = std::sync::mpsc::channel::<u32>();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            // "<pid>/task/<tid>": this thread's own id.
            let me = std::fs::read_link("/proc/thread-self").unwrap();
            tid_tx.send(me.file_name().unwrap().to_str().unwrap().parse().unwrap()).unwrap();
            let _ = end_rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        let listed = |c: &CpuClock| c.threads.iter().any(|(t, _)| *t == tid);
        // Other tests' threads come and go too, so only this thread is looked for.
        assert!(clock.read().is_some());
        assert!(listed(&clock), "a running thread is listed");
        end_tx.send(()).unwrap();
        worker.join().unwrap();
        let dropped = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(1));
            clock.read().is_some() && !listed(&clock)
        });
        assert!(dropped, "an ended thread leaves the list");
    }
}
