// SPDX-License-Identifier: GPL-2.0

//! The scheduler and kthread functions rmigration uses that the kernel crate
//! does not wrap: the one place where the rest of the module gets them safely.

use crate::bindings as ffi_bindings;
use core::ptr::NonNull;
use kernel::{
    bindings,
    cpu::CpuId,
    cpumask::{
        Cpumask,
        CpumaskVar, //
    },
    error::to_result,
    interrupt::LocalInterruptDisabled,
    prelude::*,
    sync::aref::ARef,
    task::Task,
    types::{
        NotThreadSafe,
        Opaque, //
    },
};

/// The memory of a kthread: its `task_struct` and its kernel stack, in bytes.
pub(crate) fn thread_bytes() -> (usize, usize) {
    // SAFETY: Returns compile-time constants.
    unsafe {
        (
            ffi_bindings::rmigration_task_struct_size(),
            ffi_bindings::rmigration_thread_stack_size(),
        )
    }
}

/// Monotonic time in ns (`ktime_get()`).
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get()` may be called from any context.
    let ns = unsafe { bindings::ktime_get() };
    u64::try_from(ns).unwrap_or(0)
}

/// How long [`spin_while`] spins at most, in ns.
const SPIN_MAX_NS: u64 = 500_000;

/// Spins until `done()` while `go_on()` holds and no other task needs this
/// CPU (`need_resched()`), for at most [`SPIN_MAX_NS`]; returns `done()`.
/// The caller stays preemptible throughout: a waiter that expects its
/// wait to be short spins instead of sleeping, so that its CPU is not put
/// to sleep and woken again.
pub(crate) fn spin_while(done: impl Fn() -> bool, go_on: impl Fn() -> bool) -> bool {
    // The clock is read from the 64th spin on only: a wait that is over
    // at once (the common case) does not read it at all.
    let mut start = None;
    let mut spins = 0u32;
    loop {
        if done() {
            return true;
        }
        if !go_on() || need_resched() {
            return false;
        }
        spins = spins.wrapping_add(1);
        if spins % 64 == 0 {
            let now = now_ns();
            if now.saturating_sub(*start.get_or_insert(now)) > SPIN_MAX_NS {
                return false;
            }
        }
        core::hint::spin_loop();
    }
}

/// Spins until `done()` while the `rmigration/N` thread of `cpu` is woken
/// or running and this CPU is not `cpu` ([`spin_while`]); returns
/// `done()`.
///
/// Gives up at once when the thread sleeps (a work that blocks), or when
/// the caller finds itself on `cpu`, where spinning would keep the thread
/// off its CPU.
///
/// # Safety
///
/// The threads must stay registered during the call (smpboot holds a
/// reference on each until it is unregistered).
pub(crate) unsafe fn spin_while_thread_runs(cpu: CpuId, done: impl Fn() -> bool) -> bool {
    let task = thread_on(cpu);
    spin_while(done, || {
        // SAFETY: The thread is alive (safety requirements).
        !task.is_null()
            && unsafe { ffi_bindings::rmigration_task_runnable(task) }
            && CpuId::current() != cpu
    })
}

/// The `rmigration/N` thread of `cpu`, or null: a pointer that is valid
/// while the threads are registered.
fn thread_on(cpu: CpuId) -> *mut bindings::task_struct {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) }
}

/// Whether the `rmigration/N` thread of `cpu` is on its CPU or woken.
///
/// # Safety
///
/// As for [`spin_while_thread_runs`].
pub(crate) unsafe fn thread_runnable(cpu: CpuId) -> bool {
    let task = thread_on(cpu);
    // SAFETY: The thread is alive (safety requirements).
    !task.is_null() && unsafe { ffi_bindings::rmigration_task_runnable(task) }
}

/// Whether the `rmigration/N` thread of `cpu` is on its runqueue while
/// another task runs there: kept off its CPU.
///
/// # Safety
///
/// As for [`spin_while_thread_runs`].
pub(crate) unsafe fn thread_kept_off(cpu: CpuId) -> bool {
    let task = thread_on(cpu);
    // SAFETY: The thread is alive (safety requirements).
    !task.is_null() && unsafe { ffi_bindings::rmigration_task_kept_off(task) }
}

/// How many times the `rmigration/N` thread of `cpu` was switched out
/// (0 without a thread): a thread seen kept off twice with the same count
/// has not run in between.
///
/// # Safety
///
/// As for [`spin_while_thread_runs`].
pub(crate) unsafe fn thread_switches(cpu: CpuId) -> c_ulong {
    let task = thread_on(cpu);
    if task.is_null() {
        return 0;
    }
    // SAFETY: The thread is alive (safety requirements).
    unsafe { ffi_bindings::rmigration_task_switches(task) }
}

/// Makes `task` `SCHED_FIFO` at `MAX_RT_PRIO - 1`.
pub(crate) fn set_fifo_max(task: &Task) -> Result {
    // SAFETY: `task` is a valid task for the duration of the call.
    to_result(unsafe { ffi_bindings::rmigration_set_fifo_max(task.as_ptr()) })
}

/// Wakes the `rmigration/N` thread of `cpu`, if it exists.
///
/// # Safety
///
/// As for [`spin_while_thread_runs`].
pub(crate) unsafe fn wake_thread(cpu: CpuId) {
    let task = thread_on(cpu);
    if !task.is_null() {
        // SAFETY: The thread is alive (safety requirements), and `Task` is
        // a transparent wrapper of `task_struct`.
        unsafe { (*task.cast::<Task>()).wake_up() };
    }
}

/// Whether the current task is an `rmigration/N` thread: a work runs.
pub(crate) fn in_stopper_thread() -> bool {
    // SAFETY: Reads the current task and a per-CPU pointer.
    unsafe { ffi_bindings::rmigration_in_thread() }
}

/// What lockdep knows of works (`struct lockdep_map` of `src/ffi.c`, as
/// the workqueue's): the thread holds it while a work runs, and a
/// synchronous caller takes and drops it before it waits, so that a lock
/// held around a wait and taken by a work is a reported cycle, not a
/// silent deadlock. Nothing without `CONFIG_LOCKDEP`.
#[must_use]
pub(crate) struct WorkLockdep(NotThreadSafe);

impl WorkLockdep {
    /// A work starts running on this thread.
    pub(crate) fn run() -> Self {
        // SAFETY: Released in `drop`, by the same task.
        unsafe { ffi_bindings::rmigration_work_lockdep_acquire() };
        Self(NotThreadSafe)
    }

    /// The caller is about to wait for works.
    pub(crate) fn wait() {
        // SAFETY: Takes and drops the map at once.
        unsafe { ffi_bindings::rmigration_work_lockdep_wait() };
    }
}

impl Drop for WorkLockdep {
    fn drop(&mut self) {
        // SAFETY: Acquired in `run()` by this task.
        unsafe { ffi_bindings::rmigration_work_lockdep_release() };
    }
}

/// The name (`comm`) of `task`, NUL-terminated.
pub(crate) fn comm(task: &Task) -> [u8; 16] {
    let mut comm = [0u8; 16];
    // SAFETY: `task` is valid and `comm` is valid for `comm.len()` bytes.
    unsafe { ffi_bindings::rmigration_task_comm(task.as_ptr(), comm.as_mut_ptr(), comm.len()) };
    comm
}

/// The name (`comm`) of the current task, NUL-terminated.
pub(crate) fn current_comm() -> [u8; 16] {
    let mut comm = [0u8; 16];
    // SAFETY: `comm` is valid for `comm.len()` bytes.
    unsafe { ffi_bindings::rmigration_current_comm(comm.as_mut_ptr().cast(), comm.len()) };
    comm
}

/// The task of `pid` in the caller's pid namespace.
pub(crate) fn find_task(pid: i32) -> Option<ARef<Task>> {
    // SAFETY: Any pid number may be looked up.
    let task = NonNull::new(unsafe { ffi_bindings::rmigration_get_task(pid) })?;
    // SAFETY: `rmigration_get_task()` returned a reference we now own, and
    // `Task` is a transparent wrapper of `task_struct`.
    Some(unsafe { ARef::from_raw(task.cast::<Task>()) })
}

/// The CPU `task` is on, or last ran on.
pub(crate) fn task_cpu(task: &Task) -> CpuId {
    // SAFETY: `task` is valid.
    let cpu = unsafe { ffi_bindings::rmigration_task_cpu(task.as_ptr()) };
    // SAFETY: `task_cpu()` is always a possible CPU.
    unsafe { CpuId::from_u32_unchecked(cpu) }
}

/// Where a task is: a snapshot that may be stale as soon as it is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Where {
    /// Not on a runqueue: blocked, or stopped.
    Sleeping,
    /// On a runqueue, waiting for its CPU.
    Queued,
    /// Running on a CPU.
    Running,
}

/// Where `task` is now.
pub(crate) fn task_where(task: &Task) -> Where {
    // SAFETY: `task` is valid.
    let at = unsafe { ffi_bindings::rmigration_task_where(task.as_ptr()) };
    match c_uint::try_from(at) {
        Ok(ffi_bindings::RMIGRATION_TASK_RUNNING) => Where::Running,
        Ok(ffi_bindings::RMIGRATION_TASK_QUEUED) => Where::Queued,
        _ => Where::Sleeping,
    }
}

/// Whether the affinity of `task` may be changed (no `PF_NO_SETAFFINITY`,
/// not a kernel thread bound to one CPU).
pub(crate) fn affinity_settable(task: &Task) -> bool {
    // SAFETY: `task` is valid.
    unsafe { ffi_bindings::rmigration_task_affinity_settable(task.as_ptr()) }
}

/// Whether `task` is a deadline task, whose affinity must span its root
/// domain (`sched_setaffinity(2)` refuses a smaller one with `EBUSY` when
/// admission control is on; we refuse one CPU always).
pub(crate) fn is_deadline(task: &Task) -> bool {
    // SAFETY: `task` is valid.
    unsafe { ffi_bindings::rmigration_task_deadline(task.as_ptr()) }
}

/// `set_cpus_allowed_ptr(task, cpumask_of(cpu))`: may sleep.
pub(crate) fn set_cpus_allowed(task: &Task, cpu: CpuId) -> Result {
    // SAFETY: `task` is valid and `cpu` a possible CPU.
    to_result(unsafe { ffi_bindings::rmigration_set_cpus_allowed(task.as_ptr(), cpu.into()) })
}

/// Whether `cpu` is active: online and schedulable.
pub(crate) fn cpu_active(cpu: CpuId) -> bool {
    // SAFETY: `cpu` is a possible CPU.
    unsafe { ffi_bindings::rmigration_cpu_active(cpu.into()) }
}

/// Whether `cpu` is a housekeeping CPU: not isolated (`isolcpus=`, cpuset
/// isolated partitions, `nohz_full=`), so it may run the kernel's work
/// items.
pub(crate) fn housekeeping(cpu: CpuId) -> bool {
    // SAFETY: `cpu` is a possible CPU.
    unsafe { ffi_bindings::rmigration_cpu_housekeeping(cpu.into()) }
}

/// Whether `cpu` is online.
pub(crate) fn cpu_online(cpu: CpuId) -> bool {
    // SAFETY: `cpu` is a possible CPU.
    unsafe { ffi_bindings::rmigration_cpu_online(cpu.into()) }
}

/// Whether a task of this CPU wants it (`need_resched()`).
pub(crate) fn need_resched() -> bool {
    // SAFETY: Reads a flag of the current task.
    unsafe { ffi_bindings::rmigration_need_resched() }
}

/// Preemption off on this CPU while it lives (`preempt_disable()`, then
/// `preempt_enable()` when dropped). Not `Send`: it must be dropped by the
/// task that made it, on this CPU.
#[must_use]
pub(crate) struct PreemptGuard(NotThreadSafe);

impl PreemptGuard {
    /// Turns preemption off.
    pub(crate) fn new() -> Self {
        // SAFETY: Raises the preemption count of this CPU; lowered in `drop`.
        unsafe { ffi_bindings::rmigration_preempt_disable() };
        Self(NotThreadSafe)
    }
}

impl Drop for PreemptGuard {
    fn drop(&mut self) {
        // SAFETY: Lowers the count raised in `new`, on the same task.
        unsafe { ffi_bindings::rmigration_preempt_enable() }
    }
}

/// Turns interrupts off at the interrupt controller too, where the
/// architecture has lazy interrupt masking (`hard_irq_disable()`: powerpc;
/// nothing elsewhere), while `_irqs` keeps them off.
pub(crate) fn hard_irq_disable(_irqs: &LocalInterruptDisabled) {
    // SAFETY: Interrupts are off (`_irqs`).
    unsafe { ffi_bindings::rmigration_hard_irq_disable() }
}

/// The interrupts of one self-check (`call_single_data`, one per possible
/// CPU), each calling the module's `rmigration_rs_irq_probe(info)` on its
/// CPU (`smp_call_function_single_async()`).
///
/// # Invariants
///
/// `csds` is an allocation of `rmigration_irq_probes_alloc()`.
pub(crate) struct IrqProbeCsds {
    csds: NonNull<c_void>,
}

// SAFETY: `send` may be called from any CPU, at once for different CPUs
// (each `call_single_data` is its CPU's), as its rules require.
unsafe impl Sync for IrqProbeCsds {}

// SAFETY: The allocation may be freed from any task.
unsafe impl Send for IrqProbeCsds {}

impl IrqProbeCsds {
    /// One `call_single_data` per possible CPU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Process context.
        let csds = NonNull::new(unsafe { ffi_bindings::rmigration_irq_probes_alloc() });
        // INVARIANT: Allocated just now.
        Ok(Self {
            csds: csds.ok_or(ENOMEM)?,
        })
    }

    /// Sends the interrupt of `cpu`.
    ///
    /// # Safety
    ///
    /// The interrupt of `cpu` must not be in flight, and `info` must stay
    /// valid until `rmigration_rs_irq_probe(info)` has returned on `cpu`;
    /// `self` must not be dropped before that either.
    pub(crate) unsafe fn send(&self, cpu: CpuId, info: *mut c_void) -> Result {
        // SAFETY: A possible CPU, its `call_single_data` not in flight, and
        // `info` lives long enough (safety requirements).
        to_result(unsafe {
            ffi_bindings::rmigration_irq_probe(self.csds.as_ptr(), cpu.into(), info)
        })
    }
}

impl Drop for IrqProbeCsds {
    fn drop(&mut self) {
        // SAFETY: Allocated by `rmigration_irq_probes_alloc()` (type
        // invariants); no interrupt in flight (`send`'s rules).
        unsafe { ffi_bindings::rmigration_irq_probes_free(self.csds.as_ptr()) };
    }
}

/// The CPU whose participant keeps its interrupts on (module parameter
/// `debug_irqs_on_cpu`, for the self-check's own test), if any.
pub(crate) fn debug_irqs_on_cpu() -> Option<CpuId> {
    // SAFETY: Reads a module parameter.
    let cpu = unsafe { ffi_bindings::rmigration_debug_irqs_on_cpu() };
    u32::try_from(cpu).ok().and_then(CpuId::from_u32)
}

/// Whether interrupts are off on this CPU.
pub(crate) fn irqs_disabled() -> bool {
    // SAFETY: Reads the flags of this CPU.
    unsafe { ffi_bindings::rmigration_irqs_disabled() }
}

/// Tells the lockup detectors and RCU that this CPU, spinning with
/// interrupts off for its partners, is not stuck.
pub(crate) fn stop_watchdogs() {
    // SAFETY: May be called in any context.
    unsafe { ffi_bindings::rmigration_stop_watchdogs() }
}

/// Holds the CPU hotplug lock for reading (`cpus_read_lock()`): no CPU
/// comes or goes while it lives. Not `Send`: the task that took it
/// releases it.
pub(crate) struct CpusReadGuard(NotThreadSafe);

impl CpusReadGuard {
    /// Takes the lock; may sleep.
    pub(crate) fn new() -> Self {
        // SAFETY: Process context; released in `drop`.
        unsafe { ffi_bindings::rmigration_cpus_read_lock() };
        Self(NotThreadSafe)
    }
}

impl Drop for CpusReadGuard {
    fn drop(&mut self) {
        // SAFETY: Taken in `new`.
        unsafe { ffi_bindings::rmigration_cpus_read_unlock() };
    }
}

/// A completion whose waiter may choose to be killable (`struct
/// completion`; the kernel crate's `Completion` has no killable wait).
#[pin_data]
pub(crate) struct Completion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: A `struct completion` may be completed and waited for from any
// task, concurrently.
unsafe impl Send for Completion {}

// SAFETY: As above.
unsafe impl Sync for Completion {}

impl Completion {
    /// A completion not completed yet.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- Opaque::ffi_init(|slot: *mut bindings::completion| {
                // SAFETY: `slot` is valid for writes and pinned.
                unsafe { bindings::init_completion(slot) };
            }),
        })
    }

    /// Completes it for every waiter, present and future.
    pub(crate) fn complete_all(&self) {
        // SAFETY: `inner` is an initialised completion.
        unsafe { bindings::complete_all(self.inner.get()) };
    }

    /// Waits until it is completed, uninterruptibly.
    pub(crate) fn wait(&self) {
        // SAFETY: `inner` is an initialised completion; process context.
        unsafe { bindings::wait_for_completion(self.inner.get()) };
    }

    /// Waits until it is completed or a fatal signal is pending; returns
    /// `false` in the second case.
    pub(crate) fn wait_killable(&self) -> bool {
        // SAFETY: `inner` is an initialised completion; process context.
        unsafe { ffi_bindings::rmigration_wait_killable(self.inner.get()) == 0 }
    }
}

/// The task running on a CPU when a stall is reported.
pub(crate) struct Curr {
    /// Its pid (0: the CPU is idle) and name.
    pub(crate) pid: i32,
    pub(crate) comm: [u8; 16],
    /// Its scheduling policy (`SCHED_*`).
    pub(crate) policy: i32,
    /// Its real-time priority, its nice value for a fair task, 0 for a
    /// deadline task.
    pub(crate) prio: i32,
    /// Its effective priority, `p->prio` (lower is higher: 0 is
    /// `SCHED_FIFO` 99, below 0 deadline), as priority inheritance may
    /// have raised it.
    pub(crate) eff_prio: i32,
}

impl Curr {
    /// Whether this task can keep a `SCHED_FIFO` 99 thread that is
    /// runnable on its CPU from running: its effective priority is that of
    /// `SCHED_FIFO` 99 or higher (a real-time task at 99, a deadline task,
    /// the kernel's stopper, or a task boosted to those by priority
    /// inheritance). Another task runs there only because the thread is
    /// not runnable, or by a server's reserve (fair or ext).
    pub(crate) fn holds_off_fifo_max(&self) -> bool {
        self.eff_prio <= 0
    }

    /// How its priority reads in a report: `prio 99`, `nice 0`, or
    /// nothing for a deadline task.
    pub(crate) fn prio_words(&self) -> PrioWords {
        PrioWords(self.policy, self.prio)
    }
}

/// The priority of a [`Curr`], formatted.
pub(crate) struct PrioWords(i32, i32);

impl kernel::fmt::Display for PrioWords {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match c_uint::try_from(self.0) {
            Ok(ffi_bindings::RMIGRATION_SCHED_FIFO | ffi_bindings::RMIGRATION_SCHED_RR) => {
                write!(f, " prio {}", self.1)
            }
            Ok(ffi_bindings::RMIGRATION_SCHED_DEADLINE) => Ok(()),
            _ => write!(f, " nice {}", self.1),
        }
    }
}

/// The task running on `cpu` now, read on `cpu` by an interrupt; process
/// context only (the caller waits for the interrupt).
pub(crate) fn cpu_curr(cpu: CpuId) -> Result<Curr> {
    let mut info = ffi_bindings::rmigration_task_info::default();
    // SAFETY: `info` is valid for writes until the call returns, which
    // waits for the interrupt.
    to_result(unsafe { ffi_bindings::rmigration_cpu_curr(cpu.into(), &mut info) })?;
    Ok(Curr {
        pid: info.pid,
        comm: comm_from_c(&info.comm),
        policy: info.policy,
        prio: info.prio,
        eff_prio: info.eff_prio,
    })
}

/// A task name copied from C (`char comm[16]`), NUL-terminated.
pub(crate) fn comm_from_c(c: &[kernel::ffi::c_char; 16]) -> [u8; 16] {
    let mut comm = c.map(|b| u8::from_ne_bytes(b.to_ne_bytes()));
    comm[15] = 0;
    comm
}

/// The name of a scheduling policy.
pub(crate) fn policy_name(policy: i32) -> &'static str {
    use ffi_bindings::*;
    match c_uint::try_from(policy) {
        Ok(RMIGRATION_SCHED_NORMAL) => "SCHED_NORMAL",
        Ok(RMIGRATION_SCHED_FIFO) => "SCHED_FIFO",
        Ok(RMIGRATION_SCHED_RR) => "SCHED_RR",
        Ok(RMIGRATION_SCHED_BATCH) => "SCHED_BATCH",
        Ok(RMIGRATION_SCHED_IDLE) => "SCHED_IDLE",
        Ok(RMIGRATION_SCHED_DEADLINE) => "SCHED_DEADLINE",
        Ok(RMIGRATION_SCHED_EXT) => "SCHED_EXT",
        _ => "SCHED_?",
    }
}

/// Writes the name of the current task into `buf`, NUL-terminated.
pub(crate) fn current_comm_into(buf: &mut [kernel::ffi::c_char; 16]) {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    unsafe { ffi_bindings::rmigration_current_comm(buf.as_mut_ptr(), buf.len()) };
}

/// The pid of the current task.
pub(crate) fn current_pid() -> i32 {
    // SAFETY: Reads the pid of the current task.
    unsafe { ffi_bindings::rmigration_current_pid() }
}

/// The CPUs `task` may run on, copied.
pub(crate) fn cpus_allowed(task: &Task) -> Result<CpumaskVar> {
    let mut mask = CpumaskVar::new_zero(GFP_KERNEL)?;
    let raw: &mut Cpumask = &mut mask;
    // SAFETY: `task` is valid and `raw` a valid mask to write.
    unsafe { ffi_bindings::rmigration_task_cpus_allowed(task.as_ptr(), raw.as_raw()) };
    Ok(mask)
}

/// `set_cpus_allowed_ptr(task, mask)`: may sleep.
pub(crate) fn set_cpus_allowed_mask(task: &Task, mask: &Cpumask) -> Result {
    // SAFETY: `task` and `mask` are valid for the call.
    to_result(unsafe {
        ffi_bindings::rmigration_set_cpus_allowed_mask(task.as_ptr(), mask.as_raw())
    })
}
