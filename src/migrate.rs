// SPDX-License-Identifier: GPL-2.0

//! Moving a task to a CPU through the stopper of the CPU it is on.
//!
//! `sched_setaffinity(2)` on a running task ends in `affine_move_task()`,
//! which packs `migration_cpu_stop()` as a work for `migration/S`, S being
//! the task's CPU. [`migrate`] does the same with `rmigration/S`: the work
//! calls `set_cpus_allowed_ptr(task, cpumask_of(D))` on CPU S, where the
//! task cannot be running (our `SCHED_FIFO` thread is), so the scheduler
//! moves it off S's runqueue directly. A sleeping task only gets its new
//! affinity: it lands on D when it next wakes up.
//!
//! Unlike `sched_setaffinity(2)`, this does not intersect the mask with the
//! task's cpuset (`cpuset_cpus_allowed()` is not exported to modules): a
//! task can be moved out of its cpuset's CPUs.

use crate::{
    sched::{
        self,
        Where, //
    },
    stopper,
    trace, //
};
use kernel::{
    cpu::CpuId,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
    task::Task,
};

/// How many times the source CPU is looked up again when it went offline
/// between the lookup and the queueing (the task moved meanwhile).
const RETRIES: u32 = 3;

/// What a migration did.
#[derive(Clone, Copy)]
pub(crate) struct Outcome {
    /// The task's pid and name.
    pub(crate) pid: i32,
    pub(crate) comm: [u8; 16],
    /// The CPU whose stopper ran the work, and the destination.
    pub(crate) from: u32,
    pub(crate) to: u32,
    /// Where the task was when the work ran, and on which CPU.
    pub(crate) before: Where,
    pub(crate) before_cpu: u32,
    /// The CPU the task is on after `set_cpus_allowed_ptr()`.
    pub(crate) after_cpu: u32,
    /// The result of `set_cpus_allowed_ptr()`.
    pub(crate) ret: c_int,
    /// From the request to the end of the work, in ns.
    pub(crate) ns: u64,
}

impl Outcome {
    /// Whether the task is on its destination already (else it moves there
    /// when it next wakes up).
    pub(crate) fn arrived(&self) -> bool {
        self.after_cpu == self.to
    }
}

/// Migration counters, shown in debugfs `stats`.
pub(crate) struct Stats {
    /// Migrations that ran `set_cpus_allowed_ptr()` successfully.
    pub(crate) done: Atomic<u64>,
    /// ... of which the task was on its destination at once.
    pub(crate) arrived: Atomic<u64>,
    /// Requests refused or failed.
    pub(crate) failed: Atomic<u64>,
    /// Works run by a stopper for migrations.
    pub(crate) works: Atomic<u64>,
    /// Works refused with `ENOENT` (the source CPU went offline; retried).
    pub(crate) refused: Atomic<u64>,
}

/// The migration counters.
pub(crate) static STATS: Stats = Stats {
    done: Atomic::new(0),
    arrived: Atomic::new(0),
    failed: Atomic::new(0),
    works: Atomic::new(0),
    refused: Atomic::new(0),
};

/// Moves the task of `pid` to `cpu` through the stopper of its CPU.
///
/// CONTEXT: process context, may sleep.
///
/// RETURNS: the outcome, or `ESRCH` if there is no such task, `EINVAL` if
/// `cpu` is out of range or not active, or the task's affinity cannot be set
/// (per-CPU kernel threads, `PF_NO_SETAFFINITY`), `ENOENT` if the task's
/// CPU kept going offline, or the error of `set_cpus_allowed_ptr()`.
pub(crate) fn migrate(pid: u32, cpu: u32) -> Result<Outcome> {
    let ret = try_migrate(pid, cpu);
    match &ret {
        Ok(o) if o.ret == 0 => {
            STATS.done.add(1, Relaxed);
            if o.arrived() {
                STATS.arrived.add(1, Relaxed);
            }
        }
        _ => STATS.failed.add(1, Relaxed),
    }
    ret
}

fn try_migrate(pid: u32, cpu: u32) -> Result<Outcome> {
    let pid = i32::try_from(pid).map_err(|_| EINVAL)?;
    let to = CpuId::from_u32(cpu).ok_or(EINVAL)?;
    let task = sched::find_task(pid).ok_or(ESRCH)?;
    if !sched::affinity_settable(&task) || !sched::cpu_active(to) {
        return Err(EINVAL);
    }
    let start = sched::now_ns();
    let comm = sched::comm(&task);

    for _ in 0..RETRIES {
        let from = sched::task_cpu(&task);
        trace::migrate_request(pid, &comm, from, to);
        let mut seen = None;
        let ret = stopper::stop_one_cpu_with(from, c"migrate", || {
            let r = move_task(&task, to);
            seen = Some(r);
            r.2
        });
        let (before, before_cpu, ret, after_cpu) = match (ret, seen) {
            (Ok(_), Some((before, before_cpu, ret, after_cpu))) => {
                STATS.works.add(1, Relaxed);
                (before, before_cpu, ret, after_cpu)
            }
            // The source went offline, so the task has left it: look again.
            (Err(e), _) if e == ENOENT => {
                STATS.refused.add(1, Relaxed);
                continue;
            }
            (Err(e), _) => return Err(e),
            (Ok(_), None) => return Err(EIO),
        };
        let outcome = Outcome {
            pid,
            comm,
            from: from.as_u32(),
            to: to.as_u32(),
            before,
            before_cpu,
            after_cpu,
            ret,
            ns: sched::now_ns().saturating_sub(start),
        };
        trace::migrate_done(&trace::Migration {
            pid: outcome.pid,
            comm: &outcome.comm,
            from: outcome.from,
            to: outcome.to,
            before: outcome.before,
            before_cpu: outcome.before_cpu,
            after_cpu: outcome.after_cpu,
            ret: outcome.ret,
            ns: outcome.ns,
        });
        return Ok(outcome);
    }
    Err(ENOENT)
}

/// The work: runs on the stopper of the task's (last seen) CPU.
///
/// Returns where the task was and on which CPU, the result of
/// `set_cpus_allowed_ptr()` and the task's CPU afterwards.
fn move_task(task: &Task, to: CpuId) -> (Where, u32, c_int, u32) {
    let before = sched::task_where(task);
    let before_cpu = sched::task_cpu(task).as_u32();
    let ret = sched::set_cpus_allowed(task, to).map_or_else(|e| e.to_errno(), |()| 0);
    (before, before_cpu, ret, sched::task_cpu(task).as_u32())
}
