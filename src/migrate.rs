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
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
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
/// (per-CPU kernel threads, `PF_NO_SETAFFINITY`), `EBUSY` for a deadline
/// task (one CPU does not span its root domain; stricter than
/// `sched_setaffinity(2)`, which allows it without admission control), `ENOENT` if the task's
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
    if sched::is_deadline(&task) {
        return Err(EBUSY);
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

/// What a swap did: for each task, the CPU it was on and the CPU it is on
/// after.
#[derive(Clone, Copy)]
pub(crate) struct SwapOutcome {
    /// The tasks' pids.
    pub(crate) pids: [i32; 2],
    /// The CPU each was on when the two CPUs were stopped.
    pub(crate) before: [u32; 2],
    /// The CPU each is on afterwards (a sleeping task moves when it wakes).
    pub(crate) after: [u32; 2],
    /// The result: 0, or the error of the second task's
    /// `set_cpus_allowed_ptr()` (the first task's undone).
    pub(crate) ret: c_int,
    /// From the request to the end of the stop, in ns.
    pub(crate) ns: u64,
}

/// Exchanges the CPUs of the tasks of `pid1` and `pid2`, as
/// `migrate_swap()` does: a two-CPU stop of their CPUs checks, with both
/// CPUs' interrupts off, that each task is still on the CPU it was looked
/// up on (else the stop is retried); then each task gets the other's CPU
/// as its affinity.
///
/// The kernel moves the two tasks between the runqueues inside the stop
/// (`__migrate_swap_task()`), which a module cannot do. Setting a mask
/// with `set_cpus_allowed_ptr()` may wait for the task to leave a
/// `migrate_disable()` section, on its CPU: so the masks are set after the
/// stop, by the caller, with no participant holding either CPU. Nobody
/// spins while they are set. If the second task's mask cannot be set,
/// the first task gets its old mask back: nothing is left half done.
///
/// So the stop takes a consistent sample (both tasks on their CPUs at one
/// instant), not an exchange atomic with it: a task may move between the
/// stop and its new mask, and is then moved from wherever it is. The
/// outcome's `before` is the sample.
///
/// CONTEXT: process context, may sleep; killable while the stop has not
/// begun.
///
/// RETURNS: the outcome (`ret`: 0, or the error of the second task's
/// `set_cpus_allowed_ptr()`, the first one's undone), or `EINVAL` for the
/// same task twice, two tasks on one CPU, or a task whose affinity cannot
/// be set; `EBUSY` for a deadline task (as [`migrate`]); `ESRCH` if a
/// pid has no task; `EAGAIN` if the tasks kept
/// moving, `ENOENT` if their CPUs kept going offline, `EINTR` if killed
/// before the stop began, or the error of the first task's
/// `set_cpus_allowed_ptr()`.
pub(crate) fn swap(pid1: u32, pid2: u32) -> Result<SwapOutcome> {
    let pids = [
        i32::try_from(pid1).map_err(|_| EINVAL)?,
        i32::try_from(pid2).map_err(|_| EINVAL)?,
    ];
    if pids[0] == pids[1] {
        return Err(EINVAL);
    }
    let tasks = [
        sched::find_task(pids[0]).ok_or(ESRCH)?,
        sched::find_task(pids[1]).ok_or(ESRCH)?,
    ];
    if !tasks.iter().all(|t| sched::affinity_settable(t)) {
        return Err(EINVAL);
    }
    if tasks.iter().any(|t| sched::is_deadline(t)) {
        return Err(EBUSY);
    }
    let start = sched::now_ns();
    let mut last = EAGAIN;
    for _ in 0..RETRIES {
        let cpus = [sched::task_cpu(&tasks[0]), sched::task_cpu(&tasks[1])];
        if cpus[0] == cpus[1] {
            return Err(EINVAL);
        }
        // On cpus[0], interrupts off on both CPUs.
        let still_there = |_: &crate::multi::Lockstep<'_>| {
            if sched::task_cpu(&tasks[0]) == cpus[0] && sched::task_cpu(&tasks[1]) == cpus[1] {
                0
            } else {
                EAGAIN.to_errno()
            }
        };
        let ret =
            crate::multi::stop_two_cpus_with(cpus[0], cpus[1], c"swap", &still_there, true, None);
        last = match ret {
            Ok(r) if r == EAGAIN.to_errno() => EAGAIN,
            // A CPU went offline, so its task has left it: look again.
            Err(e) if e == ENOENT => ENOENT,
            Err(e) => return Err(e),
            Ok(_) => {
                let (ret, rolled_back) = exchange(&tasks, cpus)?;
                let o = SwapOutcome {
                    pids,
                    before: cpus.map(|c| c.as_u32()),
                    after: [
                        sched::task_cpu(&tasks[0]).as_u32(),
                        sched::task_cpu(&tasks[1]).as_u32(),
                    ],
                    ret,
                    ns: sched::now_ns().saturating_sub(start),
                };
                trace::swap_done(o.pids, o.before, o.after, o.ret, rolled_back, o.ns);
                return Ok(o);
            }
        };
    }
    Err(last)
}

/// Gives each of `tasks` the other's CPU of `cpus`; returns 0 or the
/// error of the second task, and whether the first got its old mask back
/// then. Fails if the first task's mask cannot be set (nothing changed).
fn exchange(tasks: &[ARef<Task>; 2], cpus: [CpuId; 2]) -> Result<(c_int, bool)> {
    let old = sched::cpus_allowed(&tasks[0])?;
    sched::set_cpus_allowed(&tasks[0], cpus[1])?;
    match sched::set_cpus_allowed(&tasks[1], cpus[0]) {
        Ok(()) => Ok((0, false)),
        Err(e) => {
            // Undo the first: it had a mask it could have, so this only
            // fails if its CPUs went offline meanwhile, which is reported.
            if let Err(e2) = sched::set_cpus_allowed_mask(&tasks[0], &old) {
                pr_warn!(
                    "swap: pid {} keeps CPU {}: its old CPUs are refused ({:?})\n",
                    tasks[0].pid(),
                    cpus[1].as_u32(),
                    e2
                );
            }
            Ok((e.to_errno(), true))
        }
    }
}
