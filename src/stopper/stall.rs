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
//! to find its CPU taken. Unless a work waiting behind it is reported
//! (that report names it), such a work is reported once its thread was
//! seen kept off its CPU (on the runqueue, another task running) for the
//! bound; the episode ends when the watchdog sees the thread run again.
//!
//! A watchdog (a delayed work of `src/ffi.c`) looks every half bound while
//! any work is queued or running, and stops looking when none is: an idle
//! module is not woken. So a report comes between one bound and one and a
//! half bounds after the work was queued (plus the time it takes to read
//! the task on the CPU). The watchdog never reports the CPU it runs on:
//! there it runs only by the fair server's reserve, and would read
//! itself as the task on that CPU; it moves to another CPU and looks again
//! 20 ms later. (With no other CPU online it reports from there, without
//! naming the task.)

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
    ffi::{
        c_int,
        c_ulong, //
    },
    prelude::*,
    sync::atomic::{
        Atomic,
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

/// A running work whose thread the watchdog saw kept off its CPU.
#[derive(Clone, Copy)]
pub(crate) struct HeldOff {
    /// The work's id.
    id: u64,
    /// When the watchdog first saw its thread kept off, in ns.
    since: u64,
    /// How many times the thread had been switched out then: if it is
    /// switched out again, it ran in between, and the episode starts anew.
    switches: c_ulong,
    /// Whether it is reported.
    reported: bool,
}

impl From<super::Running> for trace::Work {
    fn from(r: super::Running) -> Self {
        trace::Work {
            id: r.id,
            func: r.func,
            caller: r.caller,
            name: r.name,
        }
    }
}

impl HeldOff {
    /// The work `id` has finished: forgets `held` if it is that work's,
    /// and returns since when it was reported, if it was.
    pub(super) fn finished(held: &mut Option<HeldOff>, id: u64) -> Option<u64> {
        let h = held.take_if(|h| h.id == id)?;
        h.reported.then_some(h.since)
    }
}

// The thread of a CPU, as the watchdog sees it. The watchdog runs only
// while the threads are registered: it is stopped for good (`Watchdog`'s
// drop) before they are unregistered (`src/rmigration.rs`).

fn thread_switches(cpu: CpuId) -> c_ulong {
    // SAFETY: The threads are registered while the watchdog runs.
    unsafe { sched::thread_switches(cpu) }
}

fn thread_kept_off(cpu: CpuId) -> bool {
    // SAFETY: As above.
    unsafe { sched::thread_kept_off(cpu) }
}

fn thread_runnable(cpu: CpuId) -> bool {
    // SAFETY: As above.
    unsafe { sched::thread_runnable(cpu) }
}

/// What one look at a stopper found.
struct Look {
    /// Works are queued or running.
    busy: bool,
    /// The first work has waited longer than the bound, no stall reported.
    overdue: bool,
    /// The id of a running work whose thread has been seen kept off its
    /// CPU for the bound, not reported yet.
    held: Option<u64>,
    /// Nothing of ours waits on this CPU: its stopper is enabled, nothing
    /// is queued or running, no stall is reported, the thread sleeps, and
    /// the CPU is a housekeeping CPU (not isolated: `isolcpus=`,
    /// `nohz_full=`, cpuset isolated partitions). (A busy real-time task with no work of ours there
    /// cannot be seen.)
    calm: bool,
}

impl Stopper {
    /// Looks at this stopper at `now`. A reported episode of a running
    /// work kept off its CPU that is over is ended here.
    fn look(&self, now: u64, bound: u64) -> Look {
        let mut inner = self.inner.lock();
        let busy = !inner.works.is_empty() || inner.running.is_some();
        let overdue = inner.stall_since.is_none()
            && inner
                .works
                .first()
                .is_some_and(|w| now.saturating_sub(w.queued_ns) >= bound);
        // Before `kept`: a switch after it is seen at the next look.
        let switches = thread_switches(self.cpu);
        let kept = inner
            .running
            .filter(|_| thread_kept_off(self.cpu))
            .map(|r| r.id);
        let calm = inner.enabled
            && !busy
            && inner.stall_since.is_none()
            && inner.held.is_none()
            && !thread_runnable(self.cpu)
            && sched::housekeeping(self.cpu);
        let mut held = None;
        match (kept, inner.held) {
            (Some(id), Some(h)) if h.id == id && h.switches == switches => {
                // Reported unless a work waiting behind it is reported, or
                // is about to be: that report names the running work too.
                if !h.reported
                    && now.saturating_sub(h.since) >= bound
                    && inner.stall_since.is_none()
                    && !overdue
                {
                    held = Some(id);
                }
            }
            (kept, old) => {
                inner.held = kept.map(|id| HeldOff {
                    id,
                    since: now,
                    switches,
                    reported: false,
                });
                if let Some(h) = old.filter(|h| h.reported) {
                    // Under the lock, as the report was printed.
                    end(self.cpu, h.since, true, "its thread runs again");
                }
            }
        }
        Look {
            busy,
            overdue,
            held,
            calm,
        }
    }

    /// Reports the first waiting work if it has still waited longer than
    /// `bound` at `now`, with `holder`, the task read on the CPU; marks the
    /// stall reported.
    ///
    /// The report is printed under the lock, as RCU prints its stall
    /// reports under its node's lock: whoever ends the stall takes
    /// `stall_since` under the lock, so the end is never logged before the
    /// report.
    fn report(&self, now: u64, bound: u64, holder: &Result<sched::Curr>) {
        let mut inner = self.inner.lock();
        let Some(first) = inner.works.first() else {
            return;
        };
        let (first_id, queued_ns) = (first.id, first.queued_ns);
        if inner.stall_since.is_some() || now.saturating_sub(queued_ns) < bound {
            return;
        }
        let count = inner.works.iter().count();
        let cpu = self.cpu.as_u32();
        let waited_ns = now.saturating_sub(queued_ns);
        let ms = waited_ns / 1_000_000;
        let thread = if thread_runnable(self.cpu) {
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
                    first_id,
                    cpu,
                    c.pid,
                    trace::Comm(&c.comm),
                    sched::policy_name(c.policy),
                    c.prio_words(),
                    cpu,
                    thread,
                    count
                );
            }
            Err(e) => pr_warn!(
                "rmigration/{} stalled for {} ms: work #{} has not started; the task on CPU {} could not be read (error {}); rmigration/{} is {}; {} works waiting\n",
                cpu,
                ms,
                first_id,
                cpu,
                e.to_errno(),
                cpu,
                thread,
                count
            ),
        }
        trace::stall(self.cpu, first_id, waited_ns, holder.as_ref().ok(), count);
        if let Some(r) = inner.running {
            pr_warn!("  running: work {}\n", trace::Work::from(r));
        }
        for w in inner.works.iter().take(REPORT_WORKS) {
            let work = trace::Work {
                id: w.id,
                func: w.fn_.map_or(0, |f| f as usize),
                caller: w.caller,
                // SAFETY: Work names are static C strings.
                name: (!w.name.is_null()).then(|| unsafe { CStr::from_char_ptr(w.name) }),
            };
            let comm = sched::comm_from_c(&w.queuer_comm);
            pr_warn!(
                "  waiting: work {} queued by pid {} ({}) {} ms ago\n",
                work,
                w.queuer_pid,
                trace::Comm(&comm),
                now.saturating_sub(w.queued_ns) / 1_000_000
            );
        }
        if count > REPORT_WORKS {
            pr_warn!("  and {} more\n", count - REPORT_WORKS);
        }
        inner.stall_since = Some(queued_ns);
        inner.stats.stalls += 1;
    }

    /// Reports the running work `id` if its thread is still kept off its
    /// CPU, with `holder`, the task read on the CPU; under the lock, as
    /// [`Stopper::report`].
    fn report_held(&self, id: u64, holder: &Result<sched::Curr>) {
        let mut inner = self.inner.lock();
        let (Some(r), Some(h)) = (inner.running, inner.held) else {
            return;
        };
        if r.id != id
            || h.id != id
            || h.reported
            || h.switches != thread_switches(self.cpu)
            || !thread_kept_off(self.cpu)
        {
            return;
        }
        let n = self.cpu.as_u32();
        let ns = sched::now_ns().saturating_sub(h.since);
        let work = trace::Work::from(r);
        match holder {
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
            }
            Err(e) => pr_warn!(
                "rmigration/{} stalled for {} ms: work {} has started, and rmigration/{} is kept off CPU {}; the task there could not be read (error {})\n",
                n,
                ns / 1_000_000,
                work,
                n,
                n,
                e.to_errno()
            ),
        }
        trace::stall(self.cpu, id, ns, holder.as_ref().ok(), 0);
        inner.held = Some(HeldOff {
            reported: true,
            ..h
        });
        inner.stats.stalls += 1;
    }
}

/// How many times the task on a stalled CPU is read, at most, to find
/// the one that holds `rmigration/N` off.
const HOLDER_LOOKS: u32 = 5;

/// How long apart those reads are, in ms.
const HOLDER_GAP_MS: i64 = 20;

/// The task on `cpu` that keeps its `rmigration` thread from running.
///
/// One read may name another task: a `SCHED_FIFO` 99 loop leaves its CPU
/// to fair tasks for up to 50 ms of each second (the fair server), and
/// this watchdog may itself run there. So the CPU is read up to
/// [`HOLDER_LOOKS`] times, [`HOLDER_GAP_MS`] apart, until the task read
/// is one that can hold a `SCHED_FIFO` 99 thread off; else the last read
/// is named. Stops early at unload, or when `while_kept_off` and the
/// thread is no longer kept off (the report is then dropped).
fn holder(cpu: CpuId, while_kept_off: bool) -> Result<sched::Curr> {
    let mut looks = 1;
    loop {
        let curr = sched::cpu_curr(cpu);
        match &curr {
            Ok(c) if !c.holds_off_fifo_max() && looks < HOLDER_LOOKS => {}
            _ => return curr,
        }
        if STOPPED.load(Relaxed) || (while_kept_off && !thread_kept_off(cpu)) {
            return curr;
        }
        looks += 1;
        fsleep(Delta::from_millis(HOLDER_GAP_MS));
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

/// The episode of a running work kept off its CPU, reported since `since`,
/// is over: its thread ran again.
pub(super) fn held_ended(cpu: CpuId, since: u64) {
    end(cpu, since, true, "its thread runs again");
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
    crate::cpus::all_cpus().filter_map(stopper)
}

/// How soon the watchdog looks again after moving off a stalled CPU, in ms.
const MOVE_MS: c_ulong = 20;

/// One look of the watchdog, from `src/ffi.c`; returns in how many ms to
/// look again, or 0 to stop looking, and in `*cpu` where to run then: the
/// calm CPU nearest after this one (this one first), else -1 (this one).
///
/// A stall of this CPU is not reported from here: the watchdog then moves
/// to a calm CPU, or to the next online one, and looks again in
/// [`MOVE_MS`] (with no other CPU online, it reports from here).
///
/// A queuer reads [`ARMED`] in the lock section of its stopper in which
/// it adds its work, and arms the watchdog if it is clear. Here `ARMED`
/// is cleared before every list is looked at again under its lock: either
/// that look sees the work, or the queuer's lock section came after it,
/// and the queuer sees `ARMED` clear and arms. The two lock sections
/// order it; the clearing itself may be relaxed
/// (`tests/litmus/rmigration_rs_watchdog.litmus`).
///
/// # Safety
///
/// `cpu` must be valid for writes.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_watchdog(cpu: *mut c_int) -> c_ulong {
    let Some(bound) = bound_ns() else {
        // Reports are off: stop looking. A queuer that sees `ARMED` clear
        // later arms again, and finds reports off, or on again. (Nothing
        // needs ordering here: a work queued meanwhile is only watched
        // once reports are on and a queuer arms.)
        ARMED.xchg(false, Relaxed);
        return 0;
    };
    let mut busy = false;
    let here = CpuId::current();
    let n = nr_cpu_ids();
    // The calm CPU at or after this one (wrapping), by its distance.
    let mut calm: Option<(u32, CpuId)> = None;
    // A stall of this CPU waits for the watchdog to move.
    let mut move_off = false;
    let others_online = all().any(|s| s.cpu != here && sched::cpu_online(s.cpu));
    for s in all() {
        // Read per stopper: reading a holder sleeps.
        let look = s.look(sched::now_ns(), bound);
        busy |= look.busy;
        let d = (s.cpu.as_u32() + n - here.as_u32()) % n;
        if look.calm && calm.is_none_or(|(best, _)| d < best) {
            calm = Some((d, s.cpu));
        }
        // Its thread kept off while works wait, and this watchdog running
        // there: something holds the CPU (it let us in for the fair
        // server's reserve), and looks from here would come only as that
        // reserve allows, too late for the report. Under load no CPU may
        // be calm to move to: move on all the same.
        let held_here = s.cpu == here && look.busy && thread_kept_off(here);
        if s.cpu == here && others_online && (look.held.is_some() || look.overdue || held_here) {
            move_off = true;
            continue;
        }
        // With no other CPU online, a stall of this one is reported from
        // here, without the task there: it would read as this watchdog.
        let read = |while_kept_off| {
            if s.cpu == here {
                Err(EBUSY)
            } else {
                holder(s.cpu, while_kept_off)
            }
        };
        if let Some(id) = look.held {
            s.report_held(id, &read(true));
        }
        if look.overdue {
            s.report(sched::now_ns(), bound, &read(false));
        }
    }
    let next = if move_off {
        calm.map(|(_, c)| c)
            .filter(|&c| c != here)
            .or_else(|| next_online(here))
    } else {
        calm.map(|(_, c)| c)
    };
    if let Some(c) = next.and_then(|c| c_int::try_from(c.as_u32()).ok()) {
        // SAFETY: `cpu` is valid for writes (safety requirements).
        unsafe { *cpu = c };
    }
    if move_off {
        return MOVE_MS;
    }
    if busy {
        return period_ms(bound);
    }
    ARMED.xchg(false, Relaxed);
    if all().any(|s| s.busy()) && !ARMED.xchg(true, Relaxed) {
        return period_ms(bound);
    }
    0
}

/// The first online CPU after `cpu` (wrapping), other than `cpu`: a
/// housekeeping one if there is one.
fn next_online(cpu: CpuId) -> Option<CpuId> {
    let n = nr_cpu_ids();
    let after = || {
        (1..n)
            .filter_map(move |d| CpuId::from_u32((cpu.as_u32() + d) % n))
            .filter(|&c| sched::cpu_online(c))
    };
    after()
        .find(|&c| sched::housekeeping(c))
        .or_else(|| after().next())
}

/// The watchdog's owner: stops it for good when dropped, after the hooks
/// are gone and before the threads and the stoppers (`src/rmigration.rs`).
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
        // SAFETY: Waits for a running watchdog and disables the delayed
        // work for good: a re-arm from the running one, or from a late
        // queuer, is a no-op (`disable_delayed_work_sync()`).
        unsafe { bindings::rmigration_watchdog_stop() };
        ARMED.store(false, Relaxed);
    }
}
