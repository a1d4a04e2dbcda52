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
    prelude::*,
    sync::aref::ARef,
    task::Task,
    types::Opaque, //
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
pub(crate) fn spin_while_thread_runs(cpu: CpuId, done: impl Fn() -> bool) -> bool {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    let task = unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) };
    spin_while(done, || {
        // SAFETY: smpboot holds a reference on its threads until they are
        // unregistered, which no synchronous caller can overlap (see
        // `stopper::stopper()`).
        !task.is_null()
            && unsafe { ffi_bindings::rmigration_task_runnable(task) }
            && CpuId::current() != cpu
    })
}

/// Whether the `rmigration/N` thread of `cpu` is on its CPU or woken.
pub(crate) fn thread_runnable(cpu: CpuId) -> bool {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    let task = unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) };
    // SAFETY: smpboot holds a reference on its threads until they are
    // unregistered, which the stall watchdog (stopped before) and the
    // hooks (removed before) do not overlap.
    !task.is_null() && unsafe { ffi_bindings::rmigration_task_runnable(task) }
}

/// Whether the `rmigration/N` thread of `cpu` is on its runqueue while
/// another task runs there: kept off its CPU.
pub(crate) fn thread_kept_off(cpu: CpuId) -> bool {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    let task = unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) };
    // SAFETY: smpboot holds a reference on its threads until they are
    // unregistered, which neither a multi-CPU stop (holding a hook or a
    // module reference) nor the stall watchdog (stopped before) overlaps.
    !task.is_null() && unsafe { ffi_bindings::rmigration_task_kept_off(task) }
}

/// How many times the `rmigration/N` thread of `cpu` was switched out
/// (0 without a thread): a thread seen kept off twice with the same count
/// has not run in between.
pub(crate) fn thread_switches(cpu: CpuId) -> c_ulong {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    let task = unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) };
    if task.is_null() {
        return 0;
    }
    // SAFETY: As in `thread_kept_off()`.
    unsafe { ffi_bindings::rmigration_task_switches(task) }
}

/// Makes `task` `SCHED_FIFO` at `MAX_RT_PRIO - 1`.
pub(crate) fn set_fifo_max(task: &Task) -> Result {
    // SAFETY: `task` is a valid task for the duration of the call.
    to_result(unsafe { ffi_bindings::rmigration_set_fifo_max(task.as_ptr()) })
}

/// Wakes the `rmigration/N` thread of `cpu`, if it exists.
///
/// The caller makes sure the threads are not being unregistered.
pub(crate) fn wake_thread(cpu: CpuId) {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    let task = unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) };
    if !task.is_null() {
        // SAFETY: smpboot holds a reference on its threads until they are
        // unregistered, which the caller rules out.
        unsafe { bindings::wake_up_process(task) };
    }
}

/// Whether the current task is the `rmigration/N` thread of `cpu`.
pub(crate) fn is_thread_of(cpu: CpuId) -> bool {
    // SAFETY: Reads a per-CPU pointer of a possible CPU.
    let task = unsafe { ffi_bindings::rmigration_thread_on(cpu.into()) };
    core::ptr::eq(task, Task::current_raw())
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
    match unsafe { ffi_bindings::rmigration_task_where(task.as_ptr()) } {
        2 => Where::Running,
        1 => Where::Queued,
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

/// `cpu_relax()`, in a spin loop.
pub(crate) fn cpu_relax() {
    // SAFETY: A pause instruction.
    unsafe { ffi_bindings::rmigration_cpu_relax() }
}

/// Turns preemption off on this CPU (`preempt_disable()`).
///
/// Each call is paired with one [`preempt_enable`] later on the same
/// task, as in C; the multi-CPU stops pair them across the states of
/// their state machine, not in one scope.
pub(crate) fn preempt_disable() {
    // SAFETY: Raises the preemption count of this CPU.
    unsafe { ffi_bindings::rmigration_preempt_disable() }
}

/// Turns preemption on again after [`preempt_disable`]; the task may be
/// preempted here.
pub(crate) fn preempt_enable() {
    // SAFETY: Lowers the preemption count raised by `preempt_disable()`
    // (documented pairing).
    unsafe { ffi_bindings::rmigration_preempt_enable() }
}

/// Preemption off on this CPU while it lives ([`preempt_disable`] and
/// [`preempt_enable`]), unless [`PreemptGuard::keep`] hands the
/// `preempt_enable()` over to the caller.
#[must_use]
pub(crate) struct PreemptGuard(core::marker::PhantomData<*mut ()>);

impl PreemptGuard {
    /// Turns preemption off.
    pub(crate) fn new() -> Self {
        preempt_disable();
        Self(core::marker::PhantomData)
    }

    /// Leaves preemption off: the caller pairs it with [`preempt_enable`].
    pub(crate) fn keep(self) {
        core::mem::forget(self);
    }
}

impl Drop for PreemptGuard {
    fn drop(&mut self) {
        preempt_enable();
    }
}

/// The interrupt state of this CPU before [`irq_save`] turned them off.
#[must_use]
pub(crate) struct IrqFlags(usize);

/// Turns interrupts off on this CPU (`local_irq_save()`), until
/// [`irq_restore`] with what this returns.
pub(crate) fn irq_save() -> IrqFlags {
    // SAFETY: Turns interrupts off; the flags give the state back.
    IrqFlags(unsafe { ffi_bindings::rmigration_irq_save() })
}

/// Gives this CPU the interrupt state it had before [`irq_save`].
pub(crate) fn irq_restore(flags: IrqFlags) {
    // SAFETY: `flags` came from `irq_save()` on this CPU.
    unsafe { ffi_bindings::rmigration_irq_restore(flags.0) }
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
/// comes or goes while it lives.
pub(crate) struct CpusReadGuard(());

impl CpusReadGuard {
    /// Takes the lock; may sleep.
    pub(crate) fn new() -> Self {
        // SAFETY: Process context; released in `drop`.
        unsafe { ffi_bindings::rmigration_cpus_read_lock() };
        Self(())
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
        match self.0 {
            1 | 2 => write!(f, " prio {}", self.1),
            6 => Ok(()),
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
    match policy {
        0 => "SCHED_NORMAL",
        1 => "SCHED_FIFO",
        2 => "SCHED_RR",
        3 => "SCHED_BATCH",
        5 => "SCHED_IDLE",
        6 => "SCHED_DEADLINE",
        7 => "SCHED_EXT",
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
