// SPDX-License-Identifier: GPL-2.0

//! Stall reports: a work that has waited longer than `stall_timeout_ms`
//! (module parameter, 3 s by default) to start is reported once per
//! episode, as RCU reports a stall.
//!
//! Our threads are `SCHED_FIFO` 99, not the stop class: a `SCHED_FIFO` 99
//! task, a deadline task or a long work queued earlier can keep a work of
//! `rmigration/N` from starting for as long as it likes. The report says
//! who: the CPU, for how long, the task running there (read on that CPU
//! by an interrupt, again if it is not one that can hold the thread off)
//! with its policy and priority, and the works waiting with who queued
//! them. A line follows when the episode ends: a work starts, or every
//! waiting work is withdrawn (their waiters were killed).
//!
//! A work that has started can be kept waiting too: a participant of a
//! multi-CPU stop sleeps until its partners' works start, and may be woken
//! to find its CPU taken. When no work waits behind it, such a work is
//! reported once its thread was seen kept off its CPU (on the runqueue,
//! another task running) for the bound; the episode ends when the
//! watchdog sees the thread run again.
//!
//! A watchdog (a delayed work of `src/ffi.c`) looks every half bound while
//! any work is queued or running, and stops looking when none is: an idle
//! module is not woken.

use super::{
    stopper,
    Stopper, //
};
use crate::{
    bindings,
    sched,
    trace, //
};
use kernel::{
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    ffi::c_ulong,
    prelude::*,
    sync::atomic::{
        Atomic,
        Full,
        Relaxed, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
};

/// Whether the watchdog is queued or running (and will look again).
static ARMED: Atomic<bool> = Atomic::new(false);

/// Set once the watchdog is stopped for good (module unload).
static STOPPED: Atomic<bool> = Atomic::new(false);

/// How many waiting works a report names.
const REPORT_WORKS: usize = 4;

/// The bound, in ns, or `None` if reports are off.
fn bound_ns() -> Option<u64> {
    // SAFETY: Reads a module parameter.
    let ms = unsafe { bindings::rmigration_stall_timeout_ms() };
    (ms != 0).then(|| u64::from(ms) * 1_000_000)
}

/// How long the watchdog sleeps between looks, in ms.
fn period_ms(bound_ns: u64) -> c_ulong {
    c_ulong::try_from(bound_ns / 2_000_000).map_or(c_ulong::MAX, |ms| ms.max(10))
}

/// Whether the watchdog needs arming; read by a queuer under its
/// stopper's lock (see [`rmigration_rs_watchdog`] for why).
pub(super) fn needs_arming() -> bool {
    !ARMED.load(Relaxed)
}

/// Arms the watchdog, unless it is armed already; after a work was queued.
pub(super) fn arm() {
    let Some(bound) = bound_ns() else {
        return;
    };
    if STOPPED.load(Relaxed) || ARMED.xchg(true, Relaxed) {
        return;
    }
    // SAFETY: The delayed work of `src/ffi.c` may be queued in any
    // context; it is cancelled by `Watchdog::drop`.
    unsafe { bindings::rmigration_watchdog_arm(period_ms(bound)) };
}

/// A running work whose thread was seen kept off its CPU.
#[derive(Clone, Copy)]
pub(super) struct HeldOff {
    /// The work's id.
    id: u64,
    /// When the watchdog first saw it kept off, in ns.
    since: u64,
    /// Whether it is reported.
    reported: bool,
}

/// What the watchdog found about a running work.
enum Held {
    /// Its thread has been kept off its CPU since `since` (ns): report.
    Report(super::Running, u64),
    /// A reported episode that began at `since` is over.
    Ended(u64),
}

/// A work waiting in a stall report.
struct Waiting {
    work: trace::Work,
    pid: i32,
    comm: [u8; 16],
    age_ns: u64,
}

/// What a stall report says, taken under the stopper's lock.
struct Report {
    cpu: CpuId,
    waited_ns: u64,
    first_id: u64,
    waiting: KVec<Waiting>,
    count: usize,
    running: Option<super::Running>,
}

impl Stopper {
    /// Looks at this stopper at `now`; returns whether works are queued or
    /// running, whether the first work has waited longer than `bound`
    /// with no stall reported yet, and what is new about a running work
    /// whose thread is kept off its CPU (reported only if no work waits:
    /// else the report of the first waiting one says it all).
    fn look(&self, now: u64, bound: u64) -> (bool, bool, Option<Held>) {
        let mut inner = self.inner.lock();
        let busy = !inner.works.is_empty() || inner.running.is_some();
        let overdue = inner.stall_since.is_none()
            && inner
                .works
                .first()
                .is_some_and(|w| now.saturating_sub(w.queued_ns) >= bound);
        let kept = inner
            .running
            .filter(|_| inner.works.is_empty() && sched::thread_kept_off(self.cpu));
        let held = match (kept, inner.held) {
            (Some(r), Some(h)) if h.id == r.id => {
                if h.reported || now.saturating_sub(h.since) < bound {
                    None
                } else {
                    inner.held = Some(HeldOff {
                        reported: true,
                        ..h
                    });
                    inner.stats.stalls += 1;
                    Some(Held::Report(r, h.since))
                }
            }
            (kept, old) => {
                inner.held = kept.map(|r| HeldOff {
                    id: r.id,
                    since: now,
                    reported: false,
                });
                old.filter(|h| h.reported).map(|h| Held::Ended(h.since))
            }
        };
        (busy, overdue, held)
    }

    /// The report of a stall found by [`Stopper::look`], if it is still
    /// one at `now`; marks the stall reported.
    fn report(&self, now: u64, bound: u64) -> Option<Report> {
        // Room for the report is made before the lock is taken.
        let mut waiting = KVec::with_capacity(REPORT_WORKS, GFP_KERNEL).ok();
        let mut inner = self.inner.lock();
        let first = inner.works.first()?;
        let (first_id, queued_ns) = (first.id, first.queued_ns);
        if inner.stall_since.is_some() || now.saturating_sub(queued_ns) < bound {
            return None;
        }
        let mut count = 0;
        for w in inner.works.iter() {
            count += 1;
            let Some(list) = waiting.as_mut() else {
                continue;
            };
            if list.len() == REPORT_WORKS {
                continue;
            }
            let comm = sched::comm_from_c(&w.queuer_comm);
            let entry = Waiting {
                work: trace::Work {
                    id: w.id,
                    func: w.fn_.map_or(0, |f| f as usize),
                    caller: w.caller,
                    // SAFETY: Work names are static C strings.
                    name: (!w.name.is_null()).then(|| unsafe { CStr::from_char_ptr(w.name) }),
                },
                pid: w.queuer_pid,
                comm,
                age_ns: now.saturating_sub(w.queued_ns),
            };
            // Within the capacity reserved: no allocation.
            let _ = list.push_within_capacity(entry);
        }
        inner.stall_since = Some(queued_ns);
        inner.stats.stalls += 1;
        let running = inner.running;
        drop(inner);
        Some(Report {
            cpu: self.cpu,
            waited_ns: now.saturating_sub(queued_ns),
            first_id,
            waiting: waiting.unwrap_or_default(),
            count,
            running,
        })
    }

    /// Whether works are queued or running.
    fn busy(&self) -> bool {
        let inner = self.inner.lock();
        !inner.works.is_empty() || inner.running.is_some()
    }
}

/// How many times, and how far apart, the task on a stalled CPU is read
/// to find the one that holds `rmigration/N` off.
const HOLDER_LOOKS: u32 = 5;
const HOLDER_GAP_MS: i64 = 20;

/// The task on `cpu` that keeps its `rmigration` thread from running.
///
/// One read may name another task: a `SCHED_FIFO` 99 loop leaves its CPU
/// to fair tasks for up to 50 ms of each second (the fair server), and
/// this watchdog may itself run there. So the CPU is read up to
/// [`HOLDER_LOOKS`] times, [`HOLDER_GAP_MS`] apart, until the task read
/// is one that can hold a `SCHED_FIFO` 99 thread off; else the last read
/// is named.
fn holder(cpu: CpuId) -> Result<sched::Curr> {
    let mut looks = 1;
    loop {
        let curr = sched::cpu_curr(cpu);
        match &curr {
            Ok(c) if !c.holds_off_fifo_max() && looks < HOLDER_LOOKS => {}
            _ => return curr,
        }
        looks += 1;
        fsleep(Delta::from_millis(HOLDER_GAP_MS));
    }
}

/// Reports the running work `r` of `cpu`, whose thread has been kept off
/// its CPU since `since`.
fn print_held(cpu: CpuId, r: super::Running, since: u64) {
    let holder = holder(cpu);
    let ns = sched::now_ns().saturating_sub(since);
    let work = trace::Work {
        id: r.id,
        func: r.func,
        caller: r.caller,
        name: r.name,
    };
    let n = cpu.as_u32();
    match &holder {
        Ok(c) => {
            pr_warn!(
                "rmigration/{} stalled for {} ms: work {} has started, and rmigration/{} is kept off CPU {}: there runs pid {} ({}) {}{}\n",
                n,
                ns / 1_000_000,
                work,
                n,
                n,
                c.pid,
                trace::Comm(&c.comm),
                sched::policy_name(c.policy),
                c.prio_words()
            );
            trace::stall(cpu, r.id, ns, c, 0);
        }
        Err(e) => pr_warn!(
            "rmigration/{} stalled for {} ms: work {} has started, and rmigration/{} is kept off CPU {}; the task there could not be read ({:?})\n",
            n,
            ns / 1_000_000,
            work,
            n,
            n,
            e
        ),
    }
}

impl Report {
    fn print(&self, holder: &Result<sched::Curr>) {
        let cpu = self.cpu.as_u32();
        let ms = self.waited_ns / 1_000_000;
        let thread = if sched::thread_runnable(self.cpu) {
            "runnable"
        } else {
            "asleep"
        };
        match holder {
            Ok(c) => {
                pr_warn!(
                    "rmigration/{} stalled for {} ms: work #{} has not started; on CPU {} runs pid {} ({}) {}{}; rmigration/{} is {}; {} works waiting\n",
                    cpu,
                    ms,
                    self.first_id,
                    cpu,
                    c.pid,
                    trace::Comm(&c.comm),
                    sched::policy_name(c.policy),
                    c.prio_words(),
                    cpu,
                    thread,
                    self.count
                );
                trace::stall(self.cpu, self.first_id, self.waited_ns, c, self.count);
            }
            Err(e) => pr_warn!(
                "rmigration/{} stalled for {} ms: work #{} has not started; the task on CPU {} could not be read ({:?}); rmigration/{} is {}; {} works waiting\n",
                cpu,
                ms,
                self.first_id,
                cpu,
                e,
                cpu,
                thread,
                self.count
            ),
        }
        if let Some(r) = self.running {
            let work = trace::Work {
                id: r.id,
                func: r.func,
                caller: r.caller,
                name: r.name,
            };
            pr_warn!("  running: work {}\n", work);
        }
        for w in self.waiting.iter() {
            pr_warn!(
                "  waiting: work {} queued by pid {} ({}) {} ms ago\n",
                w.work,
                w.pid,
                trace::Comm(&w.comm),
                w.age_ns / 1_000_000
            );
        }
        if self.count > self.waiting.len() {
            pr_warn!("  and {} more\n", self.count - self.waiting.len());
        }
    }
}

/// The stall on `cpu` reported since `since` is over: a work `started`,
/// or every waiting work was withdrawn.
pub(super) fn ended(cpu: CpuId, since: u64, started: bool) {
    let why = if started {
        "a work started"
    } else {
        "every waiting work was withdrawn"
    };
    end(cpu, since, started, why);
}

fn end(cpu: CpuId, since: u64, started: bool, why: &str) {
    let ns = sched::now_ns().saturating_sub(since);
    pr_info!(
        "rmigration/{} stall ended after {} ms: {}\n",
        cpu.as_u32(),
        ns / 1_000_000,
        why
    );
    trace::stall_end(cpu, ns, started);
}

/// The stoppers of the possible CPUs.
fn all() -> impl Iterator<Item = &'static Stopper> {
    (0..nr_cpu_ids())
        .filter_map(CpuId::from_u32)
        .filter_map(stopper)
}

/// One look of the watchdog, from `src/ffi.c`; returns in how many ms to
/// look again, or 0 to stop looking.
///
/// A queuer reads [`ARMED`] under its stopper's lock after adding its
/// work, and arms the watchdog if it is clear. Here `ARMED` is cleared
/// (fully ordered) before every list is looked at again under its lock:
/// either that look sees the work, or the queuer's lock section came
/// after it, and the queuer sees `ARMED` clear and arms.
#[no_mangle]
extern "C" fn rmigration_rs_watchdog() -> c_ulong {
    let Some(bound) = bound_ns() else {
        ARMED.store(false, Relaxed);
        return 0;
    };
    let now = sched::now_ns();
    let mut busy = false;
    for s in all() {
        let (b, overdue, held) = s.look(now, bound);
        busy |= b;
        match held {
            Some(Held::Report(r, since)) => print_held(s.cpu, r, since),
            Some(Held::Ended(since)) => end(s.cpu, since, true, "its thread runs again"),
            None => {}
        }
        if !overdue {
            continue;
        }
        // The holder is read before the stall is marked reported, so that
        // an end found meanwhile is never logged before its report.
        let holder = holder(s.cpu);
        if let Some(r) = s.report(sched::now_ns(), bound) {
            r.print(&holder);
        }
    }
    if busy {
        return period_ms(bound);
    }
    ARMED.xchg(false, Full);
    if all().any(|s| s.busy()) && !ARMED.xchg(true, Relaxed) {
        return period_ms(bound);
    }
    0
}

/// The watchdog's owner: stops it for good when dropped, after the
/// threads are gone and before the stoppers are freed.
pub(crate) struct Watchdog(());

impl Watchdog {
    /// The watchdog, armed by the first work queued.
    pub(crate) fn new() -> Self {
        STOPPED.store(false, Relaxed);
        Self(())
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        STOPPED.store(true, Relaxed);
        // SAFETY: Cancels the delayed work and waits for a running one,
        // which may re-arm itself: `cancel_delayed_work_sync()` copes.
        unsafe { bindings::rmigration_watchdog_stop() };
        ARMED.store(false, Relaxed);
    }
}
