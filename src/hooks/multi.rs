// SPDX-License-Identifier: GPL-2.0

//! The hooks of the multi-CPU stops: `stop_two_cpus`, `stop_machine` and
//! `swap`.
//!
//! The test function of `stop_two_cpus` and `stop_machine` checks, on each
//! CPU it runs on, that its own interrupts are off and that every
//! participant has turned its interrupts off and not left the lock-step
//! yet; a failed check fails the write with `EIO`.

use super::parse;
use crate::{
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
use kernel::{
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    error::to_result,
    new_spinlock,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        SpinLock,
    },
};

/// The CPUs of a bitmap, for [`CpuList`].
fn cpus_of(bits: u64) -> impl Iterator<Item = CpuId> + Clone {
    (0..64u32)
        .filter(move |c| bits & (1 << c) != 0)
        .filter_map(CpuId::from_u32)
}

/// The highest CPU number a hook accepts, plus one: CPU bitmaps are `u64`.
fn cpu_limit() -> u32 {
    nr_cpu_ids().min(64)
}

/// What the test function saw, on each CPU it ran on.
struct Seen {
    /// The CPUs it ran on.
    ran_on: Atomic<u64>,
    /// The participants with interrupts off, as it saw them (last run).
    stopped: Atomic<u64>,
    /// Whether every check held, on every CPU.
    bad: Atomic<u32>,
}

impl Seen {
    fn new() -> Self {
        Self {
            ran_on: Atomic::new(0),
            stopped: Atomic::new(0),
            bad: Atomic::new(0),
        }
    }

    /// The test function: runs in RUN on an active CPU.
    fn run(&self, ls: &Lockstep<'_>) -> c_int {
        let cpu = CpuId::current().as_u32();
        if cpu < 64 {
            multi::or_bits(&self.ran_on, 1 << cpu);
        }
        self.stopped.store(ls.irqs_off_cpus(), Relaxed);
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

    fn irqs_off(&self) -> &'static str {
        if self.bad.load(Relaxed) == 0 {
            "yes"
        } else {
            "no"
        }
    }
}

/// The last call of `stop_two_cpus`.
#[derive(Clone, Copy)]
struct TwoRecord {
    cpus: [u32; 2],
    ran_on: u64,
    irqs_off: &'static str,
    ret: c_int,
    ns: u64,
}

/// The last call of `stop_machine`.
#[derive(Clone, Copy)]
struct MachineRecord {
    active: u64,
    stopped: u64,
    ran_on: u64,
    irqs_off: &'static str,
    ret: c_int,
    ns: u64,
}

/// The state of the multi-CPU hooks.
#[pin_data]
pub(super) struct MultiHooks {
    #[pin]
    last_two: SpinLock<Option<TwoRecord>>,
    #[pin]
    last_machine: SpinLock<Option<MachineRecord>>,
    #[pin]
    last_swap: SpinLock<Option<SwapOutcome>>,
}

impl MultiHooks {
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            last_two <- new_spinlock!(None, "rmigration_hooks_last_two"),
            last_machine <- new_spinlock!(None, "rmigration_hooks_last_machine"),
            last_swap <- new_spinlock!(None, "rmigration_hooks_last_swap"),
        })
    }

    /// `CPU1 CPU2`: stops both, runs the test function on `CPU1`.
    pub(super) fn stop_two_cpus(&self, input: &[u8]) -> Result {
        let [c1, c2] = parse::fields::<2>(input)?;
        if c1 >= cpu_limit() || c2 >= cpu_limit() || c1 == c2 {
            return Err(EINVAL);
        }
        let (cpu1, cpu2) = (
            CpuId::from_u32(c1).ok_or(EINVAL)?,
            CpuId::from_u32(c2).ok_or(EINVAL)?,
        );
        let seen = Seen::new();
        let start = sched::now_ns();
        let run = |ls: &Lockstep<'_>| seen.run(ls);
        let ret = multi::stop_two_cpus_with(cpu1, cpu2, c"stop_two_cpus hook", &run, true);
        let ns = sched::now_ns().saturating_sub(start);
        let ret = ret.unwrap_or_else(|e| e.to_errno());
        *self.last_two.lock() = Some(TwoRecord {
            cpus: [c1, c2],
            ran_on: seen.ran_on.load(Relaxed),
            irqs_off: seen.irqs_off(),
            ret,
            ns,
        });
        to_result(ret)?;
        if seen.ran_on.load(Relaxed) != 1 << c1 {
            return Err(EIO);
        }
        Ok(())
    }

    pub(super) fn show_two(&self, m: &SeqFile) {
        let Some(r) = *self.last_two.lock() else {
            seq_print!(m, "none\n");
            return;
        };
        seq_print!(
            m,
            "cpus={},{} ran_on={} irqs_off={} ret={} ns={}\n",
            r.cpus[0],
            r.cpus[1],
            CpuList(cpus_of(r.ran_on)),
            r.irqs_off,
            r.ret,
            r.ns
        );
    }

    /// `CPULIST`: stops every online CPU, runs the test function on those
    /// of the list.
    pub(super) fn stop_machine(&self, input: &[u8]) -> Result {
        let active = parse::cpulist(input, cpu_limit())?;
        let seen = Seen::new();
        let start = sched::now_ns();
        let run = |ls: &Lockstep<'_>| seen.run(ls);
        let ret = multi::stop_machine_with(
            Some(multi::Active::Bits(active)),
            c"stop_machine hook",
            &run,
            true,
        );
        let ns = sched::now_ns().saturating_sub(start);
        let ret = ret.unwrap_or_else(|e| e.to_errno());
        *self.last_machine.lock() = Some(MachineRecord {
            active,
            stopped: seen.stopped.load(Relaxed),
            ran_on: seen.ran_on.load(Relaxed),
            irqs_off: seen.irqs_off(),
            ret,
            ns,
        });
        to_result(ret)?;
        if seen.ran_on.load(Relaxed) != active {
            return Err(EIO);
        }
        Ok(())
    }

    pub(super) fn show_machine(&self, m: &SeqFile) {
        let Some(r) = *self.last_machine.lock() else {
            seq_print!(m, "none\n");
            return;
        };
        seq_print!(
            m,
            "active={} stopped={} ran_on={} irqs_off={} ret={} ns={}\n",
            CpuList(cpus_of(r.active)),
            CpuList(cpus_of(r.stopped)),
            CpuList(cpus_of(r.ran_on)),
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
