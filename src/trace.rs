// SPDX-License-Identifier: GPL-2.0

//! Traces: with the module parameter `trace=1` (also writable at run time in
//! `/sys/module/rmigration/parameters/trace`), one kernel log line per step
//! of every work: queued -> woken -> started -> done, or refused.

use crate::{
    bindings,
    migrate::Outcome,
    sched::{
        self,
        Where, //
    },
    stopper::Running, //
};
use kernel::{
    cpu::CpuId,
    fmt,
    prelude::*,
    task::Task, //
};

/// Whether tracing is on.
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

fn current_pid() -> i32 {
    // SAFETY: Only reads the pid of the current task.
    unsafe { &*Task::current_raw().cast::<Task>() }.pid()
}

/// Work `id` was put on the list of `cpu` by the current task.
pub(crate) fn queued(cpu: CpuId, id: u64) {
    if enabled() {
        pr_info!(
            "work #{} queued by {} ({}) on rmigration/{}\n",
            id,
            current_pid(),
            Comm(&sched::current_comm()),
            u32::from(cpu)
        );
    }
}

/// The thread of `cpu` is being woken for work `id` (`wake`), or was
/// woken already for the works queued before it.
pub(crate) fn waking(cpu: CpuId, id: u64, wake: bool) {
    if !enabled() {
        return;
    }
    if wake {
        pr_info!("work #{} waking rmigration/{}\n", id, u32::from(cpu));
    } else {
        pr_info!(
            "work #{} behind others: rmigration/{} already woken\n",
            id,
            u32::from(cpu)
        );
    }
}

/// Work `id` was refused: the stopper of `cpu` is disabled.
pub(crate) fn refused(cpu: CpuId, id: u64) {
    if enabled() {
        pr_info!(
            "work #{} refused: CPU {} is offline (-ENOENT)\n",
            id,
            u32::from(cpu)
        );
    }
}

/// A work, as traces and diagnostics show it: `#id name`, or `#id fn`
/// for a work without a name, with the caller if known.
pub(crate) struct Work<'a>(pub(crate) &'a Running);

impl fmt::Display for Work<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        write!(f, "#{} ", r.id)?;
        match r.name {
            Some(name) => write!(f, "({})", name.to_str().unwrap_or("?"))?,
            None => fmt::Display::fmt(&Symbol(r.func), f)?,
        }
        if r.caller != 0 {
            f.write_str(" from ")?;
            fmt::Display::fmt(&Symbol(r.caller), f)?;
        }
        Ok(())
    }
}

/// A work starts running; the line shows the CPU it really runs on.
pub(crate) fn started(work: &Running) {
    if enabled() {
        pr_info!(
            "work {} running on CPU {} in {}\n",
            Work(work),
            CpuId::current().as_u32(),
            Comm(&sched::current_comm())
        );
    }
}

/// Work `id` returned `ret`, `ns` after it was queued.
pub(crate) fn done(cpu: CpuId, id: u64, ret: c_int, ns: u64) {
    if enabled() {
        pr_info!(
            "work #{} done on CPU {}: ret={} latency={} ns\n",
            id,
            u32::from(cpu),
            ret,
            ns
        );
    }
}

/// A migration of task `pid` from `from` to `to` is requested.
pub(crate) fn migrate_request(pid: i32, comm: &[u8; 16], from: CpuId, to: CpuId) {
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

/// A migration's work has run.
pub(crate) fn migrate_done(o: &Outcome) {
    if !enabled() {
        return;
    }
    pr_info!(
        "migrate: pid {} was {} on CPU {}; set_cpus_allowed_ptr(CPU {}) = {}\n",
        o.pid,
        o.before,
        o.before_cpu,
        o.to,
        o.ret
    );
    if o.ret != 0 {
        pr_info!("migrate: pid {} stays where it is, {} ns\n", o.pid, o.ns);
    } else if o.arrived() {
        pr_info!("migrate: pid {} now on CPU {}, {} ns\n", o.pid, o.to, o.ns);
    } else {
        pr_info!(
            "migrate: pid {} moves to CPU {} at its next wakeup, {} ns\n",
            o.pid,
            o.to,
            o.ns
        );
    }
}
