// SPDX-License-Identifier: GPL-2.0

//! The rendezvous of a multi-CPU stop, apart from the kernel: the state
//! machine ([`Machine`]), the gathering before each round of PREPARE
//! ([`Gather`]) and the participant's loop ([`prepare`], [`lockstep`],
//! [`give_up`]), generic over what it needs of the kernel ([`Env`]). The
//! protocol, and why it cannot deadlock, is in the documentation of
//! [`super`].
//!
//! This file is compiled twice: into the module, where [`Env`] is
//! `multi::Lockstep`, and into the model checks of `tests/loom/`, where
//! [`Env`] is a model of the kernel that loom runs under every
//! interleaving. So it must never use the kernel crate: it takes `Atomic`
//! and its orderings from its parent module (the kernel's in the module,
//! loom's behind the same methods in the model checks), and everything
//! else from [`Env`] and `core`.

use super::{
    Acquire,
    Atomic,
    Full,
    Relaxed, //
};
use core::{
    ffi::c_int,
    ops::DerefMut, //
};

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
    pub(crate) fn next(self) -> Self {
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

    /// How many CPUs take part.
    pub(crate) fn participants(&self) -> u32 {
        self.participants
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

/// The gathering of the participants before each round of PREPARE, under
/// the lock of [`Env::lock_gather`].
pub(crate) struct Gather {
    /// Participants ready for the next round: their work started, and
    /// they sleep (or are about to) until the round begins.
    ready: u32,
    /// The rounds begun; a round begins when every participant is ready.
    round: u32,
    /// The caller gave up: everyone leaves.
    aborted: bool,
}

impl Gather {
    /// Nobody ready, no round begun.
    pub(crate) const fn new() -> Self {
        Self {
            ready: 0,
            round: 0,
            aborted: false,
        }
    }
}

/// What the participants of one stop need of the kernel: the stop's shared
/// state, sleeping, preemption, interrupts, the clock and the trace. The
/// participant on CPU `cpu` runs [`prepare`], then [`lockstep`], with
/// the same `cpu`; the caller may run [`give_up`].
pub(crate) trait Env {
    /// A participant's CPU.
    type Cpu: Copy;
    /// Preemption held off on this CPU while it lives.
    type Preempt;
    /// Interrupts held off on this CPU while it lives.
    type Irqs;
    /// The gathering, locked while it lives.
    type Gathering<'a>: DerefMut<Target = Gather>
    where
        Self: 'a;

    /// How many spins in PREPARE pass between two reads of the clock.
    const CLOCK_SPINS: u32;

    /// The state machine of the stop.
    fn machine(&self) -> &Machine;

    /// The last round a participant withdrew from: it cannot end, and
    /// those spinning in it withdraw too.
    fn broken(&self) -> &Atomic<u32>;

    /// Locks the gathering.
    fn lock_gather(&self) -> Self::Gathering<'_>;

    /// Sleeps, with the gathering unlocked, until [`Env::wake_all`] (or
    /// for no reason: the caller looks again).
    fn sleep(&self, gathering: &mut Self::Gathering<'_>);

    /// Wakes every participant asleep in [`Env::sleep`]; called with the
    /// gathering locked.
    fn wake_all(&self);

    /// Turns preemption off on this CPU.
    fn preempt_disable(&self) -> Self::Preempt;

    /// Whether a task of a higher class wants this CPU (`need_resched()`).
    fn need_resched(&self) -> bool;

    /// Monotonic time in ns.
    fn now_ns(&self) -> u64;

    /// One step of a spin (`cpu_relax()`).
    fn cpu_relax(&self);

    /// One step of a spin with interrupts off: the watchdogs must not take
    /// it for a CPU stuck.
    fn stop_watchdogs(&self);

    /// DISABLE_IRQ on `cpu`: turns its interrupts off and counts it among
    /// the participants with interrupts off.
    fn disable_irqs(&self, cpu: Self::Cpu) -> Option<Self::Irqs>;

    /// Whether `run()` runs on `cpu`.
    fn is_active(&self, cpu: Self::Cpu) -> bool;

    /// `run()`, in RUN, with interrupts off on every participant.
    fn run(&self) -> c_int;

    /// The participant on `cpu` enters `state`, having withdrawn from
    /// PREPARE `withdrawn` times before.
    fn trace(&self, cpu: Self::Cpu, state: State, withdrawn: u32);

    /// The participant on `cpu` withdrew from `round`, because a task
    /// wanted its CPU if `wanted`.
    fn trace_withdrew(&self, cpu: Self::Cpu, wanted: bool, round: u32);

    /// The text line of `state` on `cpu`, once its interrupts are on again.
    fn trace_text(&self, cpu: Self::Cpu, state: State);
}

/// Sleeps until every participant is ready for the round after `done`
/// (the last one to be ready begins it and wakes the others); returns
/// the round begun, or `None` if the caller gave up.
#[inline]
fn gather<E: Env>(env: &E, done: u32) -> Option<u32> {
    let n = env.machine().participants();
    let target = done + 1;
    let mut g = env.lock_gather();
    if g.aborted {
        return None;
    }
    g.ready += 1;
    if g.ready == n {
        g.ready = 0;
        g.round = target;
        env.wake_all();
    }
    while g.round < target && !g.aborted {
        env.sleep(&mut g);
    }
    (!g.aborted).then_some(target)
}

/// The caller gives up, if the machine is still in PREPARE: those
/// present or spinning see ABORT, those asleep are woken. Returns
/// whether it did.
pub(crate) fn give_up<E: Env>(env: &E) -> bool {
    if !env.machine().abort() {
        return false;
    }
    let mut g = env.lock_gather();
    g.aborted = true;
    env.wake_all();
    drop(g);
    true
}

/// PREPARE, for the participant on `cpu`: gathers, arrives, and
/// returns preemption held off once every participant is present, or
/// `None` if the stop was given up.
///
/// See the module documentation of [`super`]: sleeps until every
/// participant is ready, spins for a bounded time, withdraws and sleeps
/// again if the round fails.
#[inline]
pub(crate) fn prepare<E: Env>(env: &E, cpu: E::Cpu) -> Option<E::Preempt> {
    let machine = env.machine();
    let mut round = 0;
    let mut budget = SPIN_MIN_NS;
    loop {
        round = gather(env, round)?;
        let preempt = env.preempt_disable();
        if !machine.arrive() {
            return None;
        }
        env.trace(cpu, State::Prepare, round - 1);
        // The clock is read every `CLOCK_SPINS` spins only: most arrivals
        // find their partners sooner.
        let mut start = None;
        let mut spins = 0u32;
        let wanted = loop {
            match machine.state() {
                State::Prepare => {}
                State::Abort => return None,
                // Preemption stays off through the lock-step.
                _ => return Some(preempt),
            }
            spins = spins.wrapping_add(1);
            let wanted = env.need_resched();
            let broken = env.broken().load(Relaxed) >= round;
            let late = spins % E::CLOCK_SPINS == 0 && {
                let now = env.now_ns();
                now.saturating_sub(*start.get_or_insert(now)) > budget
            };
            if (wanted || broken || late) && machine.withdraw() {
                break wanted;
            }
            env.cpu_relax();
        };
        // This round cannot end now: whoever spins in it withdraws.
        env.broken().store(round, Relaxed);
        drop(preempt);
        env.trace_withdrew(cpu, wanted, round);
        budget = (budget * 2).min(SPIN_MAX_NS);
    }
}

/// The states after PREPARE, for the participant on `cpu`, entered
/// with `preempt` held since PREPARE (`multi_cpu_stop()`); returns
/// `run()`'s result on the CPUs that ran it, else 0.
#[inline]
pub(crate) fn lockstep<E: Env>(env: &E, cpu: E::Cpu, preempt: E::Preempt) -> c_int {
    let machine = env.machine();
    let mut now = State::Prepare;
    let mut irqs = None;
    let mut err = 0;
    loop {
        let state = machine.state();
        if state == now {
            if irqs.is_some() {
                env.stop_watchdogs();
            }
            env.cpu_relax();
            continue;
        }
        now = state;
        env.trace(cpu, now, 0);
        match now {
            State::DisableIrq => irqs = env.disable_irqs(cpu),
            State::Run if env.is_active(cpu) => {
                let ret = env.run();
                if ret != 0 {
                    err = ret;
                }
            }
            // Interrupts on again, to leave.
            State::Exit => drop(irqs.take()),
            _ => {}
        }
        machine.ack(now);
        if now == State::Exit {
            drop(preempt);
            // The `trace=1` lines of the states spent with interrupts
            // off here or on a partner, printed now that they are on.
            for state in [State::DisableIrq, State::Run, State::Exit] {
                env.trace_text(cpu, state);
            }
            return err;
        }
    }
}
