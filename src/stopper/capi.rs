// SPDX-License-Identifier: GPL-2.0

//! The C API of `include/rmigration.h`.
//!
//! `src/ffi.c` defines and exports `rmigration_stop_one_cpu()` and
//! `rmigration_stop_one_cpu_nowait()`, which add their return address (for
//! diagnostics) and call these functions.

use super::{
    stop_one_cpu,
    stop_one_cpu_nowait, //
};
use crate::bindings::{
    rmigration_fn_t,
    rmigration_work, //
};
use kernel::{
    cpu::CpuId,
    ffi::{
        c_uint,
        c_ulong,
        c_void, //
    },
    prelude::*,
};

/// `rmigration_stop_one_cpu()`: see [`stop_one_cpu`].
///
/// Returns `-EINVAL` for a CPU number out of range or a null function.
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
    let (Some(cpu), Some(func)) = (CpuId::from_u32(cpu), func) else {
        return EINVAL.to_errno();
    };
    // SAFETY: The caller vouches for `func(arg)` (safety requirements).
    match unsafe { stop_one_cpu(cpu, func, arg, caller, None) } {
        Ok(ret) => ret,
        Err(e) => e.to_errno(),
    }
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
