// SPDX-License-Identifier: GPL-2.0

//! A model of the kernel for the rendezvous of `src/multi/machine.rs`, and
//! the stop that loom runs under every interleaving: one thread per
//! participant, each running `prepare()` then `lockstep()` as
//! `participate()` does in the module, and the caller (the model's main
//! thread), which may give the stop up with `give_up()`.
//!
//! The model ([`Cpu`], the [`Env`] of one participant):
//!
//! - gathering: loom's `Mutex` and `Condvar`, as `Lockstep` has a
//!   `SpinLock` and a `CondVar`;
//! - `cpu_relax()`: `loom::thread::yield_now()`, so that loom runs the
//!   others while one spins, and a spinner reads newer values after it;
//!   bounded by [`fair_spins()`];
//! - interrupts: a flag per participant, a `loom::cell::UnsafeCell`
//!   written by its own thread (on in DISABLE_IRQ, off when the guard
//!   drops at EXIT) and read by every CPU that runs `run()`: loom fails a
//!   read that the write does not happen before, and the model a flag
//!   found off;
//! - `need_resched()`: false, except on the first spin of the
//!   participant named by [`Config::resched`];
//! - the clock: stands still, except for the participant named by
//!   [`Config::late`] in the first round of PREPARE, where each read
//!   advances it by [`machine::SPIN_MIN_NS`]: it spins its budget out in
//!   three spins, and withdraws;
//! - preemption, watchdogs, trace: nothing, except that a participant
//!   kept off its CPU ([`Config::kept_off`]) does not run after its first
//!   gathering until a partner has withdrawn (the one of
//!   [`Config::late`], or one that saw it withdraw).
//!
//! What [`stop`] asserts, in every execution: `run()` runs only while
//! every participant has its interrupts off; every participant that does
//! not see the stop given up goes through DISABLE_IRQ, RUN and EXIT and
//! leaves with the machine in EXIT; if the caller gave the stop up,
//! nobody ran `run()` and every participant left with `None` (`ENOENT`),
//! else each active participant ran it exactly once and returned its
//! result, the others 0. Loom itself fails an execution that deadlocks
//! (every thread asleep) or does not end within its branch limit.

use super::machine::{
    self,
    Env,
    Gather,
    Machine,
    State, //
};
use crate::{
    sync::{
        self,
        Atomic, //
    },
    Config,
    Outcome, //
};
use core::ffi::c_int;
use loom::{
    cell::UnsafeCell,
    sync::{
        Arc,
        Condvar,
        Mutex,
        MutexGuard, //
    },
    thread,
};
use std::{
    cell::Cell,
    ops::{
        Deref,
        DerefMut, //
    },
};

/// What `run()` returns in the model.
const RUN_RESULT: c_int = 7;

/// How many spins in a row a participant may find nothing changed before
/// loom stops looking for other interleavings of the execution, and
/// follows it to its end with its default schedule (the thread that
/// yielded least runs next): 1 when `Acquire` loads read the newest value
/// ([`Config::newest`]), where such a spin repeats the one before it
/// exactly; 2 when they may read an older one, to let a spinner catch up
/// with the newest on its next spin.
///
/// A spinner yields at each spin, and loom then runs another thread; but
/// with two spinners it may run them in turn forever while the third
/// participant, the one they wait for, could run: an execution that never
/// ends, that no CPU can have (each runs its own participant, with
/// preemption off). A spin that finds nothing changed since the last one
/// (no store, no successful `cmpxchg`, no step of the model: see
/// `sync::changes()`; its own clock still, see [`Config::late`]) adds
/// nothing but such a turn, so this bound is the model's fairness. An
/// execution that goes past it is still run to its end and checked, and
/// one that cannot end (a partner that will never come) still fails.
fn fair_spins(config: &Config) -> u32 {
    if config.newest {
        1
    } else {
        2
    }
}

/// The stop, shared by its participants and the caller (`Lockstep`).
struct Stop {
    config: Config,
    machine: Machine,
    broken: Atomic<u32>,
    gather: Mutex<Gather>,
    begun: Condvar,
    /// Each participant's interrupts are off.
    irqs_off: Vec<UnsafeCell<bool>>,
    /// How many times each participant ran `run()`.
    ran: Vec<UnsafeCell<u32>>,
    /// A participant has withdrawn from a round, and where the one kept
    /// off its CPU waits for it ([`Config::kept_off`]).
    withdrew: Mutex<bool>,
    let_run: Condvar,
    /// The same, for the report: not loom's, it orders nothing.
    withdrawals: std::sync::atomic::AtomicU32,
}

/// One participant's view of the stop: the model's [`Env`]. The caller
/// has one too, past the participants' numbers.
struct Cpu<'a> {
    stop: &'a Stop,
    id: usize,
    /// `need_resched()` is still to be found set once.
    resched: Cell<bool>,
    /// Still to be kept off its CPU once.
    kept: Cell<bool>,
    /// The clock, in ns; whether it runs ([`Config::late`]), and whether
    /// it moved since the last spin.
    clock: Cell<u64>,
    ticking: Cell<bool>,
    ticked: Cell<bool>,
    /// The states it entered, as bits.
    entered: Cell<u32>,
    /// The changes at its last spin, and its spins in a row since that
    /// found none ([`fair_spins()`]).
    seen: Cell<u64>,
    idle: Cell<u32>,
}

impl<'a> Cpu<'a> {
    fn new(stop: &'a Stop, id: usize) -> Self {
        let c = &stop.config;
        Self {
            stop,
            id,
            resched: Cell::new(c.resched == Some(id)),
            kept: Cell::new(c.kept_off == Some(id)),
            clock: Cell::new(0),
            ticking: Cell::new(false),
            ticked: Cell::new(false),
            entered: Cell::new(0),
            seen: Cell::new(sync::changes()),
            idle: Cell::new(0),
        }
    }

    /// One spin of the participant: loom runs the others. See
    /// [`fair_spins()`].
    fn spin(&self) {
        let now = sync::changes();
        if now != self.seen.replace(now) || self.ticked.replace(false) {
            self.idle.set(0);
        } else if self.idle.replace(self.idle.get() + 1) + 1 == fair_spins(&self.stop.config) {
            loom::skip_branch();
        }
        thread::yield_now();
    }
}

/// The gathering, locked: loom's guard, which its `Condvar` takes and
/// gives back.
struct Held<'a>(Option<MutexGuard<'a, Gather>>);

impl Deref for Held<'_> {
    type Target = Gather;
    fn deref(&self) -> &Gather {
        self.0.as_ref().expect("held")
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Gather {
        self.0.as_mut().expect("held")
    }
}

/// Interrupts off on one participant until dropped.
struct IrqsOff<'a>(&'a UnsafeCell<bool>);

impl Drop for IrqsOff<'_> {
    fn drop(&mut self) {
        // SAFETY: Written by this participant only; loom checks every
        // read against it.
        self.0.with_mut(|p| unsafe { *p = false });
        sync::progress();
    }
}

impl<'a> Env for Cpu<'a> {
    type Cpu = usize;
    type Preempt = ();
    type Irqs = IrqsOff<'a>;
    type Gathering<'g>
        = Held<'g>
    where
        Self: 'g;

    // Every spin: loom runs a spinner only when it runs nobody else, so
    // what counts is how many times it spun then.
    const CLOCK_SPINS: u32 = 1;

    fn machine(&self) -> &Machine {
        &self.stop.machine
    }

    fn broken(&self) -> &Atomic<u32> {
        &self.stop.broken
    }

    fn lock_gather(&self) -> Held<'_> {
        let g = self.stop.gather.lock().expect("not poisoned");
        sync::progress();
        Held(Some(g))
    }

    fn sleep(&self, gathering: &mut Held<'_>) {
        let g = gathering.0.take().expect("held");
        gathering.0 = Some(self.stop.begun.wait(g).expect("not poisoned"));
        sync::progress();
    }

    fn wake_all(&self) {
        self.stop.begun.notify_all();
        sync::progress();
    }

    fn preempt_disable(&self) {
        if self.kept.replace(false) {
            // Kept off its CPU until a partner has withdrawn.
            let mut w = self.stop.withdrew.lock().expect("not poisoned");
            while !*w {
                w = self.stop.let_run.wait(w).expect("not poisoned");
            }
        }
    }

    fn need_resched(&self) -> bool {
        self.resched.replace(false)
    }

    fn now_ns(&self) -> u64 {
        if self.ticking.get() {
            self.clock.set(self.clock.get() + machine::SPIN_MIN_NS);
            self.ticked.set(true);
        }
        self.clock.get()
    }

    fn cpu_relax(&self) {
        self.spin();
    }

    fn stop_watchdogs(&self) {}

    fn disable_irqs(&self, cpu: usize) -> Option<IrqsOff<'a>> {
        let off = &self.stop.irqs_off[cpu];
        // SAFETY: Written by this participant only; loom checks every
        // read against it.
        off.with_mut(|p| unsafe { *p = true });
        sync::progress();
        Some(IrqsOff(off))
    }

    fn is_active(&self, cpu: usize) -> bool {
        self.stop.config.active & (1 << cpu) != 0
    }

    fn run(&self) -> c_int {
        for (cpu, off) in self.stop.irqs_off.iter().enumerate() {
            // SAFETY: Loom checks that the last write happens before.
            let off = off.with(|p| unsafe { *p });
            assert!(
                off,
                "CPU {} runs run() while CPU {cpu} has its interrupts on",
                self.id
            );
        }
        // SAFETY: Written by this participant only, read after it ended.
        self.stop.ran[self.id].with_mut(|p| unsafe { *p += 1 });
        sync::progress();
        RUN_RESULT
    }

    fn trace(&self, _cpu: usize, state: State, withdrawn: u32) {
        self.entered.set(self.entered.get() | 1 << state as u32);
        self.ticking.set(
            state == State::Prepare && withdrawn == 0 && self.stop.config.late == Some(self.id),
        );
    }

    fn trace_withdrew(&self, _cpu: usize, _wanted: bool, _round: u32) {
        self.stop
            .withdrawals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.stop.config.kept_off.is_some() {
            *self.stop.withdrew.lock().expect("not poisoned") = true;
            self.stop.let_run.notify_all();
            sync::progress();
        }
    }

    fn trace_text(&self, _cpu: usize, _state: State) {}
}

/// What a participant saw: `participate()`'s result (`None`: the stop
/// was given up, `ENOENT`), and the states it entered.
struct Left {
    ret: Option<c_int>,
    entered: u32,
}

/// One participant, as `participate()` runs it.
fn participate(stop: &Stop, id: usize) -> Left {
    let cpu = Cpu::new(stop, id);
    let ret = machine::prepare(&cpu, id).map(|preempt| machine::lockstep(&cpu, id, preempt));
    Left {
        ret,
        entered: cpu.entered.get(),
    }
}

/// One execution of the stop: spawns the participants, gives the stop
/// up if the configuration says so, waits for them, and checks what they
/// did.
pub(crate) fn stop(config: Config) -> Outcome {
    let n = config.participants;
    let stop = Arc::new(Stop {
        config,
        machine: Machine::new(u32::try_from(n).expect("a few")),
        broken: Atomic::new(0),
        gather: Mutex::new(Gather::new()),
        begun: Condvar::new(),
        irqs_off: (0..n).map(|_| UnsafeCell::new(false)).collect(),
        ran: (0..n).map(|_| UnsafeCell::new(0)).collect(),
        withdrew: Mutex::new(false),
        let_run: Condvar::new(),
        withdrawals: Default::default(),
    });
    let threads: Vec<_> = (0..n)
        .map(|id| {
            let stop = stop.clone();
            thread::spawn(move || participate(&stop, id))
        })
        .collect();
    let given_up = config.abort.is_some_and(|spins| {
        // The caller's own wait: not bound by `fair_spins()`.
        for _ in 0..spins {
            thread::yield_now();
        }
        machine::give_up(&Cpu::new(&stop, n))
    });
    let all = [State::Prepare, State::DisableIrq, State::Run, State::Exit]
        .iter()
        .fold(0, |bits, &s| bits | 1 << s as u32);
    for (id, t) in threads.into_iter().enumerate() {
        let left = t.join().expect("participant");
        // SAFETY: The participant has ended.
        let ran = stop.ran[id].with(|p| unsafe { *p });
        let active = config.active & (1 << id) != 0;
        if given_up {
            assert_eq!(
                left.ret, None,
                "CPU {id} went on after the stop was given up"
            );
            assert_eq!(ran, 0, "CPU {id} ran run() in a stop given up");
            continue;
        }
        assert_eq!(
            left.ret,
            Some(if active { RUN_RESULT } else { 0 }),
            "CPU {id} left with the wrong result"
        );
        assert_eq!(
            ran,
            u32::from(active),
            "CPU {id} ran run() {ran} times (active: {active})"
        );
        assert_eq!(left.entered, all, "CPU {id} did not go through every state");
    }
    if !given_up {
        assert_eq!(stop.machine.state(), State::Exit);
    }
    Outcome {
        withdrawals: stop.withdrawals.load(std::sync::atomic::Ordering::Relaxed),
        given_up,
    }
}
