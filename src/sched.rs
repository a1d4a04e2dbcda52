// SPDX-License-Identifier: GPL-2.0

//! The scheduler and kthread functions rmigration uses that the kernel crate
//! does not wrap: the one place where the rest of the module gets them safely.

use crate::bindings as ffi_bindings;
use kernel::{
    bindings,
    cpu::CpuId,
    error::to_result,
    prelude::*,
    task::Task,
};

/// Monotonic time in ns (`ktime_get()`).
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get()` may be called from any context.
    let ns = unsafe { bindings::ktime_get() };
    u64::try_from(ns).unwrap_or(0)
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

/// The name (`comm`) of the current task.
pub(crate) fn current_comm() -> [u8; 16] {
    let mut comm = [0u8; 16];
    // SAFETY: `current` is valid; its `comm` is a NUL-terminated array that
    // may change under us (prctl), as `%s` of `current->comm` reads it too.
    let src = unsafe { &(*Task::current_raw()).comm };
    comm.copy_from_slice(src);
    comm[15] = 0;
    comm
}
