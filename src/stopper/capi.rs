// SPDX-License-Identifier: GPL-2.0

//! The C API of `include/rmigration.h`.
//!
//! `src/ffi.c` defines and exports `rmigration_stop_one_cpu()`, its
//! `_killable` form and `rmigration_stop_one_cpu_nowait()`, which add their
//! return address (for diagnostics) and call these functions, and
//! `rmigration_stop_two_cpus()` and `rmigration_stop_machine()` with their
//! `_killable` forms (the multi-CPU stops, [`crate::multi`]).

use super::{
    stop_one_cpu,
    stop_one_cpu_nowait, //
};
use crate::{
    bindings::{
        rmigration_fn_t,
        rmigration_work, //
    },
    multi,
};
use kernel::{
    cpu::CpuId,
    cpumask::Cpumask,
    ffi::{
        c_uint,
        c_ulong,
        c_void, //
    },
    prelude::*,
};

/// [`stop_one_cpu`] for the C API: its result, or the errno;
/// `-EINVAL` for a CPU number out of range or a null function.
///
/// # Safety
///
/// The C API contract: `func(arg)` may be called on the thread of `cpu`.
unsafe fn one_cpu(
    cpu: c_uint,
    func: rmigration_fn_t,
    arg: *mut c_void,
    caller: c_ulong,
    killable: bool,
) -> c_int {
    let (Some(cpu), Some(func)) = (CpuId::from_u32(cpu), func) else {
        return EINVAL.to_errno();
    };
    // SAFETY: The caller vouches for `func(arg)` (safety requirements).
    match unsafe { stop_one_cpu(cpu, func, arg, caller, None, killable) } {
        Ok(ret) => ret,
        Err(e) => e.to_errno(),
    }
}

/// `rmigration_stop_one_cpu()`: see [`one_cpu`].
///
/// # Safety
///
/// The C API contract: `func(arg)` may be called on the thread of `cpu`.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_stop_one_cpu(
    cpu: c_uint,
    func: rmigration_fn_t,
    arg: *mut c_void,
    caller: c_ulong,
) -> c_int {
    // SAFETY: By the safety requirements.
    unsafe { one_cpu(cpu, func, arg, caller, false) }
}

/// `rmigration_stop_one_cpu_killable()`: see [`one_cpu`].
///
/// # Safety
///
/// The C API contract: `func(arg)` may be called on the thread of `cpu`.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_stop_one_cpu_killable(
    cpu: c_uint,
    func: rmigration_fn_t,
    arg: *mut c_void,
    caller: c_ulong,
) -> c_int {
    // SAFETY: By the safety requirements.
    unsafe { one_cpu(cpu, func, arg, caller, true) }
}

/// `rmigration_stop_one_cpu_nowait()`: see [`stop_one_cpu_nowait`].
///
/// Returns `false` for a CPU number out of range, a null function or work.
///
/// # Safety
///
/// The C API contract: `func(arg)` may be called on the thread of `cpu`, and
/// `work` stays valid and untouched until `func` starts.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_stop_one_cpu_nowait(
    cpu: c_uint,
    func: rmigration_fn_t,
    arg: *mut c_void,
    work: *mut rmigration_work,
    caller: c_ulong,
) -> bool {
    let (Some(cpu), Some(func)) = (CpuId::from_u32(cpu), func) else {
        return false;
    };
    if work.is_null() {
        return false;
    }
    // SAFETY: The caller vouches for `func(arg)` and `work` (safety requirements).
    unsafe { stop_one_cpu_nowait(cpu, func, arg, work, caller, None) }
}

/// A function and argument of the C API, called from the participants of
/// a multi-CPU stop.
struct CCall {
    func: unsafe extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
}

// SAFETY: The C API contract: `func(arg)` may be called on any
// participating CPU, on several at once for `rmigration_stop_machine()`.
unsafe impl Sync for CCall {}

impl CCall {
    fn call(&self) -> c_int {
        // SAFETY: The C API contract (see `Sync` above).
        unsafe { (self.func)(self.arg) }
    }
}

/// `rmigration_stop_two_cpus()`: see [`multi::stop_two_cpus_with`].
///
/// Returns `-EINVAL` for a CPU number out of range or a null function.
///
/// # Safety
///
/// The C API contract: `func(arg)` may be called on `cpu1` with interrupts
/// off.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_stop_two_cpus(
    cpu1: c_uint,
    cpu2: c_uint,
    func: rmigration_fn_t,
    arg: *mut c_void,
    killable: bool,
) -> c_int {
    let (Some(cpu1), Some(cpu2), Some(func)) = (CpuId::from_u32(cpu1), CpuId::from_u32(cpu2), func)
    else {
        return EINVAL.to_errno();
    };
    let call = CCall { func, arg };
    let run = |_: &multi::Lockstep<'_>| call.call();
    multi::stop_two_cpus_with(
        cpu1,
        cpu2,
        c"rmigration_stop_two_cpus",
        &run,
        killable,
        None,
    )
    .unwrap_or_else(|e| e.to_errno())
}

/// `rmigration_stop_machine()`: see [`multi::stop_machine_with`].
///
/// Returns `-EINVAL` for a null function.
///
/// # Safety
///
/// The C API contract: `func(arg)` may be called on each CPU of `cpus` at
/// once, with interrupts off; `cpus` is null or a valid mask for the call,
/// which nobody writes meanwhile.
#[no_mangle]
unsafe extern "C" fn rmigration_rs_stop_machine(
    func: rmigration_fn_t,
    arg: *mut c_void,
    cpus: *const kernel::bindings::cpumask,
    killable: bool,
) -> c_int {
    let Some(func) = func else {
        return EINVAL.to_errno();
    };
    // SAFETY: A non-null `cpus` is valid for the call, and nobody writes
    // it meanwhile (safety requirements).
    let active = (!cpus.is_null())
        .then(|| multi::Active::Mask(unsafe { multi::SharedMask::new(Cpumask::from_raw(cpus)) }));
    let call = CCall { func, arg };
    let run = |_: &multi::Lockstep<'_>| call.call();
    multi::stop_machine_with(active, c"rmigration_stop_machine", &run, killable, None)
        .unwrap_or_else(|e| e.to_errno())
}
