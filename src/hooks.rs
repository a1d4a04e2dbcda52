// SPDX-License-Identifier: GPL-2.0

//! The test hooks in `/sys/kernel/debug/rmigration/`, for root only.
//!
//! | file           | write                 | read                         |
//! |----------------|-----------------------|------------------------------|
//! | `stop_one_cpu` | `CPU`                 | the last round trip          |
//! | `nowait`       | `CPU COUNT DELAY_US`  |                              |
//! | `migrate`      | `PID CPU`             | the last migration           |
//! | `stats`        |                       | per-CPU counters             |
//! | `stop_two_cpus`| `CPU1 CPU2`           | the last two-CPU stop        |
//! | `stop_machine` | `CPULIST` (`0,2-3`)   | the last machine stop        |
//! | `swap`         | `PID1 PID2`           | the last swap                |
//!
//! A write returns its byte count on success and a negative errno otherwise:
//! `EINVAL` for malformed input or a CPU out of range, `ENOENT` for an
//! offline CPU (`stop_one_cpu`, `nowait`), `EAGAIN` when `nowait` has too
//! many works pending. A writer waiting for a work that has not started
//! (its CPU kept by another task) can be killed: the work is withdrawn and
//! never runs; see [`migrate::migrate`] for `migrate`, and
//! [`multi`] for the multi-CPU stops. The files
//! are C `file_operations` (`src/ffi.c`) whose owner is this module: an
//! open file keeps the module loaded, and removal waits for the calls in
//! progress.

mod multi;
mod parse;

use crate::{
    bindings,
    migrate::{
        self,
        Outcome, //
    },
    sched,
    stopper,
    trace, //
};
use core::ffi::c_void;
use kernel::{
    cpu::CpuId,
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
        SpinLock, //
    },
    time::{
        delay::fsleep,
        Delta, //
    },
};

/// The hook files; the discriminant is the id C passes back.
#[derive(Clone, Copy)]
enum Hook {
    StopOneCpu = 0,
    Nowait = 1,
    Stats = 2,
    Migrate = 3,
    StopTwoCpus = 4,
    StopMachine = 5,
    Swap = 6,
}

impl Hook {
    const ALL: [Hook; 7] = [
        Hook::StopOneCpu,
        Hook::Nowait,
        Hook::Stats,
        Hook::Migrate,
        Hook::StopTwoCpus,
        Hook::StopMachine,
        Hook::Swap,
    ];

    fn from_id(id: c_int) -> Option<Self> {
        Self::ALL.into_iter().find(|h| *h as c_int == id)
    }

    fn name(self) -> &'static CStr {
        match self {
            Hook::StopOneCpu => c"stop_one_cpu",
            Hook::Nowait => c"nowait",
            Hook::Stats => c"stats",
            Hook::Migrate => c"migrate",
            Hook::StopTwoCpus => c"stop_two_cpus",
            Hook::StopMachine => c"stop_machine",
            Hook::Swap => c"swap",
        }
    }

    fn mode(self) -> u16 {
        match self {
            Hook::StopOneCpu
            | Hook::Migrate
            | Hook::StopTwoCpus
            | Hook::StopMachine
            | Hook::Swap => 0o600,
            Hook::Nowait => 0o200,
            Hook::Stats => 0o400,
        }
    }
}

/// The last round trip through the `stop_one_cpu` hook.
#[derive(Clone, Copy)]
struct Record {
    cpu: u32,
    ran_on: Option<u32>,
    ret: c_int,
    ns: u64,
}

/// Limits of the `nowait` hook: works and total sleep pending at any time,
/// over all CPUs, and sleep per work; so that writers cannot keep the
/// stoppers busy for long (a CPU going offline runs its pending works
/// first).
const NOWAIT_MAX_COUNT: u32 = 1_000;
const NOWAIT_MAX_DELAY_US: u32 = 100_000;
const NOWAIT_MAX_TOTAL_US: u64 = 1_000_000;

/// State shared by the hooks.
#[pin_data]
pub(crate) struct Hooks {
    #[pin]
    last: SpinLock<Option<Record>>,
    #[pin]
    last_migration: SpinLock<Option<Outcome>>,
    #[pin]
    multi: multi::MultiHooks,
}

impl Hooks {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            last <- new_spinlock!(None, "rmigration_hooks_last"),
            last_migration <- new_spinlock!(None, "rmigration_hooks_last_migration"),
            multi <- multi::MultiHooks::new(),
        })
    }

    fn write(&self, hook: Hook, input: &[u8]) -> Result {
        match hook {
            Hook::StopOneCpu => self.stop_one_cpu(input),
            Hook::Nowait => nowait(input),
            Hook::Migrate => self.migrate(input),
            Hook::StopTwoCpus => self.multi.stop_two_cpus(input),
            Hook::StopMachine => self.multi.stop_machine(input),
            Hook::Swap => self.multi.swap(input),
            Hook::Stats => Err(EPERM),
        }
    }

    fn show(&self, hook: Hook, m: &SeqFile) {
        match hook {
            Hook::StopOneCpu => self.show_last(m),
            Hook::Stats => show_stats(m),
            Hook::Migrate => self.show_last_migration(m),
            Hook::StopTwoCpus => self.multi.show_two(m),
            Hook::StopMachine => self.multi.show_machine(m),
            Hook::Swap => self.multi.show_swap(m),
            Hook::Nowait => {}
        }
    }

    /// `CPU`: runs a work on `CPU` that records where it ran.
    fn stop_one_cpu(&self, input: &[u8]) -> Result {
        let [cpu] = parse::fields::<1>(input)?;
        let id = CpuId::from_u32(cpu).ok_or(EINVAL)?;
        let mut ran_on = None;
        let start = sched::now_ns();
        let ret = stopper::stop_one_cpu_with(id, c"stop_one_cpu hook", || {
            ran_on = Some(CpuId::current().as_u32());
            0
        });
        let ns = sched::now_ns().saturating_sub(start);
        *self.last.lock() = Some(Record {
            cpu,
            ran_on,
            ret: ret.unwrap_or_else(|e| e.to_errno()),
            ns,
        });
        ret?;
        if ran_on != Some(cpu) {
            pr_err!("stop_one_cpu: work for CPU {} ran on {:?}\n", cpu, ran_on);
            return Err(EIO);
        }
        Ok(())
    }

    fn show_last(&self, m: &SeqFile) {
        let Some(r) = *self.last.lock() else {
            seq_print!(m, "none\n");
            return;
        };
        match r.ran_on {
            Some(ran_on) => seq_print!(
                m,
                "cpu={} ran_on={} ret={} ns={}\n",
                r.cpu,
                ran_on,
                r.ret,
                r.ns
            ),
            None => seq_print!(m, "cpu={} ran_on=none ret={} ns={}\n", r.cpu, r.ret, r.ns),
        }
    }
}

impl Hooks {
    /// `PID CPU`: moves task `PID` to `CPU` (see [`migrate::migrate`]).
    fn migrate(&self, input: &[u8]) -> Result {
        let [pid, cpu] = parse::fields::<2>(input)?;
        let outcome = migrate::migrate(pid, cpu)?;
        *self.last_migration.lock() = Some(outcome);
        to_result(outcome.ret)
    }

    fn show_last_migration(&self, m: &SeqFile) {
        let Some(o) = *self.last_migration.lock() else {
            seq_print!(m, "none\n");
            return;
        };
        seq_print!(
            m,
            "pid={} comm={} from={} to={} was={} ret={} now_on={} ns={}\n",
            o.pid,
            trace::Comm(&o.comm),
            o.from,
            o.to,
            o.before,
            o.ret,
            o.after_cpu,
            o.ns
        );
    }
}

/// The works of the `nowait` hook queued and not yet run, and their sleep.
struct Backlog {
    works: Atomic<u64>,
    sleep_us: Atomic<u64>,
}

static BACKLOG: Backlog = Backlog {
    works: Atomic::new(0),
    sleep_us: Atomic::new(0),
};

impl Backlog {
    /// Reserves room for `count` works sleeping `delay_us` each: `EAGAIN`
    /// if they do not fit under the limits with what is pending now.
    ///
    /// Conservative: two writers that would fit together may both see the
    /// other's reservation before it is given back, and both fail.
    fn reserve(&self, count: u32, delay_us: u32) -> Result {
        let (works, sleep_us) = (u64::from(count), u64::from(count) * u64::from(delay_us));
        let pending = self.works.fetch_add(works, Relaxed) + works;
        let pending_us = self.sleep_us.fetch_add(sleep_us, Relaxed) + sleep_us;
        if pending > u64::from(NOWAIT_MAX_COUNT) || pending_us > NOWAIT_MAX_TOTAL_US {
            self.release(count, delay_us);
            return Err(EAGAIN);
        }
        Ok(())
    }

    /// Gives back what [`Backlog::reserve`] took for `count` works.
    fn release(&self, count: u32, delay_us: u32) {
        self.works.fetch_sub(u64::from(count), Relaxed);
        self.sleep_us
            .fetch_sub(u64::from(count) * u64::from(delay_us), Relaxed);
    }
}

/// A work of the `nowait` hook: owned by the stopper once queued, freed by
/// its function.
struct NowaitWork {
    work: bindings::rmigration_work,
    delay_us: u32,
}

/// Runs a [`NowaitWork`], frees it and gives back its room in the backlog.
///
/// # Safety
///
/// `arg` must come from `KBox::into_raw` of a `NowaitWork` whose work the
/// stopper no longer reads (true once the function runs).
unsafe extern "C" fn nowait_fn(arg: *mut c_void) -> c_int {
    // SAFETY: By the safety requirements we own the box again.
    let w = unsafe { KBox::from_raw(arg.cast::<NowaitWork>()) };
    if w.delay_us > 0 {
        fsleep(Delta::from_micros(i64::from(w.delay_us)));
    }
    BACKLOG.release(1, w.delay_us);
    0
}

/// `CPU COUNT DELAY_US`: queues `COUNT` works on `CPU` with
/// [`stopper::stop_one_cpu_nowait`], each sleeping `DELAY_US`.
///
/// `EINVAL` if the write alone is over the limits, `EAGAIN` if it does not
/// fit with the works pending now; `ENOENT` if the CPU is (or goes) offline,
/// in which case the works queued before stay queued.
fn nowait(input: &[u8]) -> Result {
    let [cpu, count, delay_us] = parse::fields::<3>(input)?;
    let cpu = CpuId::from_u32(cpu).ok_or(EINVAL)?;
    if count > NOWAIT_MAX_COUNT
        || delay_us > NOWAIT_MAX_DELAY_US
        || u64::from(count) * u64::from(delay_us) > NOWAIT_MAX_TOTAL_US
    {
        return Err(EINVAL);
    }
    BACKLOG.reserve(count, delay_us)?;
    for queued in 0..count {
        let ret = nowait_one(cpu, delay_us);
        if ret.is_err() {
            BACKLOG.release(count - queued, delay_us);
            return ret;
        }
    }
    Ok(())
}

/// Queues one work of the `nowait` hook, whose room in the backlog is
/// reserved.
fn nowait_one(cpu: CpuId, delay_us: u32) -> Result {
    let w = KBox::new(
        NowaitWork {
            work: bindings::rmigration_work::default(),
            delay_us,
        },
        GFP_KERNEL,
    )?;
    let w = KBox::into_raw(w);
    // SAFETY: `w` is a valid allocation that only `nowait_fn` frees, which
    // the stopper runs after its last read of the work.
    let queued = unsafe {
        stopper::stop_one_cpu_nowait(
            cpu,
            nowait_fn,
            w.cast(),
            &raw mut (*w).work,
            0,
            Some(c"nowait hook"),
        )
    };
    if !queued {
        // SAFETY: Not queued: the box is still ours.
        drop(unsafe { KBox::from_raw(w) });
        return Err(ENOENT);
    }
    Ok(())
}

/// Shows the counters of every possible CPU.
fn show_stats(m: &SeqFile) {
    seq_print!(
        m,
        "cpu state    queued       run    enoent    avg_ns    max_ns withdrawn    stalls running\n"
    );
    for cpu in crate::cpus::all_cpus() {
        let Some(s) = stopper::stopper(cpu) else {
            continue;
        };
        let snap = s.snapshot();
        let st = snap.stats;
        let avg = st.latency_sum.checked_div(st.run).unwrap_or(0);
        seq_print!(
            m,
            "{:<3} {:<8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} ",
            cpu.as_u32(),
            if snap.enabled { "enabled" } else { "disabled" },
            st.queued,
            st.run,
            st.enoent,
            avg,
            st.latency_max,
            st.withdrawn,
            st.stalls
        );
        match snap.running {
            Some(r) => {
                let work = trace::Work {
                    id: r.id,
                    func: r.func,
                    caller: r.caller,
                    name: r.name,
                };
                seq_print!(m, "{}\n", work)
            }
            None => seq_print!(m, "-\n"),
        }
    }
    let (task, stack) = sched::thread_bytes();
    seq_print!(
        m,
        "memory per CPU: stopper {} bytes, thread {} bytes (task_struct {} + stack {})\n",
        stopper::STOPPER_SIZE,
        task + stack,
        task,
        stack
    );
    let st = &migrate::STATS;
    seq_print!(
        m,
        "migrations: {} done ({} arrived at once, the others at their next wakeup), {} failed\n",
        st.done.load(Relaxed),
        st.arrived.load(Relaxed),
        st.failed.load(Relaxed)
    );
}

/// The hook files, present while this object lives, if debugfs is.
///
/// # Invariants
///
/// If `hooks` is `Some`, the files of `/sys/kernel/debug/rmigration/` exist
/// and point at it.
pub(crate) struct Registration {
    /// Used by the files, through the pointer they were created with.
    hooks: Option<Pin<KBox<Hooks>>>,
}

impl Registration {
    /// Creates `/sys/kernel/debug/rmigration/` and its files.
    ///
    /// Without debugfs (`debugfs=off`, `CONFIG_DEBUG_FS=n`) the module
    /// loads all the same, with no hooks, as kernel code treats debugfs:
    /// the stoppers and the C API do not need it. Fails only for want of
    /// memory.
    pub(crate) fn new() -> Result<Self> {
        let hooks = KBox::pin_init(Hooks::new(), GFP_KERNEL)?;
        let files = Hook::ALL.map(|h| bindings::rmigration_hook_file {
            name: h.name().as_char_ptr(),
            mode: h.mode(),
            id: h as c_int,
        });
        let data = core::ptr::from_ref::<Hooks>(&hooks)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `files` is valid for the call (debugfs copies the names);
        // `data` stays valid until the files are removed in `drop`.
        let created = to_result(unsafe {
            bindings::rmigration_debugfs_create(data, files.as_ptr(), files.len())
        });
        if let Err(e) = created {
            pr_warn!(
                "no debugfs (error {}): the hooks of /sys/kernel/debug/rmigration/ are absent; the stoppers and the C API work\n",
                e.to_errno()
            );
            // INVARIANT: No files.
            return Ok(Self { hooks: None });
        }
        // INVARIANT: The files exist and point at `hooks`.
        Ok(Self { hooks: Some(hooks) })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.hooks.is_some() {
            // SAFETY: The files exist (type invariants); this removes them
            // and waits for the calls in progress, which use `self.hooks`.
            unsafe { bindings::rmigration_debugfs_remove() };
        }
    }
}

/// A write to hook `id`, from `src/ffi.c`.
///
/// # Safety
///
/// `hooks` must be the data of a live [`Registration`] and `buf` valid for
/// `len` bytes.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_hook_write(
    hooks: *mut c_void,
    id: c_int,
    buf: *const u8,
    len: usize,
) -> isize {
    // SAFETY: By the safety requirements.
    let (hooks, input) = unsafe {
        (
            &*hooks.cast::<Hooks>(),
            core::slice::from_raw_parts(buf, len),
        )
    };
    let ret = Hook::from_id(id)
        .ok_or(EINVAL)
        .and_then(|h| hooks.write(h, input));
    match ret {
        Ok(()) => 0,
        Err(e) => e.to_errno() as isize,
    }
}

/// A read of hook `id`, from `src/ffi.c`.
///
/// # Safety
///
/// `hooks` must be the data of a live [`Registration`] and `m` a `seq_file`
/// being shown by this thread.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_hook_show(
    hooks: *mut c_void,
    id: c_int,
    m: *mut kernel::bindings::seq_file,
) -> c_int {
    // SAFETY: By the safety requirements.
    let (hooks, m) = unsafe { (&*hooks.cast::<Hooks>(), SeqFile::from_raw(m)) };
    if let Some(h) = Hook::from_id(id) {
        hooks.show(h, m);
    }
    0
}
