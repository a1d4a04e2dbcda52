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
//!   started, the last one waking the others ([`Lockstep::gather`]). Only
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
//!   until every participant is ready for the next round. The budget starts
//!   at [`SPIN_MIN_NS`] and doubles after each failed round, up to
//!   [`SPIN_MAX_NS`], so that partners on virtual CPUs that the host does
//!   not run at once still meet. (A rule that grew the budget only when no
//!   participant was queued but not running made machine stops on an
//!   oversubscribed VM 3 times slower: a woken participant whose vCPU the
//!   host does not run looks just like one held away; see BENCHMARKS.md.
//!   So real-time bursts on a partner's CPU can still grow everyone's spin
//!   up to [`SPIN_MAX_NS`] per round.) A normal task waking on a participant's CPU does
//!   not set `need_resched()` against a `SCHED_FIFO` thread: it waits for
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
//! Unload cannot overlap a stop: hooks are removed (waiting for their
//! writers) and C API users hold a reference on the module.

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
    interrupt::local_interrupt_disable,
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
        SpinLock, //
    },
};
use pin_init::stack_pin_init;

/// How long a participant spins in PREPARE for its partners in the first
/// round, in ns. Every partner was running or woken when the round began,
/// so on real hardware they come within microseconds.
pub(crate) const SPIN_MIN_NS: u64 = 200_000;

/// The longest a participant spins in PREPARE in one round, in ns: the
/// budget doubles after each failed round, so that partners on vCPUs that
/// the host does not run at once (an oversubscribed VM) still meet.
pub(crate) const SPIN_MAX_NS: u64 = 100_000_000;

/// The states of a multi-CPU stop, in order (`enum multi_stop_state`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u32)]
pub(crate) enum State {
    /// Participants arrive, and may withdraw while others are missing.
    Prepare = 1,
    /// Every participant turns its interrupts off.
    DisableIrq = 2,
    /// `run()` runs on the active CPUs, interrupts off on all.
    Run = 3,
    /// Every participant leaves.
    Exit = 5,
    /// The caller could not queue every work: the participants leave.
    Abort = 6,
}

impl State {
    fn from_u32(v: u32) -> Self {
        match v {
            1 => State::Prepare,
            2 => State::DisableIrq,
            3 => State::Run,
            5 => State::Exit,
            _ => State::Abort,
        }
    }

    /// The state after this one.
    fn next(self) -> Self {
        match self {
            State::Prepare => State::DisableIrq,
            State::DisableIrq => State::Run,
            State::Run | State::Exit => State::Exit,
            State::Abort => State::Abort,
        }
    }

    /// The kernel's name of the state.
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Prepare => "PREPARE",
            State::DisableIrq => "DISABLE_IRQ",
            State::Run => "RUN",
            State::Exit => "EXIT",
            State::Abort => "ABORT",
        }
    }
}

/// The state machine: the state and how many participants acknowledged it
/// (in PREPARE: are present), in one word changed by compare-and-exchange
/// only, so that an arrival, a withdrawal and the move to the next state
/// are each one atomic step.
pub(crate) struct Machine {
    word: Atomic<u64>,
    participants: u32,
}

impl Machine {
    /// A machine in PREPARE for `participants` (at least one).
    pub(crate) fn new(participants: u32) -> Self {
        Self {
            word: Atomic::new(Self::pack(State::Prepare, 0)),
            participants,
        }
    }

    fn pack(state: State, count: u32) -> u64 {
        (u64::from(state as u32) << 32) | u64::from(count)
    }

    fn unpack(word: u64) -> (State, u32) {
        // The halves of a `u64` fit their `u32`s.
        (State::from_u32((word >> 32) as u32), word as u32)
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        Self::unpack(self.word.load(Acquire)).0
    }

    /// Changes the word by `f` (`None`: leave it) in one atomic step;
    /// returns whether `f` changed it.
    fn update(&self, f: impl Fn(State, u32) -> Option<(State, u32)>) -> bool {
        let mut old = self.word.load(Acquire);
        loop {
            let (state, count) = Self::unpack(old);
            let Some((state, count)) = f(state, count) else {
                return false;
            };
            match self.word.cmpxchg(old, Self::pack(state, count), Full) {
                Ok(_) => return true,
                Err(now) => old = now,
            }
        }
    }

    /// One participant arrives in PREPARE; the last one moves the machine
    /// to DISABLE_IRQ. Returns `false` if the stop was aborted.
    pub(crate) fn arrive(&self) -> bool {
        let n = self.participants;
        self.update(|state, count| match state {
            State::Prepare if count + 1 == n => Some((State::DisableIrq, 0)),
            State::Prepare => Some((State::Prepare, count + 1)),
            _ => None,
        })
    }

    /// One participant present in PREPARE leaves it again; `false` if the
    /// machine has already moved on (then it must go on with it).
    pub(crate) fn withdraw(&self) -> bool {
        self.update(|state, count| match state {
            State::Prepare if count > 0 => Some((State::Prepare, count - 1)),
            _ => None,
        })
    }

    /// One participant acknowledges `state`; the last one moves the machine
    /// to the next state (`ack_state()`).
    pub(crate) fn ack(&self, state: State) {
        let n = self.participants;
        self.update(|now, count| match now {
            s if s != state => None,
            s if count + 1 == n => Some((s.next(), 0)),
            s => Some((s, count + 1)),
        });
    }

    /// The caller gives up (it could not queue every work, or it was
    /// killed): the participants leave. Only possible in PREPARE, which
    /// cannot end while a participant is missing.
    pub(crate) fn abort(&self) -> bool {
        self.update(|state, _| (state == State::Prepare).then_some((State::Abort, 0)))
    }
}

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

/// The gathering of the participants before each round of PREPARE.
struct Gather {
    /// Participants ready for the next round: their work started, and
    /// they sleep (or are about to) until the round begins.
    ready: u32,
    /// The rounds begun; a round begins when every participant is ready.
    round: u32,
    /// The caller gave up: everyone leaves.
    aborted: bool,
}

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
                Gather {
                    ready: 0,
                    round: 0,
                    aborted: false,
                },
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
        self.machine.participants
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

    /// The event of `state` on `cpu`; its `trace=1` line too before
    /// DISABLE_IRQ, after which partners may have their interrupts off
    /// (the lines are printed after EXIT, see [`Lockstep::lockstep`]).
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

    /// Sleeps until every participant is ready for the round after `done`
    /// (the last one to be ready begins it and wakes the others); returns
    /// the round begun, or `None` if the caller gave up.
    ///
    /// Sleeps interruptibly: our threads take no signals, and a long wait
    /// (a partner kept off its CPU) is not a hung task; the stall report
    /// names the CPU that keeps it.
    fn gather(&self, done: u32) -> Option<u32> {
        let n = self.machine.participants;
        let target = done + 1;
        let mut g = self.gather.lock();
        if g.aborted {
            return None;
        }
        g.ready += 1;
        if g.ready == n {
            g.ready = 0;
            g.round = target;
            self.begun.notify_all();
        }
        while g.round < target && !g.aborted {
            // A kthread takes no signal: the result says nothing.
            let _ = self.begun.wait_interruptible(&mut g);
        }
        (!g.aborted).then_some(target)
    }

    /// The caller gives up, if the machine is still in PREPARE: those
    /// present or spinning see ABORT, those asleep are woken. Returns
    /// whether it did.
    fn give_up(&self) -> bool {
        if !self.machine.abort() {
            return false;
        }
        let mut g = self.gather.lock();
        g.aborted = true;
        self.begun.notify_all();
        drop(g);
        true
    }

    /// PREPARE, for the participant on `cpu`: gathers, arrives, and
    /// returns preemption held off once every participant is present, or
    /// `None` if the stop was given up.
    ///
    /// See the module documentation: sleeps until every participant is
    /// ready, spins for a bounded time, withdraws and sleeps again if the
    /// round fails.
    fn prepare(&self, cpu: CpuId) -> Option<sched::PreemptGuard> {
        let mut round = 0;
        let mut budget = SPIN_MIN_NS;
        loop {
            round = self.gather(round)?;
            let preempt = sched::PreemptGuard::new();
            if !self.machine.arrive() {
                return None;
            }
            self.trace(cpu, State::Prepare, round - 1);
            // The clock is read from the 64th spin on only: most arrivals
            // find their partners sooner.
            let mut start = None;
            let mut spins = 0u32;
            let wanted = loop {
                match self.machine.state() {
                    State::Prepare => {}
                    State::Abort => return None,
                    // Preemption stays off through the lock-step.
                    _ => return Some(preempt),
                }
                spins = spins.wrapping_add(1);
                let wanted = sched::need_resched();
                let broken = self.broken.load(Relaxed) >= round;
                let late = spins % 64 == 0 && {
                    let now = sched::now_ns();
                    now.saturating_sub(*start.get_or_insert(now)) > budget
                };
                if (wanted || broken || late) && self.machine.withdraw() {
                    break wanted;
                }
                cpu_relax();
            };
            // This round cannot end now: whoever spins in it withdraws.
            self.broken.store(round, Relaxed);
            drop(preempt);
            trace::multi_withdrew(self.name, cpu, wanted, round);
            budget = (budget * 2).min(SPIN_MAX_NS);
        }
    }

    /// The states after PREPARE, for the participant on `cpu`, entered
    /// with `preempt` held since PREPARE (`multi_cpu_stop()`); returns
    /// `run()`'s result on the CPUs that ran it, else 0.
    fn lockstep(&self, cpu: CpuId, preempt: sched::PreemptGuard) -> c_int {
        let mut now = State::Prepare;
        let mut irqs = None;
        let mut err = 0;
        loop {
            let state = self.machine.state();
            if state == now {
                if irqs.is_some() {
                    sched::stop_watchdogs();
                }
                cpu_relax();
                continue;
            }
            now = state;
            self.trace(cpu, now, 0);
            match now {
                State::DisableIrq => {
                    // The self-check's own test: this one stays on, and
                    // counts itself as off.
                    let lie = sched::debug_irqs_on_cpu() == Some(cpu);
                    if !lie {
                        let off = irqs.insert(local_interrupt_disable());
                        sched::hard_irq_disable(off);
                    }
                    if sched::irqs_disabled() || lie {
                        self.irqs_off.fetch_add(1, Relaxed);
                        if let Some(set) = self.irqs_off_cpus {
                            set.add(cpu);
                        }
                    }
                }
                State::Run if self.active.has(cpu) => {
                    let ret = (self.run)(self);
                    if ret != 0 {
                        err = ret;
                    }
                }
                // Interrupts on again, to leave.
                State::Exit => drop(irqs.take()),
                _ => {}
            }
            self.machine.ack(now);
            if now == State::Exit {
                drop(preempt);
                // The `trace=1` lines of the states spent with interrupts
                // off here or on a partner, printed now that they are on.
                for state in [State::DisableIrq, State::Run, State::Exit] {
                    trace::multi_state_text(self.name, cpu, state.name());
                }
                return err;
            }
        }
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
    match ls.prepare(cpu) {
        Some(preempt) => ls.lockstep(cpu, preempt),
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
        ls.give_up();
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
        None if killable && (ls.give_up() || queued < n) => {
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
