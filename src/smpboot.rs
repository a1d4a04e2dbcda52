// SPDX-License-Identifier: GPL-2.0

//! Per-CPU hotplug threads: a safe wrapper of `struct smp_hotplug_thread`.
//!
//! `smpboot_register_percpu_thread()` creates one kthread on every online CPU,
//! bound to it, and keeps the set in step with CPU hotplug: a CPU that comes
//! online gets its thread created (or unparked), a CPU that goes offline gets
//! its thread parked. Each thread runs this loop (`kernel/smpboot.c`):
//!
//! ```text
//! create (once, not on the thread) -> setup (first run, on the thread)
//! loop: should_run? (preemption off) -> run      until park or stop
//! park (CPU going offline, on the thread) ... unpark (CPU back online)
//! cleanup (unregistration, on the thread)
//! ```
//!
//! The C callbacks receive nothing but the CPU number, so the implementor of
//! [`HotplugThread`] keeps its state where a CPU number finds it.
//!
//! C header: [`include/linux/smpboot.h`](srctree/include/linux/smpboot.h)

use crate::bindings;
use core::marker::PhantomData;
use kernel::{
    cpu::CpuId,
    error::{
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
    task::Task,
    types::Opaque,
};

/// The callbacks of a set of per-CPU hotplug threads.
///
/// All but [`HotplugThread::create`] run on the thread itself, on its CPU.
#[vtable]
pub(crate) trait HotplugThread {
    /// Name of the threads, in which `%u` stands for the CPU number; no
    /// other `%` (it is a `printf` format: checked at compile time).
    const NAME: &'static CStr;

    /// Whether the thread of `cpu` has something to [`run`](HotplugThread::run).
    ///
    /// Called with preemption disabled: must not sleep.
    fn should_run(cpu: CpuId) -> bool;

    /// Does what [`should_run`](HotplugThread::should_run) saw; may sleep.
    fn run(cpu: CpuId);

    /// Called once when the thread of `cpu` has been created, while it waits
    /// parked; not called on the thread.
    fn create(_cpu: CpuId, _thread: &Task) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Called on the thread when it first runs.
    fn setup(_cpu: CpuId) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Called on the thread before it parks because `cpu` goes offline.
    fn park(_cpu: CpuId) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Called on the thread when it resumes because `cpu` came back online.
    fn unpark(_cpu: CpuId) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Called on the thread when it stops for good (unregistration); `online`
    /// says whether `cpu` is online then.
    fn cleanup(_cpu: CpuId, _online: bool) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Whether the per-CPU task store of `src/ffi.c` belongs to a [`Registration`].
static STORE_IN_USE: Atomic<bool> = Atomic::new(false);

/// The per-CPU threads of `T`, registered for as long as this object lives.
///
/// The task pointers live in the one per-CPU variable of `src/ffi.c`
/// (`smp_hotplug_thread.store` is a `__percpu` pointer, which Rust cannot
/// express), so at most one registration exists at a time.
///
/// # Invariants
///
/// `ht` holds a `struct smp_hotplug_thread` whose callbacks are the
/// trampolines of `T`, registered with `smpboot_register_percpu_thread()`
/// until [`PinnedDrop::drop`], and this registration owns the task store.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: HotplugThread> {
    #[pin]
    ht: Opaque<bindings::smp_hotplug_thread>,
    _t: PhantomData<T>,
}

// SAFETY: The C side may be unregistered from any thread.
unsafe impl<T: HotplugThread> Send for Registration<T> {}

// SAFETY: A registration has no `&self` methods that touch the C descriptor.
unsafe impl<T: HotplugThread> Sync for Registration<T> {}

impl<T: HotplugThread> Registration<T> {
    /// Creates and starts one thread of `T` on every online CPU.
    ///
    /// Fails with `EBUSY` if another registration exists, or with the error
    /// of `smpboot_register_percpu_thread()` (no thread is left then).
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ht <- Opaque::try_ffi_init(|slot: *mut bindings::smp_hotplug_thread| {
                if STORE_IN_USE.xchg(true, Relaxed) {
                    return Err(EBUSY);
                }
                // SAFETY: `slot` is valid for writes. The callbacks are `T`'s
                // trampolines, which stay valid as long as the module.
                unsafe { slot.write(VTable::<T>::build()) };
                // SAFETY: `slot` holds a complete descriptor and is pinned: it
                // is unregistered in `drop` before its memory goes away.
                // INVARIANT: On success the descriptor is registered.
                let ret = to_result(unsafe { bindings::smpboot_register_percpu_thread(slot) });
                if ret.is_err() {
                    STORE_IN_USE.store(false, Relaxed);
                }
                ret
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T: HotplugThread> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the descriptor is registered. This
        // stops every thread (parked ones too) and returns when they are gone.
        unsafe { bindings::smpboot_unregister_percpu_thread(self.ht.get()) };
        STORE_IN_USE.store(false, Relaxed);
    }
}

/// Whether `name` may be handed to `kthread_create_on_cpu()` as its
/// format: no conversion but at most one `%u` (the CPU number).
const fn comm_format_ok(name: &CStr) -> bool {
    let b = name.to_bytes();
    let mut i = 0;
    let mut cpus = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 1 < b.len() && b[i + 1] == b'u' {
                cpus += 1;
                i += 2;
                continue;
            }
            return false;
        }
        i += 1;
    }
    cpus <= 1
}

/// The `extern "C"` callbacks of `T`.
struct VTable<T: HotplugThread>(PhantomData<T>);

impl<T: HotplugThread> VTable<T> {
    fn build() -> bindings::smp_hotplug_thread {
        // `thread_comm` is a printf format: checked at compile time.
        const {
            assert!(
                comm_format_ok(T::NAME),
                "HotplugThread::NAME may hold no `%` but one `%u`"
            )
        };
        bindings::smp_hotplug_thread {
            // SAFETY: Returns the address of a static per-CPU variable.
            store: unsafe { bindings::rmigration_thread_store() },
            thread_should_run: Some(Self::thread_should_run),
            thread_fn: Some(Self::thread_fn),
            create: T::HAS_CREATE.then_some(Self::create as unsafe extern "C" fn(c_uint)),
            setup: T::HAS_SETUP.then_some(Self::setup as unsafe extern "C" fn(c_uint)),
            park: T::HAS_PARK.then_some(Self::park as unsafe extern "C" fn(c_uint)),
            unpark: T::HAS_UNPARK.then_some(Self::unpark as unsafe extern "C" fn(c_uint)),
            cleanup: T::HAS_CLEANUP.then_some(Self::cleanup as unsafe extern "C" fn(c_uint, bool)),
            selfparking: false,
            thread_comm: T::NAME.as_char_ptr(),
            ..Default::default()
        }
    }

    /// # Safety
    ///
    /// `cpu` must be a possible CPU: smpboot passes the CPU of the thread.
    unsafe fn cpu(cpu: c_uint) -> CpuId {
        // SAFETY: By the safety requirements `cpu` is below `nr_cpu_ids`.
        unsafe { CpuId::from_u32_unchecked(cpu) }
    }

    /// # Safety
    ///
    /// Called by smpboot only, with the CPU of the calling thread.
    unsafe extern "C" fn thread_should_run(cpu: c_uint) -> c_int {
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        c_int::from(T::should_run(unsafe { Self::cpu(cpu) }))
    }

    /// # Safety
    ///
    /// Called by smpboot only, with the CPU of the calling thread.
    unsafe extern "C" fn thread_fn(cpu: c_uint) {
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        T::run(unsafe { Self::cpu(cpu) })
    }

    /// # Safety
    ///
    /// Called by smpboot only, after it stored the new thread of `cpu`.
    unsafe extern "C" fn create(cpu: c_uint) {
        // SAFETY: smpboot stored the thread's task before calling `create`.
        let task = unsafe { bindings::rmigration_thread_on(cpu) };
        if task.is_null() {
            return;
        }
        // SAFETY: `Task` is a transparent wrapper of `task_struct`, and smpboot
        // holds a reference on the task until the thread is stopped.
        let task = unsafe { &*task.cast::<Task>() };
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        T::create(unsafe { Self::cpu(cpu) }, task)
    }

    /// # Safety
    ///
    /// Called by smpboot only, with the CPU of the calling thread.
    unsafe extern "C" fn setup(cpu: c_uint) {
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        T::setup(unsafe { Self::cpu(cpu) })
    }

    /// # Safety
    ///
    /// Called by smpboot only, with the CPU of the calling thread.
    unsafe extern "C" fn park(cpu: c_uint) {
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        T::park(unsafe { Self::cpu(cpu) })
    }

    /// # Safety
    ///
    /// Called by smpboot only, with the CPU of the calling thread.
    unsafe extern "C" fn unpark(cpu: c_uint) {
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        T::unpark(unsafe { Self::cpu(cpu) })
    }

    /// # Safety
    ///
    /// Called by smpboot only, with the CPU of the calling thread.
    unsafe extern "C" fn cleanup(cpu: c_uint, online: bool) {
        // SAFETY: By the safety requirements `cpu` is the thread's CPU.
        T::cleanup(unsafe { Self::cpu(cpu) }, online)
    }
}
