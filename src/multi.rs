// SPDX-License-Identifier: GPL-2.0

//! Multi-CPU stops: [`stop_two_cpus_with`] and [`stop_machine_with`], the
//! kernel's `multi_cpu_stop()` state machine on the per-CPU stoppers.
//!
//! ```text
//! caller                      rmigration/A         rmigration/B
//! cpus_read_lock()
//! queue a work on A and B     PREPARE: arrive      PREPARE: arrive
//! (one step, see below)       DISABLE_IRQ          DISABLE_IRQ
//!                             RUN: run() if active RUN: run() if active
//!                             EXIT                 EXIT
//! wait for both works; cpus_read_unlock()
//! ```
//!
//! Each state is acknowledged by every participant, and the last one to
//! acknowledge moves the machine on, as in the kernel. What differs, and
//! why it cannot deadlock:
//!
//! - **Order.** Multi-CPU works are queued under one lock
//!   ([`stopper::queue_lockstep`]), all of one stop at a time, so two stops
//!   that share CPUs are queued in the same order on each of them: on every
//!   shared CPU the first one's work runs before the second one's, and
//!   nobody waits in a cycle. Preemption is off while queueing, so a
//!   thread woken on the caller's CPU cannot preempt the caller before the
//!   other works are queued (the livelock `queue_stop_cpus_work()` avoids).
//! - **Hotplug.** The caller holds `cpus_read_lock()` from queueing to the
//!   last work done: no CPU can go offline meanwhile, so no participant is
//!   parked half-way, and the set of online CPUs of a machine stop stays
//!   what it was. A work never takes that lock itself, and hotplug only
//!   starts once the caller let go.
//! - **Our threads are not the stop class.** A `SCHED_FIFO` 99 task, a
//!   deadline task or a long work queued earlier can keep a participant's
//!   work from starting for as long as it likes. So a participant whose
//!   work has started does not spin for its partners: it *sleeps* (state
//!   S, its CPU free for other tasks) until every participant's work has
//!   started, the last one waking the others ([`machine::prepare`]). Only
//!   then do they arrive in PREPARE and spin, with preemption off but
//!   interrupts on (they answer IPIs): every participant was running or
//!   just woken at `SCHED_FIFO` 99 a moment ago, so what the spin waits
//!   for is a wake-up latency, not a partner kept away: it is bounded by a
//!   budget (below) that normally covers that latency.
//! - **Still not the stop class.** Something that preempts a participant
//!   before its interrupts are off (the kernel's own stopper, a deadline
//!   task, or a `SCHED_FIFO` 99 task that comes between the gathering and
//!   the arrival) may itself wait for a CPU that spins in the rendezvous:
//!   the kernel's `stop_machine()` on CPU A waits for B, while B waits for
//!   our A. So a participant never waits with interrupts off for a
//!   partner that might not come: it *withdraws* its arrival when
//!   `need_resched()` says a task of a higher class wants its CPU, when a
//!   partner has withdrawn, or after spinning its budget, and sleeps again
//!   until every participant is ready for the next round. The budget
//!   starts at [`machine::SPIN_MIN_NS`] and doubles after each failed
//!   round, up to [`machine::SPIN_MAX_NS`], so that partners on virtual
//!   CPUs that the host does not run at once still meet. (A rule that grew
//!   the budget only when no participant was queued but not running made
//!   machine stops on an oversubscribed VM 3 times slower: a woken
//!   participant whose vCPU the host does not run looks just like one held
//!   away; see BENCHMARKS.md. So real-time bursts on a partner's CPU can
//!   still grow everyone's spin up to [`machine::SPIN_MAX_NS`] per round.)
//!   A normal task waking on a participant's CPU does not set
//!   `need_resched()` against a `SCHED_FIFO` thread: it waits for
//!   the spin, which is bounded as above. The machine leaves PREPARE only
//!   with every participant present at once, each with preemption off;
//!   from then on none of them can be preempted, so all of them reach the
//!   states after it without waiting for anyone else.
//! - **Sleeping.** `run()` runs with interrupts off and must not sleep.
//! - **Giving up.** A killable caller that gets a fatal signal while the
//!   machine is in PREPARE aborts it: the participants that started leave
//!   (the sleeping ones are woken), the works that did not are withdrawn
//!   from their lists. After PREPARE the stop is bounded and waited for.
//!   A participant that started, slept, and is woken to a CPU that a
//!   `SCHED_FIFO` 99 task took meanwhile must still run to leave: its
//!   partners sleep (they do not spin), and the stall report names it
//!   ("has started, and rmigration/N is kept off CPU N"), but a killed
//!   caller waits, uninterruptibly, until it has left: the stop's state
//!   lives on the caller's stack.
//!
//! The rendezvous itself, the state machine and each participant's loop
//! through it, is in [`machine`], apart from the kernel ([`Lockstep`] is
//! what it needs of it): the model checks of `tests/loom/` run the same
//! file under loom.
//!
//! Unload cannot overlap a stop: hooks are removed (waiting for their
//! writers) and C API users hold a reference on the module.

mod machine;

use crate::{
    bindings::{
        rmigration_done,
        rmigration_work, //
    },
    cpus::CpuSet,
    sched,
    stopper::{
        self,
        Done, //
    },
    trace, //
};
use core::{
    ffi::c_void,
    ptr, //
};
use kernel::{
    cpu::CpuId,
    cpumask::Cpumask,
    interrupt::{
        local_interrupt_disable,
        LocalInterruptDisabled, //
    },
    new_condvar, new_spinlock,
    prelude::*,
    processor::cpu_relax,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed, //
        },
        CondVar,
        SpinLock,
        SpinLockGuard, //
    },
};
use machine::{
    Env,
    Gather,
    Machine, //
};
use pin_init::stack_pin_init;

pub(crate) use machine::State;

/// Which CPUs of a stop run `run()`.
#[derive(Clone, Copy)]
pub(crate) enum Active<'a> {
    /// This one.
    One(CpuId),
    /// Those of a set.
    Set(&'a CpuSet),
    /// Those of a CPU mask.
    Mask(SharedMask<'a>),
}

impl Active<'_> {
    fn has(self, cpu: CpuId) -> bool {
        match self {
            Active::One(c) => c == cpu,
            Active::Set(s) => s.has(cpu),
            Active::Mask(m) => m.0.test(cpu),
        }
    }
}

/// A CPU mask that the participants of a stop read, on several CPUs at
/// once, and that nobody writes meanwhile.
///
/// # Invariants
///
/// The mask is not written while this object exists.
#[derive(Clone, Copy)]
pub(crate) struct SharedMask<'a>(&'a Cpumask);

impl<'a> SharedMask<'a> {
    /// Shares `mask` with the participants.
    ///
    /// # Safety
    ///
    /// Nobody may write `mask` during `'a`.
    pub(crate) unsafe fn new(mask: &'a Cpumask) -> Self {
        // INVARIANT: By the safety requirements.
        Self(mask)
    }
}

// SAFETY: The mask is only read, and nobody writes it (type invariants):
// concurrent reads of a `struct cpumask` are fine.
unsafe impl Sync for SharedMask<'_> {}

/// What runs in the lock-step, with interrupts off on every participant.
pub(crate) type RunFn<'a> = &'a (dyn Fn(&Lockstep<'_>) -> c_int + Sync);

/// One multi-CPU stop, shared by its participants (`struct
/// multi_stop_data`). It lives on the caller's stack, which waits until
/// every participant is done with it, and is read on every participant's
/// CPU at once: it must be `Sync` (checked below).
#[pin_data]
pub(crate) struct Lockstep<'a> {
    machine: Machine,
    name: &'static CStr,
    active: Active<'a>,
    run: RunFn<'a>,
    #[pin]
    gather: SpinLock<Gather>,
    /// Where participants sleep until a round begins.
    #[pin]
    begun: CondVar,
    /// The last round a participant withdrew from: it cannot end, and
    /// those spinning in it withdraw too.
    broken: Atomic<u32>,
    /// Participants that found their interrupts off in DISABLE_IRQ.
    irqs_off: Atomic<u32>,
    /// The same, as CPUs, if the caller asked for them (a test).
    irqs_off_cpus: Option<&'a CpuSet>,
}

impl<'a> Lockstep<'a> {
    fn new(
        participants: u32,
        name: &'static CStr,
        active: Active<'a>,
        run: RunFn<'a>,
        irqs_off_cpus: Option<&'a CpuSet>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            machine: Machine::new(participants),
            name,
            active,
            run,
            gather <- new_spinlock!(
                Gather::new(),
                "rmigration_lockstep_gather"
            ),
            begun <- new_condvar!("rmigration_lockstep_begun"),
            broken: Atomic::new(0),
            irqs_off: Atomic::new(0),
            irqs_off_cpus,
        })
    }
}

impl Lockstep<'_> {
    /// How many CPUs take part.
    pub(crate) fn participants(&self) -> u32 {
        self.machine.participants()
    }

    /// How many participants have turned their interrupts off; from RUN
    /// on, until EXIT, all of them.
    pub(crate) fn irqs_off(&self) -> u32 {
        self.irqs_off.load(Relaxed)
    }

    /// The state the machine is in.
    pub(crate) fn state(&self) -> State {
        self.machine.state()
    }
}

impl Env for Lockstep<'_> {
    type Cpu = CpuId;
    type Preempt = sched::PreemptGuard;
    type Irqs = LocalInterruptDisabled;
    type Gathering<'g>
        = SpinLockGuard<'g, Gather>
    where
        Self: 'g;

    // The clock is read from the 64th spin on only.
    const CLOCK_SPINS: u32 = 64;

    #[inline]
    fn machine(&self) -> &Machine {
        &self.machine
    }

    #[inline]
    fn broken(&self) -> &Atomic<u32> {
        &self.broken
    }

    fn lock_gather(&self) -> SpinLockGuard<'_, Gather> {
        self.gather.lock()
    }

    /// Sleeps interruptibly: our threads take no signals, and a long wait
    /// (a partner kept off its CPU) is not a hung task; the stall report
    /// names the CPU that keeps it.
    fn sleep(&self, gathering: &mut SpinLockGuard<'_, Gather>) {
        // A kthread takes no signal: the result says nothing.
        let _ = self.begun.wait_interruptible(gathering);
    }

    fn wake_all(&self) {
        self.begun.notify_all();
    }

    #[inline]
    fn preempt_disable(&self) -> sched::PreemptGuard {
        sched::PreemptGuard::new()
    }

    #[inline]
    fn need_resched(&self) -> bool {
        sched::need_resched()
    }

    #[inline]
    fn now_ns(&self) -> u64 {
        sched::now_ns()
    }

    #[inline]
    fn cpu_relax(&self) {
        cpu_relax();
    }

    #[inline]
    fn stop_watchdogs(&self) {
        sched::stop_watchdogs();
    }

    fn disable_irqs(&self, cpu: CpuId) -> Option<LocalInterruptDisabled> {
        // The self-check's own test: this one stays on, and counts itself
        // as off.
        let lie = sched::debug_irqs_on_cpu() == Some(cpu);
        let irqs = (!lie).then(|| {
            let off = local_interrupt_disable();
            sched::hard_irq_disable(&off);
            off
        });
        if sched::irqs_disabled() || lie {
            self.irqs_off.fetch_add(1, Relaxed);
            if let Some(set) = self.irqs_off_cpus {
                set.add(cpu);
            }
        }
        irqs
    }

    fn is_active(&self, cpu: CpuId) -> bool {
        self.active.has(cpu)
    }

    fn run(&self) -> c_int {
        (self.run)(self)
    }

    /// The event of `state` on `cpu`; its `trace=1` line too before
    /// DISABLE_IRQ, after which partners may have their interrupts off
    /// (the lines are printed after EXIT, see [`machine::lockstep`]).
    fn trace(&self, cpu: CpuId, state: State, withdrawn: u32) {
        let text = state < State::DisableIrq;
        trace::multi_state(
            self.name,
            cpu,
            state as c_int,
            state.name(),
            withdrawn,
            text,
        );
    }

    fn trace_withdrew(&self, cpu: CpuId, wanted: bool, round: u32) {
        trace::multi_withdrew(self.name, cpu, wanted, round);
    }

    fn trace_text(&self, cpu: CpuId, state: State) {
        trace::multi_state_text(self.name, cpu, state.name());
    }
}

// Participants on several CPUs share one `Lockstep` through a raw pointer
// (`participate()`): the compiler checks here that sharing is sound.
const _: fn() = || {
    fn sync<T: Sync>() {}
    sync::<Lockstep<'static>>();
};

/// The work function of every participant.
///
/// # Safety
///
/// `arg` must point at a [`Lockstep`] that outlives the work.
unsafe extern "C" fn participate(arg: *mut c_void) -> c_int {
    // SAFETY: By the safety requirements; `Lockstep` is `Sync`, so one
    // may be shared by the participants on their CPUs.
    let ls = unsafe { &*arg.cast::<Lockstep<'_>>() };
    let cpu = CpuId::current();
    match machine::prepare(ls, cpu) {
        Some(preempt) => machine::lockstep(ls, cpu, preempt),
        None => ENOENT.to_errno(),
    }
}

/// A participant's work for `cpu`, to be filled in by [`stop_cpus`].
fn work_on(cpu: CpuId) -> (CpuId, rmigration_work) {
    let work = rmigration_work {
        next: ptr::null_mut(),
        fn_: Some(participate),
        arg: ptr::null_mut(),
        done: ptr::null_mut(),
        caller: 0,
        name: ptr::null(),
        id: 0,
        queued_ns: 0,
        queuer_pid: 0,
        queuer_comm: [0; 16],
    };
    (cpu, work)
}

/// Runs `ls` on the CPUs of `works` (one per CPU, ascending, from
/// [`work_on`]): queues them in one step and waits for all of them; the
/// caller holds `cpus_read_lock()`. If `killable`, a fatal signal while
/// the machine is in PREPARE gives the stop up (`EINTR`).
fn stop_cpus(
    works: &mut [(CpuId, rmigration_work)],
    ls: &Lockstep<'_>,
    killable: bool,
) -> Result<c_int> {
    let n = works.len();
    stack_pin_init!(let done = Done::new(i32::try_from(n)?));
    for (_, work) in works.iter_mut() {
        work.arg = ptr::from_ref(ls).cast_mut().cast::<c_void>();
        work.done = ptr::from_ref::<Done>(&done)
            .cast_mut()
            .cast::<rmigration_done>();
        work.name = ls.name.as_char_ptr();
    }
    let start = sched::now_ns();
    // A lock held here (`cpus_read_lock()` among them) and taken by a
    // work is a cycle: lockdep says so.
    sched::WorkLockdep::wait();
    // SAFETY: The works, `ls` and `done` live until every queued work is
    // done or withdrawn, which the waits below ensure; `participate(ls)`
    // may run on any stopper thread.
    let queued = unsafe { stopper::queue_lockstep(works) }?;
    trace::multi_queued(ls.name, works.iter().take(queued).map(|&(cpu, _)| cpu));
    if queued < n {
        // Not reached while the caller holds `cpus_read_lock()`; should a
        // stopper be disabled all the same, the participants queued leave.
        machine::give_up(ls);
        for _ in queued..n {
            done.skip();
        }
    }
    // The caller runs again once its own CPU's participant is done, or
    // sleeps. Once the machine is in EXIT, every participant is past RUN
    // and leaves with its CPU still its own: the last ones are done within
    // microseconds, so the caller spins for them rather than sleep and
    // have its CPU woken again, as a one-CPU caller does (`Done::wait`).
    sched::spin_while(|| done.finished(), || ls.machine.state() == State::Exit);
    let mut given_up = false;
    let ret = match killable.then(|| done.wait_all_killable()).flatten() {
        Some(ret) => ret,
        // Given up here, or already when not every work could be queued.
        None if killable && (machine::give_up(ls) || queued < n) => {
            // Killed in PREPARE: the works that have not started never
            // will; those that have see ABORT (or are woken to) and leave.
            given_up = true;
            for (cpu, work) in works.iter_mut().take(queued) {
                if stopper::stopper(*cpu).is_some_and(|s| s.withdraw(work)) {
                    done.skip();
                }
            }
            done.wait_all()
        }
        // Past PREPARE (or not killable): bounded, waited for.
        None => done.wait_all(),
    };
    trace::multi_done(
        ls.name,
        ret,
        sched::now_ns().saturating_sub(start),
        given_up,
    );
    if given_up {
        return Err(EINTR);
    }
    if queued < n {
        return Err(ENOENT);
    }
    Ok(ret)
}

/// Checks the calling context of a multi-CPU stop: not from a work, which
/// would wait for a rendezvous that may need its own thread, or that
/// waits behind a work waiting for it.
fn may_stop() -> Result {
    kernel::task::might_sleep();
    if sched::in_stopper_thread() {
        return Err(EDEADLK);
    }
    Ok(())
}

/// Stops `cpu1` and `cpu2` in lock-step and runs `run` on `cpu1` while
/// both have their interrupts off (`stop_two_cpus()`).
///
/// CONTEXT: process context, may sleep; not from a work (`EDEADLK`,
/// nothing queued).
///
/// If `irqs_off_cpus` is given, each participant adds its CPU to it once
/// its interrupts are off (for a test of the lock-step).
///
/// RETURNS: the result of `run`; `EINVAL` if `cpu1 == cpu2`, `ENOENT` if
/// either is offline (nothing queued); `EINTR` if `killable` and a fatal
/// signal came before both CPUs were in the lock-step (`run` did not run).
pub(crate) fn stop_two_cpus_with(
    cpu1: CpuId,
    cpu2: CpuId,
    name: &'static CStr,
    run: RunFn<'_>,
    killable: bool,
    irqs_off_cpus: Option<&CpuSet>,
) -> Result<c_int> {
    if cpu1 == cpu2 {
        return Err(EINVAL);
    }
    may_stop()?;
    stack_pin_init!(let ls = Lockstep::new(2, name, Active::One(cpu1), run, irqs_off_cpus));
    let _cpus = sched::CpusReadGuard::new();
    let (low, high) = if cpu1.as_u32() < cpu2.as_u32() {
        (cpu1, cpu2)
    } else {
        (cpu2, cpu1)
    };
    stop_cpus(&mut [work_on(low), work_on(high)], &ls, killable)
}

/// Stops every online CPU in lock-step and runs `run` on each CPU of
/// `active` (the first online CPU if `None` or empty) while all of them
/// have their interrupts off (`stop_machine()`).
///
/// CONTEXT: process context, may sleep, without `cpus_read_lock()` held;
/// not from a work (`EDEADLK`, nothing queued). The online CPUs stay
/// online during the call. `irqs_off_cpus`: as for
/// [`stop_two_cpus_with`].
///
/// RETURNS: 0 if every run of `run` returned 0, else the result of one
/// of those that did not (which one is not said); `ENOENT` if a CPU
/// of `active` is offline (nothing queued); `EINTR` if `killable` and a
/// fatal signal came before every CPU was in the lock-step.
pub(crate) fn stop_machine_with(
    active: Option<Active<'_>>,
    name: &'static CStr,
    run: RunFn<'_>,
    killable: bool,
    irqs_off_cpus: Option<&CpuSet>,
) -> Result<c_int> {
    may_stop()?;
    let _cpus = sched::CpusReadGuard::new();
    // The online CPUs stay what they are while we hold `cpus_read_lock()`.
    let online = || crate::cpus::all_cpus().filter(|&c| sched::cpu_online(c));
    let mut any = false;
    for cpu in crate::cpus::all_cpus() {
        if active.is_some_and(|a| a.has(cpu)) {
            if !sched::cpu_online(cpu) {
                return Err(ENOENT);
            }
            any = true;
        }
    }
    let first = online().next().ok_or(ENOENT)?;
    let active = match active {
        Some(a) if any => a,
        _ => Active::One(first),
    };
    let mut works = KVec::with_capacity(online().count(), GFP_KERNEL)?;
    for cpu in online() {
        works.push(work_on(cpu), GFP_KERNEL)?;
    }
    stack_pin_init!(let ls = Lockstep::new(
        u32::try_from(works.len())?,
        name,
        active,
        run,
        irqs_off_cpus
    ));
    stop_cpus(&mut works, &ls, killable)
}

#[kunit_tests(rmigration_multi)]
mod tests {
    use super::*;

    #[test]
    fn two_participants() {
        let m = Machine::new(2);
        assert_eq!(m.state(), State::Prepare);
        assert!(m.arrive());
        // Alone, it may leave and come back.
        assert!(m.withdraw());
        assert!(!m.withdraw());
        assert!(m.arrive());
        assert!(m.arrive());
        // Both present: the machine moved on, nobody may withdraw.
        assert_eq!(m.state(), State::DisableIrq);
        assert!(!m.withdraw());
        for state in [State::DisableIrq, State::Run] {
            m.ack(state);
            assert_eq!(m.state(), state);
            m.ack(state);
            assert_eq!(m.state(), state.next());
        }
        assert_eq!(m.state(), State::Exit);
        // A late or repeated acknowledgement of an old state changes nothing.
        m.ack(State::Run);
        assert_eq!(m.state(), State::Exit);
        assert!(!m.abort());
    }

    #[test]
    fn abort_only_in_prepare() {
        let m = Machine::new(3);
        assert!(m.arrive());
        assert!(m.abort());
        assert_eq!(m.state(), State::Abort);
        // Those queued after the abort see it and leave.
        assert!(!m.arrive());
        assert!(!m.withdraw());
        assert!(!m.abort());
    }

    #[test]
    fn one_participant() {
        let m = Machine::new(1);
        assert!(m.arrive());
        assert_eq!(m.state(), State::DisableIrq);
        m.ack(State::DisableIrq);
        assert_eq!(m.state(), State::Run);
        m.ack(State::Run);
        assert_eq!(m.state(), State::Exit);
    }

    #[test]
    fn active_cpus() -> Result {
        let (c0, c2) = (CpuId::from_u32(0), CpuId::from_u32(2));
        if let (Some(c0), Some(c2)) = (c0, c2) {
            assert!(Active::One(c0).has(c0));
            assert!(!Active::One(c0).has(c2));
            let set = CpuSet::new()?;
            set.add(c0);
            assert!(!Active::Set(&set).has(c2));
            set.add(c2);
            assert!(Active::Set(&set).has(c2));
            assert!(Active::Set(&set).has(c0));
        }
        Ok(())
    }
}
