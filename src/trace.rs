// SPDX-License-Identifier: GPL-2.0

//! Traces of every step of every work, and of each migration, in two forms:
//!
//! - trace events under `/sys/kernel/tracing/events/rmigration/` (ftrace,
//!   `trace-cmd record -e rmigration`, `perf`), defined in C in
//!   `src/rmigration_events.h`; a disabled event costs one static branch;
//! - with the module parameter `trace=1` (also writable at run time in
//!   `/sys/module/rmigration/parameters/trace`), one kernel log line per
//!   step, saying the same things.
//!
//! A work goes queued -> waking -> started -> done, or is refused. It is
//! named by its stopper's CPU and its id, which counts per stopper. The
//! functions here take plain values: the stopper and the migrations call
//! them, not the other way round.
//!
//! C header: [`src/rmigration_events.h`](../rmigration_events.h)

use crate::{
    bindings,
    sched::{
        self,
        Where, //
    },
};
use kernel::{
    cpu::CpuId,
    ffi::{
        c_char,
        c_uint,
        c_ulong, //
    },
    fmt,
    prelude::*,
    task::Task, //
};

/// Declares the Rust entry point of trace events of `src/rmigration_events.h`.
///
/// The module's own form of the kernel crate's `declare_trace!`, whose
/// expansion reaches `kernel::bindings`: these tracepoints are the module's
/// and in its own bindings. Each function tests the tracepoint's static key
/// (`static_branch_unlikely()`) and, only if the event is enabled, calls the
/// `rust_do_trace_<name>()` function `src/rmigration_events.c` creates.
macro_rules! declare_trace {
    ($($(#[$attr:meta])* unsafe fn $name:ident($($arg:ident : $ty:ty),* $(,)?);)*) => {$(
        $(#[$attr])*
        #[inline(always)]
        unsafe fn $name($($arg: $ty),*) {
            #[cfg(CONFIG_TRACEPOINTS)]
            {
                // SAFETY: The static key of a tracepoint defined in C may
                // always be read.
                let enabled = unsafe {
                    kernel::macros::paste! {
                        kernel::jump_label::static_branch_unlikely!(
                            bindings::[<__tracepoint_ $name>],
                            bindings::tracepoint,
                            key
                        )
                    }
                };
                if enabled {
                    kernel::macros::paste! {
                        // SAFETY: The caller vouches for the arguments.
                        unsafe { bindings::[<rust_do_trace_ $name>]($($arg),*) };
                    }
                }
            }
            #[cfg(not(CONFIG_TRACEPOINTS))]
            {
                $(let _ = $arg;)*
            }
        }
    )*};
}

declare_trace! {
    /// `rmigration_work_queued`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_work_queued(cpu: c_uint, id: u64);
    /// `rmigration_work_waking`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_work_waking(cpu: c_uint, id: u64, wake: bool);
    /// `rmigration_work_started`.
    ///
    /// # Safety
    ///
    /// `name` must point at a NUL-terminated string.
    unsafe fn rmigration_work_started(
        cpu: c_uint,
        id: u64,
        func: c_ulong,
        caller: c_ulong,
        name: *const c_char,
    );
    /// `rmigration_work_done`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_work_done(cpu: c_uint, id: u64, ret: c_int, latency_ns: u64);
    /// `rmigration_work_refused`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_work_refused(cpu: c_uint, id: u64, func: c_ulong, caller: c_ulong);
    /// `rmigration_migrate_request`.
    ///
    /// # Safety
    ///
    /// `comm` must point at a NUL-terminated string.
    unsafe fn rmigration_migrate_request(pid: c_int, comm: *const c_char, from: c_uint, to: c_uint);
    /// `rmigration_multi_state`.
    ///
    /// # Safety
    ///
    /// `name` must point at a NUL-terminated string.
    unsafe fn rmigration_multi_state(name: *const c_char, cpu: c_uint, state: c_int, withdrawn: c_uint);
    /// `rmigration_work_withdrawn`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_work_withdrawn(cpu: c_uint, id: u64);
    /// `rmigration_stall`.
    ///
    /// # Safety
    ///
    /// `comm` must point at a NUL-terminated string.
    #[expect(clippy::too_many_arguments)]
    unsafe fn rmigration_stall(
        cpu: c_uint,
        id: u64,
        waited_ns: u64,
        pid: c_int,
        comm: *const c_char,
        policy: c_int,
        prio: c_int,
        waiting: c_uint,
    );
    /// `rmigration_stall_end`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_stall_end(cpu: c_uint, ns: u64, started: bool);
    /// `rmigration_multi_withdrew`.
    ///
    /// # Safety
    ///
    /// `name` must point at a NUL-terminated string.
    unsafe fn rmigration_multi_withdrew(name: *const c_char, cpu: c_uint, wanted: bool, round: c_uint);
    /// `rmigration_multi_done`.
    ///
    /// # Safety
    ///
    /// `name` must point at a NUL-terminated string.
    unsafe fn rmigration_multi_done(name: *const c_char, ret: c_int, ns: u64, given_up: bool);
    /// `rmigration_swap`.
    ///
    /// # Safety
    ///
    /// Always safe to call.
    unsafe fn rmigration_swap(pid1: c_int, cpu1: c_uint, pid2: c_int, cpu2: c_uint, ret: c_int, rolled_back: bool);
    /// `rmigration_migrate_done`.
    ///
    /// # Safety
    ///
    /// `comm` must point at a NUL-terminated string.
    #[expect(clippy::too_many_arguments)]
    unsafe fn rmigration_migrate_done(
        pid: c_int,
        comm: *const c_char,
        from: c_uint,
        to: c_uint,
        before: c_int,
        before_cpu: c_uint,
        after_cpu: c_uint,
        ret: c_int,
        ns: u64,
    );
}

/// Whether the kernel log lines (`trace=1`) are on.
pub(crate) fn enabled() -> bool {
    // SAFETY: Reads a module parameter.
    unsafe { bindings::rmigration_trace_enabled() }
}

/// The symbol name of a code address, as printk's `%ps` shows it.
pub(crate) struct Symbol(pub(crate) usize);

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 128];
        // SAFETY: `buf` is valid for `buf.len()` bytes; the helper writes a
        // NUL-terminated string into it.
        unsafe { bindings::rmigration_symbol(buf.as_mut_ptr(), buf.len(), self.0) };
        let name = CStr::from_bytes_until_nul(&buf).map_err(|_| fmt::Error)?;
        write!(f, "{}", name.to_str().unwrap_or("?"))
    }
}

/// A NUL-padded task name, as text.
pub(crate) struct Comm<'a>(pub(crate) &'a [u8; 16]);

impl fmt::Display for Comm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = CStr::from_bytes_until_nul(self.0).map_err(|_| fmt::Error)?;
        write!(f, "{}", name.to_str().unwrap_or("?"))
    }
}

/// A task name for a trace event: NUL-terminated even if `comm` is not.
fn comm_ptr(comm: &[u8; 16]) -> *const c_char {
    if comm.contains(&0) {
        comm.as_ptr().cast()
    } else {
        c"?".as_char_ptr()
    }
}

fn current_pid() -> i32 {
    // SAFETY: Only reads the pid of the current task.
    unsafe { &*Task::current_raw().cast::<Task>() }.pid()
}

/// A work, as traces and diagnostics show it: `#id name`, or `#id fn`
/// for a work without a name, with the caller if known.
#[derive(Clone, Copy)]
pub(crate) struct Work {
    /// The work's id, per stopper.
    pub(crate) id: u64,
    /// Its function.
    pub(crate) func: usize,
    /// Where it was queued from (0 if unknown).
    pub(crate) caller: usize,
    /// Its name, if it has one.
    pub(crate) name: Option<&'static CStr>,
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} ", self.id)?;
        match self.name {
            Some(name) => write!(f, "({})", name.to_str().unwrap_or("?"))?,
            None => fmt::Display::fmt(&Symbol(self.func), f)?,
        }
        if self.caller != 0 {
            f.write_str(" from ")?;
            fmt::Display::fmt(&Symbol(self.caller), f)?;
        }
        Ok(())
    }
}

/// Work `id` was put on the list of `cpu` by the current task.
pub(crate) fn queued(cpu: CpuId, id: u64) {
    // SAFETY: Plain values.
    unsafe { rmigration_work_queued(cpu.as_u32(), id) };
    if enabled() {
        pr_info!(
            "work #{} queued by {} ({}) on rmigration/{}\n",
            id,
            current_pid(),
            Comm(&sched::current_comm()),
            cpu.as_u32()
        );
    }
}

/// Work `id` is queued and the thread of `cpu` is about to be woken for
/// it, preemption off since the work was queued; `first`: the list was
/// empty, else the work waits behind earlier ones.
pub(crate) fn waking(cpu: CpuId, id: u64, first: bool) {
    // SAFETY: Plain values.
    unsafe { rmigration_work_waking(cpu.as_u32(), id, first) };
    if !enabled() {
        return;
    }
    let behind = if first { "" } else { " (behind earlier works)" };
    pr_info!(
        "work #{} waking rmigration/{}{}\n",
        id,
        cpu.as_u32(),
        behind
    );
}

/// Work `id` of function `func`, queued from `caller`, was refused: the
/// stopper of `cpu` is disabled.
pub(crate) fn refused(
    cpu: CpuId,
    id: u64,
    func: usize,
    caller: usize,
    name: Option<&'static CStr>,
) {
    // SAFETY: Plain values.
    unsafe { rmigration_work_refused(cpu.as_u32(), id, func, caller) };
    if enabled() {
        let work = Work {
            id,
            func,
            caller,
            name,
        };
        pr_info!(
            "work {} refused: CPU {} is offline (-ENOENT)\n",
            work,
            cpu.as_u32()
        );
    }
}

/// Work `id` of the stopper of `cpu` starts running; the log line shows
/// the CPU it really runs on.
pub(crate) fn started(
    cpu: CpuId,
    id: u64,
    func: usize,
    caller: usize,
    name: Option<&'static CStr>,
) {
    let name_ptr = name.map_or(c"".as_char_ptr(), |n| n.as_char_ptr());
    // SAFETY: `name_ptr` points at a static C string.
    unsafe { rmigration_work_started(cpu.as_u32(), id, func, caller, name_ptr) };
    if enabled() {
        let work = Work {
            id,
            func,
            caller,
            name,
        };
        pr_info!(
            "work {} running on CPU {} in {}\n",
            work,
            CpuId::current().as_u32(),
            Comm(&sched::current_comm())
        );
    }
}

/// Work `id` of the stopper of `cpu` returned `ret`, `ns` after it was queued.
pub(crate) fn done(cpu: CpuId, id: u64, ret: c_int, ns: u64) {
    // SAFETY: Plain values.
    unsafe { rmigration_work_done(cpu.as_u32(), id, ret, ns) };
    if enabled() {
        pr_info!(
            "work #{} done on CPU {}: ret={} latency={} ns\n",
            id,
            cpu.as_u32(),
            ret,
            ns
        );
    }
}

/// A migration of task `pid` from `from` to `to` is requested.
pub(crate) fn migrate_request(pid: i32, comm: &[u8; 16], from: CpuId, to: CpuId) {
    // SAFETY: `comm_ptr()` gives a NUL-terminated string.
    unsafe { rmigration_migrate_request(pid, comm_ptr(comm), from.as_u32(), to.as_u32()) };
    if enabled() {
        pr_info!(
            "migrate: pid {} ({}) CPU {} -> {}, requested by {} ({}): work for rmigration/{}\n",
            pid,
            Comm(comm),
            from.as_u32(),
            to.as_u32(),
            current_pid(),
            Comm(&sched::current_comm()),
            from.as_u32()
        );
    }
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Where::Sleeping => "sleeping",
            Where::Queued => "runnable",
            Where::Running => "running",
        })
    }
}

/// What a migration's work did, for [`migrate_done`].
pub(crate) struct Migration<'a> {
    /// The task's pid and name.
    pub(crate) pid: i32,
    pub(crate) comm: &'a [u8; 16],
    /// The CPU whose stopper ran the work, and the destination.
    pub(crate) from: u32,
    pub(crate) to: u32,
    /// Where the task was when the work ran, and on which CPU.
    pub(crate) before: Where,
    pub(crate) before_cpu: u32,
    /// The CPU the task is on after `set_cpus_allowed_ptr()`.
    pub(crate) after_cpu: u32,
    /// The result of `set_cpus_allowed_ptr()`.
    pub(crate) ret: c_int,
    /// From the request to the end of the work, in ns.
    pub(crate) ns: u64,
}

/// A migration's work has run.
pub(crate) fn migrate_done(m: &Migration<'_>) {
    let before = match m.before {
        Where::Sleeping => bindings::RMIGRATION_TASK_SLEEPING,
        Where::Queued => bindings::RMIGRATION_TASK_QUEUED,
        Where::Running => bindings::RMIGRATION_TASK_RUNNING,
    };
    // SAFETY: `comm_ptr()` gives a NUL-terminated string.
    unsafe {
        rmigration_migrate_done(
            m.pid,
            comm_ptr(m.comm),
            m.from,
            m.to,
            c_int::try_from(before).unwrap_or(0),
            m.before_cpu,
            m.after_cpu,
            m.ret,
            m.ns,
        )
    };
    if !enabled() {
        return;
    }
    pr_info!(
        "migrate: pid {} was {} on CPU {}; set_cpus_allowed_ptr(CPU {}) = {}\n",
        m.pid,
        m.before,
        m.before_cpu,
        m.to,
        m.ret
    );
    if m.ret != 0 {
        pr_info!("migrate: pid {} stays where it is, {} ns\n", m.pid, m.ns);
    } else if m.after_cpu == m.to {
        pr_info!("migrate: pid {} now on CPU {}, {} ns\n", m.pid, m.to, m.ns);
    } else {
        pr_info!(
            "migrate: pid {} moves to CPU {} at its next wakeup, {} ns\n",
            m.pid,
            m.to,
            m.ns
        );
    }
}

/// CPUs in ascending order, as the kernel's cpulist format shows them
/// (`0,2-3`).
pub(crate) struct CpuList<I>(pub(crate) I);

impl<I: Iterator<Item = CpuId> + Clone> fmt::Display for CpuList<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cpus = self.0.clone().map(|c| c.as_u32()).peekable();
        let mut first = true;
        while let Some(start) = cpus.next() {
            let mut end = start;
            while cpus.peek() == Some(&(end + 1)) {
                end += 1;
                cpus.next();
            }
            let sep = if first { "" } else { "," };
            first = false;
            if end == start {
                write!(f, "{}{}", sep, start)?;
            } else {
                write!(f, "{}{}-{}", sep, start, end)?;
            }
        }
        Ok(())
    }
}

/// The works of multi-CPU stop `name` are queued on `cpus`, in ascending
/// order.
pub(crate) fn multi_queued(name: &CStr, cpus: impl Iterator<Item = CpuId> + Clone) {
    if enabled() {
        pr_info!(
            "{}: queued on CPUs {} by {} ({})\n",
            name.to_str().unwrap_or("?"),
            CpuList(cpus),
            current_pid(),
            Comm(&sched::current_comm())
        );
    }
}

/// The participant of multi-CPU stop `name` on `cpu` enters `state`
/// (`multi::State` as a number, and its name); `withdrawn`: how many times
/// it left PREPARE before (the log line is for the first arrival only).
///
/// With `text` false the `trace=1` line is left to [`multi_state_text`]:
/// with interrupts off on every participant, nothing is printed.
pub(crate) fn multi_state(
    name: &CStr,
    cpu: CpuId,
    state: c_int,
    state_name: &str,
    withdrawn: u32,
    text: bool,
) {
    // SAFETY: `name` is a C string.
    unsafe { rmigration_multi_state(name.as_char_ptr(), cpu.as_u32(), state, withdrawn) };
    if text && withdrawn == 0 {
        multi_state_text(name, cpu, state_name);
    }
}

/// The `trace=1` line of [`multi_state`], printed later for the states
/// spent with interrupts off.
pub(crate) fn multi_state_text(name: &CStr, cpu: CpuId, state_name: &str) {
    if enabled() {
        pr_info!(
            "{}: CPU {} enters {}\n",
            name.to_str().unwrap_or("?"),
            cpu.as_u32(),
            state_name
        );
    }
}

/// The participant of `name` on `cpu` left PREPARE in `round` before its
/// partners came: another task wanted the CPU (`wanted`), or a partner did
/// not come in time.
pub(crate) fn multi_withdrew(name: &CStr, cpu: CpuId, wanted: bool, round: u32) {
    // SAFETY: `name` is a C string.
    unsafe { rmigration_multi_withdrew(name.as_char_ptr(), cpu.as_u32(), wanted, round) };
    if enabled() {
        pr_info!(
            "{}: CPU {} leaves PREPARE ({}) and sleeps until every participant is ready again\n",
            name.to_str().unwrap_or("?"),
            cpu.as_u32(),
            if wanted {
                "a task wants the CPU"
            } else {
                "a partner did not come in time"
            }
        );
    }
}

/// Multi-CPU stop `name` is done: `ret`, `ns` after queueing; `given_up`
/// if its caller was killed before every participant was there.
pub(crate) fn multi_done(name: &CStr, ret: c_int, ns: u64, given_up: bool) {
    // SAFETY: `name` is a C string.
    unsafe { rmigration_multi_done(name.as_char_ptr(), ret, ns, given_up) };
    if enabled() {
        if given_up {
            pr_info!(
                "{}: given up (the caller was killed), {} ns\n",
                name.to_str().unwrap_or("?"),
                ns
            );
        } else {
            pr_info!(
                "{}: done, ret={}, {} ns\n",
                name.to_str().unwrap_or("?"),
                ret,
                ns
            );
        }
    }
}

/// Work `id` of the stopper of `cpu` was withdrawn before it started.
pub(crate) fn withdrawn(cpu: CpuId, id: u64) {
    // SAFETY: Plain values.
    unsafe { rmigration_work_withdrawn(cpu.as_u32(), id) };
    if enabled() {
        pr_info!(
            "work #{} withdrawn from rmigration/{}: its waiter was killed, it never runs\n",
            id,
            cpu.as_u32()
        );
    }
}

/// A stall of the stopper of `cpu` is reported (the log lines are
/// `stopper::stall`'s); `curr` is the task read on `cpu`, `None` if it
/// could not be read (the event then says pid -1, policy -1).
pub(crate) fn stall(
    cpu: CpuId,
    id: u64,
    waited_ns: u64,
    curr: Option<&sched::Curr>,
    waiting: usize,
) {
    /// What the event says when the task on the CPU could not be read.
    const UNKNOWN: [u8; 16] = *b"?\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    let (pid, comm, policy, prio) = match curr {
        Some(c) => (c.pid, &c.comm, c.policy, c.prio),
        None => (-1, &UNKNOWN, -1, 0),
    };
    // SAFETY: `comm_ptr()` gives a NUL-terminated string.
    unsafe {
        rmigration_stall(
            cpu.as_u32(),
            id,
            waited_ns,
            pid,
            comm_ptr(comm),
            policy,
            prio,
            u32::try_from(waiting).unwrap_or(u32::MAX),
        )
    };
}

/// The stall of the stopper of `cpu` is over after `ns`.
pub(crate) fn stall_end(cpu: CpuId, ns: u64, started: bool) {
    // SAFETY: Plain values.
    unsafe { rmigration_stall_end(cpu.as_u32(), ns, started) };
}

/// A swap of the tasks `pids` is done: each went from its `before` CPU
/// to the other's; `now` is where each is (a sleeping task moves when it
/// wakes).
pub(crate) fn swap_done(
    pids: [i32; 2],
    before: [u32; 2],
    now: [u32; 2],
    ret: c_int,
    rolled_back: bool,
    ns: u64,
) {
    // SAFETY: Plain values.
    unsafe { rmigration_swap(pids[0], before[0], pids[1], before[1], ret, rolled_back) };
    if enabled() && rolled_back {
        pr_info!(
            "swap: pid {} could not move (ret={}): pid {} has its old CPUs back\n",
            pids[1],
            ret,
            pids[0]
        );
    }
    if enabled() {
        pr_info!(
            "swap: pid {} CPU {} -> {} (on {} now), pid {} CPU {} -> {} (on {} now): ret={}, {} ns\n",
            pids[0],
            before[0],
            before[1],
            now[0],
            pids[1],
            before[1],
            before[0],
            now[1],
            ret,
            ns
        );
    }
}
