// SPDX-License-Identifier: GPL-2.0

//! The hooks of the multi-CPU stops: `stop_two_cpus`, `stop_machine` and
//! `swap`.
//!
//! The test function of `stop_two_cpus` and `stop_machine` checks, on each
//! CPU it runs on, that its own interrupts are off and that every
//! participant counts itself as one with interrupts off and has not left
//! the lock-step yet. Counting proves little (a participant that forgot to
//! turn them off would still count), so the first CPU to run it also
//! sends an interrupt to every other participant and holds RUN for up to
//! [`PROBE_WAIT_NS`]: an interrupt that runs there before RUN is over
//! means that participant had its interrupts on. A failed check fails the
//! write with `EIO`, and the probe's failure is logged. The module
//! parameter `debug_irqs_on_cpu` makes one participant leave its
//! interrupts on while counting itself as off, to show that the check
//! fails (`tests/rmigration_multi.sh`).

use super::parse;
use crate::{
    cpus::CpuSet,
    migrate::{
        self,
        SwapOutcome, //
    },
    multi::{
        self,
        Lockstep,
        State, //
    },
    sched,
    trace::CpuList, //
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
    error::to_result,
    new_mutex,
    prelude::*,
    processor::cpu_relax,
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Mutex,
    },
    time::{
        delay::fsleep,
        Delta, //
    },
};

/// How long the test function holds RUN for its interrupts to the other
/// participants, in ns: one that runs meanwhile finds a participant with
/// its interrupts on. A healthy participant cannot take it before EXIT,
/// so every stop that passes holds RUN, with interrupts off on every
/// participant, for this long: a cost of the test hooks only. (Under TCG
/// with one host thread, sending the interrupt makes QEMU switch to the
/// target vCPU.)
const PROBE_WAIT_NS: u64 = 5_000_000;

/// The interrupts the test function sends from RUN to the other
/// participants.
struct Probes {
    /// Set while the test function holds RUN.
    in_run: Atomic<bool>,
    /// Probes sent and not run yet.
    pending: Atomic<u32>,
    /// Probes that ran while the test function held RUN.
    early: Atomic<u32>,
    /// The CPU of the last of those.
    early_cpu: Atomic<u32>,
    /// Probes that could not be sent, and the CPU of the last of those.
    unsent: Atomic<u32>,
    unsent_cpu: Atomic<u32>,
    /// This stop's own `call_single_data`: none is reused while in flight.
    csds: sched::IrqProbeCsds,
}

impl Probes {
    fn new() -> Result<Self> {
        Ok(Self {
            in_run: Atomic::new(false),
            pending: Atomic::new(0),
            early: Atomic::new(0),
            early_cpu: Atomic::new(0),
            unsent: Atomic::new(0),
            unsent_cpu: Atomic::new(0),
            csds: sched::IrqProbeCsds::new()?,
        })
    }

    /// Sends one to each CPU of `targets`, and holds RUN until one runs
    /// there (a participant with its interrupts on), every one has, or
    /// [`PROBE_WAIT_NS`] have passed.
    fn send(&self, targets: impl Iterator<Item = CpuId>) {
        self.in_run.store(true, Release);
        for cpu in targets {
            self.pending.fetch_add(1, Relaxed);
            let info = ptr::from_ref(self).cast_mut().cast::<c_void>();
            // SAFETY: Each CPU is sent one probe, and `self`, with its
            // `call_single_data`, lives until every probe sent has run:
            // its drop waits for them (`settle()`).
            if unsafe { self.csds.send(cpu, info) }.is_err() {
                self.pending.fetch_sub(1, Relaxed);
                self.unsent_cpu.store(cpu.as_u32(), Relaxed);
                self.unsent.fetch_add(1, Relaxed);
            }
        }
        let start = sched::now_ns();
        while self.early.load(Relaxed) == 0
            && self.pending.load(Relaxed) != 0
            && sched::now_ns().saturating_sub(start) < PROBE_WAIT_NS
        {
            cpu_relax();
        }
        self.in_run.store(false, Release);
    }

    /// Waits until every probe sent has run. Bounded: a probe runs as soon
    /// as its participant has its interrupts on again, at EXIT, which the
    /// stop has waited for (and a CPU going offline runs its queue first).
    fn settle(&self) {
        while self.pending.load(Acquire) != 0 {
            fsleep(Delta::from_micros(10));
        }
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        // The probes in flight use `self` and its `call_single_data`.
        self.settle();
    }
}

/// A probe of [`Probes::send`], run on its target CPU, from `src/ffi.c`.
///
/// # Safety
///
/// `info` must point at the `Probes` that sent it, which stays valid until
/// `pending` is decremented here.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_irq_probe(info: *mut c_void) {
    // SAFETY: By the safety requirements.
    let p = unsafe { &*info.cast::<Probes>() };
    if p.in_run.load(Acquire) {
        p.early_cpu.store(CpuId::current().as_u32(), Relaxed);
        p.early.fetch_add(1, Relaxed);
    }
    // The last access: `p` may go away once it is seen, as an `Arc` may
    // once its count is dropped (the kernel does not touch the
    // `call_single_data` after calling us either).
    p.pending.fetch_sub(1, Release);
}

/// What the test function saw, on each CPU it ran on.
struct Seen {
    /// The CPUs it ran on.
    ran_on: CpuSet,
    /// The participants with interrupts off in DISABLE_IRQ.
    stopped: CpuSet,
    /// Whether every check held, on every CPU.
    bad: Atomic<u32>,
    /// The participants, or every online CPU if `None`.
    participants: Option<[CpuId; 2]>,
    /// Whether a CPU sends the probes (the first one to run).
    probing: Atomic<bool>,
    probes: Probes,
}

impl Seen {
    fn new(participants: Option<[CpuId; 2]>) -> Result<Self> {
        Ok(Self {
            ran_on: CpuSet::new()?,
            stopped: CpuSet::new()?,
            bad: Atomic::new(0),
            participants,
            probing: Atomic::new(false),
            probes: Probes::new()?,
        })
    }

    /// The test function: runs in RUN on an active CPU.
    fn run(&self, ls: &Lockstep<'_>) -> c_int {
        let cpu = CpuId::current();
        self.ran_on.add(cpu);
        if !self.probing.xchg(true, Relaxed) {
            // The online CPUs stay what they are: the caller holds
            // `cpus_read_lock()`.
            let targets = crate::cpus::all_cpus()
                .filter(|&c| c != cpu && sched::cpu_online(c))
                .filter(|c| self.participants.is_none_or(|p| p.contains(c)));
            self.probes.send(targets);
        }
        let ok = sched::irqs_disabled()
            && ls.irqs_off() == ls.participants()
            && ls.state() == State::Run;
        if ok {
            0
        } else {
            self.bad.fetch_add(1, Relaxed);
            EIO.to_errno()
        }
    }

    /// After the stop: waits for the probes; `EIO` (and a log line) if one
    /// ran during RUN, or could not be sent.
    fn probes_ok(&self, hook: &str) -> Result {
        let p = &self.probes;
        p.settle();
        if p.early.load(Relaxed) != 0 {
            pr_err!(
                "{}: self-check: an interrupt ran on CPU {} during RUN: its participant had its interrupts on\n",
                hook,
                p.early_cpu.load(Relaxed)
            );
        } else if p.unsent.load(Relaxed) != 0 {
            pr_err!(
                "{}: self-check: no interrupt could be sent to CPU {}\n",
                hook,
                p.unsent_cpu.load(Relaxed)
            );
        } else {
            return Ok(());
        }
        self.bad.fetch_add(1, Relaxed);
        Err(EIO)
    }

    fn irqs_off(&self) -> &'static str {
        if self.bad.load(Relaxed) == 0 {
            "yes"
        } else {
            "no"
        }
    }
}

/// The last call of `stop_two_cpus`.
struct TwoRecord {
    cpus: [CpuId; 2],
    ran_on: CpuSet,
    irqs_off: &'static str,
    ret: c_int,
    ns: u64,
}

/// The last call of `stop_machine`.
struct MachineRecord {
    active: CpuSet,
    stopped: CpuSet,
    ran_on: CpuSet,
    irqs_off: &'static str,
    ret: c_int,
    ns: u64,
}

/// The state of the multi-CPU hooks.
#[pin_data]
pub(super) struct MultiHooks {
    #[pin]
    last_two: Mutex<Option<TwoRecord>>,
    #[pin]
    last_machine: Mutex<Option<MachineRecord>>,
    #[pin]
    last_swap: Mutex<Option<SwapOutcome>>,
}

impl MultiHooks {
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            last_two <- new_mutex!(None, "rmigration_hooks_last_two"),
            last_machine <- new_mutex!(None, "rmigration_hooks_last_machine"),
            last_swap <- new_mutex!(None, "rmigration_hooks_last_swap"),
        })
    }

    /// `CPU1 CPU2`: stops both, runs the test function on `CPU1`.
    pub(super) fn stop_two_cpus(&self, input: &[u8]) -> Result {
        let [c1, c2] = parse::fields::<2>(input)?;
        let (cpu1, cpu2) = (
            CpuId::from_u32(c1).ok_or(EINVAL)?,
            CpuId::from_u32(c2).ok_or(EINVAL)?,
        );
        if cpu1 == cpu2 {
            return Err(EINVAL);
        }
        let seen = Seen::new(Some([cpu1, cpu2]))?;
        let start = sched::now_ns();
        let run = |ls: &Lockstep<'_>| seen.run(ls);
        let ret = multi::stop_two_cpus_with(cpu1, cpu2, c"stop_two_cpus hook", &run, true, None);
        let ns = sched::now_ns().saturating_sub(start);
        let probed = seen.probes_ok("stop_two_cpus");
        let ret = ret.and_then(|r| probed.map(|()| r));
        let ret = ret.unwrap_or_else(|e| e.to_errno());
        let ran_only_on_cpu1 = seen.ran_on.cpus().eq([cpu1]);
        let irqs_off = seen.irqs_off();
        let old = self.last_two.lock().replace(TwoRecord {
            cpus: [cpu1, cpu2],
            ran_on: seen.ran_on,
            irqs_off,
            ret,
            ns,
        });
        // After the unlock.
        drop(old);
        to_result(ret)?;
        if !ran_only_on_cpu1 {
            return Err(EIO);
        }
        Ok(())
    }

    pub(super) fn show_two(&self, m: &SeqFile) {
        let last = self.last_two.lock();
        let Some(r) = last.as_ref() else {
            seq_print!(m, "none\n");
            return;
        };
        seq_print!(
            m,
            "cpus={},{} ran_on={} irqs_off={} ret={} ns={}\n",
            r.cpus[0].as_u32(),
            r.cpus[1].as_u32(),
            CpuList(r.ran_on.cpus()),
            r.irqs_off,
            r.ret,
            r.ns
        );
    }

    /// `CPULIST`: stops every online CPU, runs the test function on those
    /// of the list.
    pub(super) fn stop_machine(&self, input: &[u8]) -> Result {
        let active = CpuSet::new()?;
        parse::cpulist(input, nr_cpu_ids(), |cpu| {
            // Below `nr_cpu_ids`: always a CPU.
            if let Some(cpu) = CpuId::from_u32(cpu) {
                active.add(cpu);
            }
        })?;
        let seen = Seen::new(None)?;
        let start = sched::now_ns();
        let run = |ls: &Lockstep<'_>| seen.run(ls);
        let ret = multi::stop_machine_with(
            Some(multi::Active::Set(&active)),
            c"stop_machine hook",
            &run,
            true,
            Some(&seen.stopped),
        );
        let ns = sched::now_ns().saturating_sub(start);
        let probed = seen.probes_ok("stop_machine");
        let ret = ret.and_then(|r| probed.map(|()| r));
        let ret = ret.unwrap_or_else(|e| e.to_errno());
        let ran_on_active = seen.ran_on.is(&active);
        let irqs_off = seen.irqs_off();
        let old = self.last_machine.lock().replace(MachineRecord {
            active,
            stopped: seen.stopped,
            ran_on: seen.ran_on,
            irqs_off,
            ret,
            ns,
        });
        // After the unlock.
        drop(old);
        to_result(ret)?;
        if !ran_on_active {
            return Err(EIO);
        }
        Ok(())
    }

    pub(super) fn show_machine(&self, m: &SeqFile) {
        let last = self.last_machine.lock();
        let Some(r) = last.as_ref() else {
            seq_print!(m, "none\n");
            return;
        };
        seq_print!(
            m,
            "active={} stopped={} ran_on={} irqs_off={} ret={} ns={}\n",
            CpuList(r.active.cpus()),
            CpuList(r.stopped.cpus()),
            CpuList(r.ran_on.cpus()),
            r.irqs_off,
            r.ret,
            r.ns
        );
    }

    /// `PID1 PID2`: exchanges the CPUs of two tasks (see [`migrate::swap`]).
    pub(super) fn swap(&self, input: &[u8]) -> Result {
        let [p1, p2] = parse::fields::<2>(input)?;
        let o = migrate::swap(p1, p2)?;
        *self.last_swap.lock() = Some(o);
        to_result(o.ret)
    }

    pub(super) fn show_swap(&self, m: &SeqFile) {
        let Some(o) = *self.last_swap.lock() else {
            seq_print!(m, "none\n");
            return;
        };
        seq_print!(
            m,
            "pid={} from={} to={} now_on={} pid={} from={} to={} now_on={} ret={} ns={}\n",
            o.pids[0],
            o.before[0],
            o.before[1],
            o.after[0],
            o.pids[1],
            o.before[1],
            o.before[0],
            o.after[1],
            o.ret,
            o.ns
        );
    }
}
