// SPDX-License-Identifier: GPL-2.0

//! The CPU stopper: one FIFO list of works per CPU, run by that CPU's
//! `rmigration/N` thread, as `kernel/stop_machine.c` does for `migration/N`.
//!
//! ```text
//! stop_one_cpu(cpu, fn, arg)         pack fn + arg + done into a work
//!   queue: preemption off            (as cpu_stop_queue_work())
//!          lock, enabled? add tail   (else -ENOENT, fn never runs)
//!          unlock, wake rmigration/cpu, preemption on
//!   wait for done                    the thread pops the work, runs fn,
//!   return fn's result               stores the result and completes done
//! ```
//!
//! The fast path costs one lock round trip per work on each side and no
//! global atomic. The queuer wakes the thread every time, with no
//! preemption point between its unlock and the wake-up: a queuer preempted
//! there would keep every later work of that CPU waiting. A caller on
//! another CPU spins while the thread runs (see [`Done::wait`]).
//!
//! A stopper is enabled while its CPU is online, from the control path
//! (`stop_machine_unpark()`'s and `stop_machine_park()`'s places): a CPU
//! hotplug state ([`Online`]) enables it once the CPU is online and its
//! thread unparked, before `cpu_up()` returns (and before the CPU is
//! active), and at load before the module's init returns. The same state
//! disables it before the thread parks (its CPU goes offline) or stops
//! (module unload), and waits until the thread has run every work queued
//! before, still on their CPU: no work is lost or run twice, and no caller
//! waits for a parked thread.
//!
//! Differences from the kernel's stopper: the threads are `SCHED_FIFO` at
//! the highest real-time priority rather than in the stop scheduling class
//! (`sched_set_stop_task()` is not exported), so works run preemptibly and may
//! sleep, and a `SCHED_FIFO` 99 task, a deadline task, interrupts or a long
//! work queued earlier can delay them for as long as they like: such a
//! stall is reported ([`stall`]), and a killable waiter can withdraw its
//! work ([`Stopper::withdraw`]).

mod capi;
mod stall;
mod works;

pub(crate) use stall::Watchdog;

use crate::{
    bindings::{
        rmigration_done,
        rmigration_work, //
    },
    sched,
    trace, //
};
use core::{
    ffi::c_void,
    ptr, //
};
use kernel::{
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    new_spinlock, new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed,
            Release, //
        },
        SpinLock,
        SpinLockIrq, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
};
use pin_init::stack_pin_init;
use works::WorkList;

/// A function run by a stopper thread, with the argument it was queued with.
pub(crate) type WorkFn = unsafe extern "C" fn(arg: *mut c_void) -> c_int;

/// What the lock of a [`Stopper`] protects.
struct StopperInner {
    /// Queued works, oldest first.
    works: WorkList,
    /// Whether works may be queued: the CPU is online and its thread
    /// unparked ([`Online`]).
    enabled: bool,
    /// The work running now, for diagnostics.
    running: Option<Running>,
    /// The id of the next work queued here.
    next_id: u64,
    /// Since when (the stalled work's queueing time) a stall is reported
    /// and not yet over ([`stall`]).
    stall_since: Option<u64>,
    /// The running work whose thread the watchdog found kept off its CPU
    /// ([`stall`]).
    held: Option<stall::HeldOff>,
    /// The counters.
    stats: Stats,
}

/// What a stopper is running, for diagnostics (`print_stop_info()`).
#[derive(Clone, Copy)]
pub(crate) struct Running {
    /// The work's id.
    pub(crate) id: u64,
    /// Its function.
    pub(crate) func: usize,
    /// Where it was queued from (0 if unknown).
    pub(crate) caller: usize,
    /// Its name, if it has one.
    pub(crate) name: Option<&'static CStr>,
}

/// Counters of one stopper, shown in debugfs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Stats {
    /// Works queued.
    pub(crate) queued: u64,
    /// Works run.
    pub(crate) run: u64,
    /// Works refused with `ENOENT`, their CPU being offline.
    pub(crate) enoent: u64,
    /// Sum of the queue-to-done latencies of the works run, in ns.
    pub(crate) latency_sum: u64,
    /// Largest queue-to-done latency, in ns.
    pub(crate) latency_max: u64,
    /// Works withdrawn before they started (their waiter was killed).
    pub(crate) withdrawn: u64,
    /// Stalls reported: works that waited longer than the bound to start,
    /// and started works whose thread was kept off its CPU that long.
    pub(crate) stalls: u64,
}

/// A consistent view of one stopper, for debugfs.
pub(crate) struct Snapshot {
    /// Whether works may be queued.
    pub(crate) enabled: bool,
    /// The work running now, if any.
    pub(crate) running: Option<Running>,
    /// The counters.
    pub(crate) stats: Stats,
}

/// The stopper of one CPU (`struct cpu_stopper`).
///
/// # Invariants
///
/// `pending` is `true` exactly when the list of works is not empty, and
/// `enabled` equals `inner.enabled`; both are only written with the lock
/// held.
#[pin_data]
pub(crate) struct Stopper {
    cpu: CpuId,
    #[pin]
    inner: SpinLockIrq<StopperInner>,
    /// Whether works are queued, readable without the lock (`should_run`).
    pending: Atomic<bool>,
    /// Whether the stopper is enabled, readable without the lock
    /// ([`queue_lockstep`]).
    enabled: Atomic<bool>,
}

/// The completion record of a waiting caller (`struct cpu_stop_done`): of
/// one work, or of the works of a multi-CPU stop.
#[pin_data]
pub(crate) struct Done {
    /// The result: of the work, or a non-zero one of the works (whichever
    /// was stored last), else 0.
    ret: Atomic<i32>,
    /// Works not done yet.
    todo: Atomic<i32>,
    /// Set once every work is done, before `completion` is completed: a
    /// caller may spin on it, but must still wait for `completion` before
    /// it reads `ret` and before `Done` goes away. Relaxed: it only tells
    /// a spinning caller to stop spinning; `ret` is ordered by the
    /// completion's lock (`tests/litmus/Done_wait.litmus`).
    finished: Atomic<bool>,
    #[pin]
    completion: sched::Completion,
}

impl Done {
    /// The record of `todo` works (at least one).
    pub(crate) fn new(todo: i32) -> impl PinInit<Self> {
        pin_init!(Self {
            ret: Atomic::new(0),
            todo: Atomic::new(todo),
            finished: Atomic::new(false),
            completion <- sched::Completion::new(),
        })
    }

    /// Hands `ret` to the caller and, for the last work, wakes it
    /// (`cpu_stop_signal_done()`).
    ///
    /// # Safety
    ///
    /// `done` must point at the `Done` of a caller waiting in
    /// [`Done::wait`] or [`Done::wait_all`]; it is not touched after this
    /// call.
    unsafe fn signal(done: *mut rmigration_done, ret: c_int) {
        // SAFETY: A waiting caller keeps its `Done` alive until `completion`
        // is completed (safety requirements).
        let done = unsafe { &*done.cast::<Done>() };
        if ret != 0 {
            done.ret.store(ret, Relaxed);
        }
        // The last one sees every result stored before: Release would do
        // (tests/litmus/Done_signal.litmus), Relaxed would not; fully
        // ordered, as `atomic_dec_and_test()`.
        if done.todo.fetch_sub(1, Full) == 1 {
            done.finished.store(true, Relaxed);
            done.completion.complete_all();
        }
    }

    /// Counts as done a work of a multi-CPU stop that was never queued.
    pub(crate) fn skip(&self) {
        // SAFETY: `self` is alive for the call, and its caller waits.
        unsafe { Done::signal(ptr::from_ref(self).cast_mut().cast(), 0) };
    }

    /// Waits until the work is done on `cpu` and returns its result.
    ///
    /// While the thread of `cpu` is woken or running (it runs our work, or
    /// works queued before it), and nothing else wants this CPU, the
    /// caller spins instead of sleeping, as a mutex waiter spins while the
    /// owner runs: a short work then costs no sleep and no wake-up IPI to
    /// this CPU. Never when `cpu` is this CPU: the thread runs here.
    fn wait(&self, cpu: CpuId) -> c_int {
        // SAFETY: A caller waits for its work; the threads are only
        // unregistered at unload, which no caller overlaps (`stopper()`).
        unsafe { sched::spin_while_thread_runs(cpu, || self.finished()) };
        self.wait_all()
    }

    /// As [`Done::wait`], but returns `None` if a fatal signal came first
    /// (the caller must then withdraw its works, or wait for them).
    fn wait_killable(&self, cpu: CpuId) -> Option<c_int> {
        // SAFETY: As in `wait()`.
        unsafe { sched::spin_while_thread_runs(cpu, || self.finished()) };
        self.wait_all_killable()
    }

    /// As [`Done::wait_all`], but returns `None` if a fatal signal came
    /// first.
    pub(crate) fn wait_all_killable(&self) -> Option<c_int> {
        self.completion
            .wait_killable()
            .then(|| self.ret.load(Relaxed))
    }

    /// Whether every work is done: a hint for a spinning caller, which
    /// must still [`Done::wait_all`] before it reads the result.
    pub(crate) fn finished(&self) -> bool {
        self.finished.load(Relaxed)
    }

    /// Waits until every work is done and returns the result.
    pub(crate) fn wait_all(&self) -> c_int {
        // Even when `finished` is set, wait for `complete_all()` to be
        // done with `completion` before it goes away with our stack.
        self.completion.wait();
        self.ret.load(Relaxed)
    }
}

impl Stopper {
    fn new(cpu: CpuId) -> impl PinInit<Self> {
        // INVARIANT: The list is empty and `pending` false; disabled.
        pin_init!(Self {
            cpu,
            inner <- new_spinlock_irq!(
                StopperInner {
                    works: WorkList::new(),
                    enabled: false,
                    running: None,
                    next_id: 1,
                    stall_since: None,
                    held: None,
                    stats: Stats::default(),
                },
                "rmigration_stopper"
            ),
            pending: Atomic::new(false),
            enabled: Atomic::new(false),
        })
    }

    /// A consistent view of this stopper: state, running work, counters.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let inner = self.inner.lock();
        Snapshot {
            enabled: inner.enabled,
            running: inner.running,
            stats: inner.stats,
        }
    }

    /// Queues `work` and wakes the thread (`cpu_stop_queue_work()`).
    ///
    /// Returns `false`, leaving `work` alone, if the stopper is disabled.
    ///
    /// # Safety
    ///
    /// `work` must be valid and stay valid and untouched from this call until
    /// its function starts running.
    unsafe fn queue(&self, work: *mut rmigration_work) -> bool {
        // No preemption point between queueing and waking.
        let preempt = sched::PreemptGuard::new();
        // SAFETY: By the safety requirements.
        let queued = unsafe { self.push(work, &preempt) };
        if queued {
            self.wake(&preempt);
        }
        queued
    }

    /// Queues `work`, for the caller to wake the thread ([`Self::wake`])
    /// before it lets go of `_preempt`; returns `false`, leaving `work`
    /// alone, if the stopper is disabled.
    ///
    /// # Safety
    ///
    /// As for [`Self::queue`].
    unsafe fn push(&self, work: *mut rmigration_work, _preempt: &sched::PreemptGuard) -> bool {
        // SAFETY: `work` is valid and still ours (safety requirements).
        unsafe {
            (*work).queued_ns = sched::now_ns();
            (*work).queuer_pid = sched::current_pid();
            sched::current_comm_into(&mut (*work).queuer_comm);
        }
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        // SAFETY: `work` is still ours (safety requirements).
        unsafe { (*work).id = id };
        let enabled = inner.enabled;
        let mut first = false;
        // Read under the lock: see `stall::rmigration_rs_watchdog()`.
        let arm = enabled && stall::needs_arming();
        if enabled {
            first = inner.works.is_empty();
            // SAFETY: The caller keeps `work` valid until it runs.
            unsafe { inner.works.push_back(work) };
            // INVARIANT: The list is not empty; the lock is held.
            self.pending.store(true, Relaxed);
            inner.stats.queued += 1;
        } else {
            inner.stats.enoent += 1;
        }
        drop(inner);

        if arm {
            stall::arm();
        }
        if enabled {
            trace::queued(self.cpu, id);
            trace::waking(self.cpu, id, first);
            true
        } else {
            // SAFETY: A refused work was not queued: it is still ours;
            // work names are static C strings (`stop_one_cpu_with`).
            let (func, caller, name) = unsafe {
                let w = &*work;
                (
                    w.fn_.map_or(0, |f| f as usize),
                    w.caller,
                    (!w.name.is_null()).then(|| CStr::from_char_ptr(w.name)),
                )
            };
            trace::refused(self.cpu, id, func, caller, name);
            false
        }
    }

    /// Takes `work` off the list if it has not started (its waiter gives
    /// up); returns whether it did: the work then never runs, and its
    /// owner has it back. Else it has started, or is about to.
    pub(crate) fn withdraw(&self, work: *mut rmigration_work) -> bool {
        let mut inner = self.inner.lock();
        if !inner.works.remove(work) {
            return false;
        }
        inner.stats.withdrawn += 1;
        let ended = if inner.works.is_empty() {
            // INVARIANT: The list is empty; the lock is held.
            self.pending.store(false, Relaxed);
            inner.stall_since.take()
        } else {
            None
        };
        drop(inner);
        // SAFETY: Off the list, the work is its owner's again: ours.
        let id = unsafe { (*work).id };
        trace::withdrawn(self.cpu, id);
        if let Some(since) = ended {
            stall::ended(self.cpu, since, false);
        }
        true
    }

    /// Wakes the thread after [`Self::push`], preemption still off since.
    fn wake(&self, _preempt: &sched::PreemptGuard) {
        // SAFETY: The thread cannot go away under us: threads are only
        // stopped at module unload, when nobody queues any more. A set
        // `pending` is seen by the thread before it sleeps, or the
        // wake-up finds it asleep.
        unsafe { sched::wake_thread(self.cpu) };
    }

    /// Runs the queued works, oldest first, until the list is empty
    /// (`cpu_stopper_thread()`).
    ///
    /// One lock round trip per work: the one that takes a work off the list
    /// also accounts for the work before it, whose caller is then signalled
    /// after unlocking (its counters are right when it returns).
    fn run_works(&self) {
        // The work that just ran: its id, caller's `Done` and result.
        let mut finished: Option<(u64, *mut rmigration_done, c_int, u64)> = None;
        loop {
            let mut inner = self.inner.lock();
            // The work that ran was reported kept off its CPU: it ran.
            let mut held_end = None;
            if let Some((id, _, _, ns)) = finished {
                held_end = stall::HeldOff::finished(&mut inner.held, id);
                inner.running = None;
                let st = &mut inner.stats;
                st.run += 1;
                st.latency_sum += ns;
                st.latency_max = st.latency_max.max(ns);
            }
            let next = inner.works.pop_front();
            // A work starts: a stall reported is over.
            let ended = next.and_then(|_| inner.stall_since.take());
            if inner.works.is_empty() {
                // INVARIANT: The list is empty; the lock is held.
                self.pending.store(false, Relaxed);
            }
            // SAFETY: The queuer keeps `work` untouched until its function
            // starts: read all we need now.
            let next = next.map(|work| unsafe {
                let w = &*work;
                let running = Running {
                    id: w.id,
                    func: w.fn_.map_or(0, |f| f as usize),
                    caller: w.caller,
                    // SAFETY: Names are static C strings (`stop_one_cpu_with`).
                    name: (!w.name.is_null()).then(|| CStr::from_char_ptr(w.name)),
                };
                (w.fn_, w.arg, w.done, w.queued_ns, running)
            });
            if let Some((_, _, _, _, running)) = next {
                inner.running = Some(running);
            }
            drop(inner);

            if let Some(since) = held_end {
                stall::held_ended(self.cpu, since);
            }
            if let Some(since) = ended {
                stall::ended(self.cpu, since, true);
            }
            if let Some((id, done, ret, ns)) = finished.take() {
                trace::done(self.cpu, id, ret, ns);
                if !done.is_null() {
                    // SAFETY: A synchronous caller waits for its `Done`;
                    // neither it nor the work is touched after this.
                    unsafe { Done::signal(done, ret) };
                }
            }
            let Some((func, arg, done, queued_ns, running)) = next else {
                return;
            };
            trace::started(
                self.cpu,
                running.id,
                running.func,
                running.caller,
                running.name,
            );
            let lockdep = sched::WorkLockdep::run();
            // SAFETY: The queuer vouched for `func(arg)` to be callable here.
            let ret = func.map_or(0, |f| unsafe { f(arg) });
            drop(lockdep);
            let ns = sched::now_ns().saturating_sub(queued_ns);
            finished = Some((running.id, done, ret, ns));
        }
    }

    /// Enables or disables queueing.
    fn set_enabled(&self, enabled: bool) {
        let mut inner = self.inner.lock();
        inner.enabled = enabled;
        // INVARIANT: Written with the lock held, as `inner.enabled`.
        // Relaxed: read without the lock only as a hint; `push()` decides
        // under the lock (`tests/litmus/queue_lockstep.litmus`).
        self.enabled.store(enabled, Relaxed);
    }

    /// Whether works are queued or running (for the stall watchdog too).
    fn busy(&self) -> bool {
        let inner = self.inner.lock();
        !inner.works.is_empty() || inner.running.is_some()
    }

    /// Disables queueing, then sleeps until the thread has run every work
    /// queued before (`stop_machine_park()`'s place, on the control path):
    /// it is unparked then, and its CPU still online. A thread kept off its
    /// CPU keeps this waiting, as long as it is kept off (reported as a
    /// stall).
    fn disable_and_drain(&self) {
        self.set_enabled(false);
        while self.busy() {
            fsleep(Delta::from_millis(1));
        }
    }
}

/// The memory of one stopper: one allocation per possible CPU.
pub(crate) const STOPPER_SIZE: usize = core::mem::size_of::<Stopper>();

/// The stoppers of all possible CPUs.
#[pin_data]
pub(crate) struct Stoppers {
    cpus: KVec<Pin<KBox<Stopper>>>,
    /// Held while the works of one multi-CPU stop are queued
    /// ([`queue_lockstep`]).
    #[pin]
    lockstep: SpinLock<()>,
}

/// The published stoppers, for the thread callbacks and the C API, which
/// receive no context: non-null while a [`Published`] exists.
static STOPPERS: Atomic<*const Stoppers> = Atomic::new(ptr::null());

/// Owner of the published stoppers; unpublishes them when dropped.
///
/// # Invariants
///
/// `STOPPERS` points at the boxed stoppers while this object exists.
pub(crate) struct Published {
    /// Used through `STOPPERS`.
    _stoppers: Pin<KBox<Stoppers>>,
}

impl Published {
    /// Allocates one disabled stopper per possible CPU and publishes them.
    pub(crate) fn new() -> Result<Self> {
        let n = nr_cpu_ids();
        let mut cpus = KVec::with_capacity(usize::try_from(n)?, GFP_KERNEL)?;
        for id in 0..n {
            let cpu = CpuId::from_u32(id).ok_or(EINVAL)?;
            cpus.push(KBox::pin_init(Stopper::new(cpu), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let this = KBox::pin_init(
            pin_init!(Stoppers {
                cpus,
                lockstep <- new_spinlock!((), "rmigration_lockstep_queue"),
            }),
            GFP_KERNEL,
        )?;
        if STOPPERS
            .cmpxchg(ptr::null(), &raw const *this, Release)
            .is_err()
        {
            return Err(EBUSY);
        }
        // INVARIANT: Just published.
        Ok(Self { _stoppers: this })
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        STOPPERS.store(ptr::null(), Release);
    }
}

/// Totals of the counters of all stoppers: (queued, run, refused with `ENOENT`).
pub(crate) fn totals() -> (u64, u64, u64) {
    crate::cpus::all_cpus()
        .filter_map(stopper)
        .fold((0, 0, 0), |(q, r, e), s| {
            let st = s.snapshot().stats;
            (q + st.queued, r + st.run, e + st.enoent)
        })
}

/// The published stoppers.
fn stoppers() -> Option<&'static Stoppers> {
    let stoppers = STOPPERS.load(Acquire);
    // SAFETY: A published pointer is valid until module unload (see
    // `stopper()`).
    (!stoppers.is_null()).then(|| unsafe { &*stoppers })
}

/// The stopper of `cpu`, if the stoppers are published.
///
/// The stoppers are unpublished at module unload only, after the threads
/// are stopped and the hooks removed, and modules using the C API hold a
/// reference on this one: no caller can still hold the reference then.
pub(crate) fn stopper(cpu: CpuId) -> Option<&'static Stopper> {
    stoppers()?
        .cpus
        .get(usize::try_from(u32::from(cpu)).ok()?)
        .map(|s| s.as_ref().get_ref())
}

/// Queues the works of one multi-CPU stop, one per CPU, in one step
/// (`cpu_stop_queue_two_works()`, `queue_stop_cpus_work()`).
///
/// No other multi-CPU stop queues meanwhile, so two of them queue in the
/// same order on every CPU they share. Preemption stays off until every
/// work is queued and every thread woken, so a thread woken on this CPU
/// cannot preempt the caller before its partners are queued. If a stopper
/// is disabled, nothing is queued: `ENOENT`.
///
/// RETURNS: how many works were queued, the first ones: all of them,
/// unless a stopper was disabled after the check (then the caller aborts).
///
/// # Safety
///
/// Each work must stay valid and untouched until its function starts.
pub(crate) unsafe fn queue_lockstep(works: &mut [(CpuId, rmigration_work)]) -> Result<usize> {
    let stoppers = stoppers().ok_or(ENOENT)?;
    let preempt = sched::PreemptGuard::new();
    let queueing = stoppers.lockstep.lock();
    // Without the stoppers' locks: while the caller holds
    // `cpus_read_lock()`, no CPU comes or goes, so a stopper's `enabled`
    // changes only when the module's hotplug state is set up or removed
    // (load and unload, which no caller overlaps: [`stopper()`]): one
    // found enabled is still enabled when its work is queued.
    for &(cpu, _) in works.iter() {
        if !stopper(cpu).is_some_and(|s| s.enabled.load(Relaxed)) {
            return Err(ENOENT);
        }
    }
    let mut queued = works.len();
    for (i, (cpu, work)) in works.iter_mut().enumerate() {
        // SAFETY: The caller keeps `work` valid until it runs.
        if !stopper(*cpu).is_some_and(|s| unsafe { s.push(work, &preempt) }) {
            queued = i;
            break;
        }
    }
    // Woken after the lock is let go, preemption still off, as
    // `cpu_stop_queue_two_works()` does. The threads of other CPUs are
    // woken first: they have an interrupt to take and perhaps an idle CPU
    // to wake, while the one of this CPU only runs when we let go of
    // preemption.
    drop(queueing);
    let here = CpuId::current();
    let woken = || works[..queued].iter().filter_map(|&(cpu, _)| stopper(cpu));
    for s in woken().filter(|s| s.cpu != here) {
        s.wake(&preempt);
    }
    for s in woken().filter(|s| s.cpu == here) {
        s.wake(&preempt);
    }
    Ok(queued)
}

/// Runs `func(arg)` on `cpu` and returns its result (`stop_one_cpu()`).
///
/// Queues a work on the stopper of `cpu` and waits until its thread has run
/// it. CONTEXT: process context, may sleep; not from a work (`EDEADLK`,
/// nothing queued): a work waiting for another can close a cycle with a
/// multi-CPU stop or with a work that waits for it, which the kernel's
/// stopper rules out by having works that never sleep.
///
/// RETURNS: the value of `func(arg)`, `ENOENT` if `cpu` is offline (or its
/// thread parked), in which case `func` did not run, or `EDEADLK`.
///
/// # Safety
///
/// `func(arg)` must be safe to call on the stopper thread of `cpu`, which
/// runs it before this function returns.
pub(crate) unsafe fn stop_one_cpu(
    cpu: CpuId,
    func: WorkFn,
    arg: *mut c_void,
    caller: usize,
    name: Option<&'static CStr>,
    killable: bool,
) -> Result<c_int> {
    kernel::task::might_sleep();
    let stopper = stopper(cpu).ok_or(ENOENT)?;
    if sched::in_stopper_thread() {
        return Err(EDEADLK);
    }
    // A lock held here and taken by a work is a cycle: lockdep says so.
    sched::WorkLockdep::wait();
    stack_pin_init!(let done = Done::new(1));
    let mut work = rmigration_work {
        next: ptr::null_mut(),
        fn_: Some(func),
        arg,
        done: (&raw const *done).cast::<rmigration_done>().cast_mut(),
        caller,
        name: name.map_or(ptr::null(), |n| n.as_char_ptr()),
        id: 0,
        queued_ns: 0,
        queuer_pid: 0,
        queuer_comm: [0; 16],
    };
    // SAFETY: `work` and `done` live on this stack until the work completed,
    // or was withdrawn, which the waits below ensure once it is queued.
    if !unsafe { stopper.queue(&raw mut work) } {
        return Err(ENOENT);
    }
    if !killable {
        return Ok(done.wait(cpu));
    }
    if let Some(ret) = done.wait_killable(cpu) {
        return Ok(ret);
    }
    // A fatal signal: withdraw the work if it has not started; else it
    // runs now, and is waited for.
    if stopper.withdraw(&raw mut work) {
        return Err(EINTR);
    }
    Ok(done.wait_all())
}

/// Runs the closure `f` on `cpu` and returns its result.
///
/// The safe form of [`stop_one_cpu`], killable: `f` runs on the stopper
/// thread of `cpu` before this function returns, or never (`EINTR`: a
/// fatal signal came before it started), so it may borrow from the caller.
/// `name` says what it does in traces and diagnostics.
pub(crate) fn stop_one_cpu_with<F>(cpu: CpuId, name: &'static CStr, f: F) -> Result<c_int>
where
    F: FnOnce() -> c_int + Send,
{
    /// # Safety
    ///
    /// `arg` must point at a live `Option<F>`, not accessed by anyone else.
    unsafe extern "C" fn call<F: FnOnce() -> c_int>(arg: *mut c_void) -> c_int {
        // SAFETY: By the safety requirements `arg` is a live `Option<F>`.
        let f = unsafe { &mut *arg.cast::<Option<F>>() };
        f.take().map_or(0, |f| f())
    }

    let mut f = Some(f);
    // SAFETY: `call::<F>` takes `f` from the `Option<F>` on this stack, which
    // outlives the work; `F: Send` lets it run on the stopper thread.
    unsafe { stop_one_cpu(cpu, call::<F>, (&raw mut f).cast(), 0, Some(name), true) }
}

/// Queues `func(arg)` on `cpu` without waiting (`stop_one_cpu_nowait()`).
///
/// RETURNS: `true` if the work was queued: it will run; `false` if `cpu` is
/// offline, and `func` will not run.
///
/// # Safety
///
/// `work` must be valid and stay valid and untouched until `func` starts
/// running; `func(arg)` must be safe to call on the stopper thread of `cpu`.
pub(crate) unsafe fn stop_one_cpu_nowait(
    cpu: CpuId,
    func: WorkFn,
    arg: *mut c_void,
    work: *mut rmigration_work,
    caller: usize,
    name: Option<&'static CStr>,
) -> bool {
    let Some(stopper) = stopper(cpu) else {
        return false;
    };
    // SAFETY: `work` is valid (safety requirements).
    unsafe {
        (*work).fn_ = Some(func);
        (*work).arg = arg;
        (*work).done = ptr::null_mut();
        (*work).caller = caller;
        (*work).name = name.map_or(ptr::null(), |n| n.as_char_ptr());
    }
    // SAFETY: The caller keeps `work` valid until `func` starts.
    unsafe { stopper.queue(work) }
}

/// The `rmigration/N` threads (`cpu_stop_threads`).
pub(crate) struct Threads;

#[vtable]
impl crate::smpboot::HotplugThread for Threads {
    const NAME: &'static CStr = c"rmigration/%u";

    fn should_run(cpu: CpuId) -> bool {
        // Lockless, unlike `cpu_stop_should_run()`: smpboot sets the task
        // state before asking, and a queuer sets `pending` before waking
        // us, so a work queued after this check wakes the thread.
        stopper(cpu).is_some_and(|s| s.pending.load(Relaxed))
    }

    fn run(cpu: CpuId) {
        if let Some(s) = stopper(cpu) {
            s.run_works();
        }
    }

    fn create(cpu: CpuId, thread: &kernel::task::Task) {
        if let Err(e) = sched::set_fifo_max(thread) {
            pr_warn!(
                "rmigration/{}: no SCHED_FIFO (error {})\n",
                u32::from(cpu),
                e.to_errno()
            );
        }
    }

    // No `setup` or `unpark`: the stopper is enabled from the control path
    // ([`Online`]), before the CPU counts as up, not when the thread gets
    // to run.

    /// The stopper is disabled and drained already ([`Online`]); this
    /// only runs what could be left, on the thread, should it not be.
    /// (smpboot parks a thread that never ran without calling `park`.)
    fn park(cpu: CpuId) {
        if let Some(s) = stopper(cpu) {
            s.set_enabled(false);
            s.run_works();
        }
    }

    fn cleanup(cpu: CpuId, _online: bool) {
        Self::park(cpu)
    }
}

/// Enables the stopper of each CPU once it is online, and disables it
/// before the CPU goes, from a CPU hotplug state after smpboot's
/// (`CPUHP_AP_ONLINE_DYN`), as the kernel's `stop_machine_unpark()` and
/// `stop_machine_park()` do from the control path.
///
/// A CPU's stopper accepts works before `cpu_up()` (or the module's init,
/// for the CPUs online then) returns. It refuses them, and every work
/// queued before has run, before smpboot parks the thread (the CPU going
/// offline) or stops it (unload: dropping this comes first): the thread
/// need never have run for that, while smpboot calls `park` and
/// `cleanup` only for a thread that has.
///
/// # Invariants
///
/// `state` is the dynamic hotplug state set up by `new`.
pub(crate) struct Online {
    state: c_int,
}

impl Online {
    /// Sets the state up: enables the stoppers of the online CPUs now, and
    /// of each CPU that comes online later. The threads must be registered.
    /// Dropping it disables and drains the stoppers of the online CPUs.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Process context; the callback only needs the published
        // stoppers, which outlive this object (`src/rmigration.rs`).
        let state = unsafe { crate::bindings::rmigration_cpuhp_setup() };
        kernel::error::to_result(state)?;
        // INVARIANT: Set up.
        Ok(Self { state })
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        // SAFETY: Set up in `new` (type invariants). Runs the teardown on
        // every online CPU.
        unsafe { crate::bindings::rmigration_cpuhp_remove(self.state) };
    }
}

/// The startup callback of [`Online`], on `cpu` once it is online and its
/// thread unparked: enables its stopper.
#[no_mangle]
extern "C" fn rmigration_rs_stopper_online(cpu: kernel::ffi::c_uint) -> c_int {
    if let Some(s) = CpuId::from_u32(cpu).and_then(stopper) {
        s.set_enabled(true);
    }
    0
}

/// The teardown callback of [`Online`], on `cpu` before it goes offline,
/// or at unload, while its thread is still unparked: disables its stopper
/// and waits until every work queued there has run.
#[no_mangle]
extern "C" fn rmigration_rs_stopper_offline(cpu: kernel::ffi::c_uint) -> c_int {
    if let Some(s) = CpuId::from_u32(cpu).and_then(stopper) {
        s.disable_and_drain();
    }
    0
}
