//! A grid of configurations simulated on every core: each job (a plan, a function, its holds)
//! is independent, so one thread per core takes the next job not yet taken (jobs differ in cost:
//! a throttling configuration is cheaper) and the windows come back in the jobs' order.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::scenario::Plan;

use super::dynamodb::TableSpec;
use super::gateway::Gateway;
use super::lambda::{FunctionSpec, Holds};
use super::schedule::{self, Downstream, Window};

/// One configuration to simulate.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The plan (at the configuration's traffic).
    pub plan: &'a Plan,
    /// The function.
    pub spec: &'a FunctionSpec,
    /// Its hold times.
    pub holds: &'a Holds,
    /// API Gateway in front, if simulated.
    pub gateway: Option<&'a Gateway>,
    /// The table behind, if simulated.
    pub table: Option<&'a TableSpec>,
}

/// Every job's windows over `replications`, in order, the jobs spread over the machine's cores.
pub fn run(jobs: &[Job<'_>], replications: u32) -> Vec<Vec<Window>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<Window>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(j) = jobs.get(i) else { break mine };
                        mine.push((
                            i,
                            schedule::run_with(
                                j.plan,
                                j.spec,
                                j.holds,
                                Downstream { gateway: j.gateway, table: j.table },
                                replications,
                            ),
                        ));
                    }
                })
            })
            .collect();
        // A panic in a worker is a bug; carry it to the caller as one.
        handles.into_iter().flat_map(|h| h.join().expect("simulation worker")).collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, w)| w).collect()
}
