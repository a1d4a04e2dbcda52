// SPDX-License-Identifier: GPL-2.0

//! The kernel crate's atomics (`kernel::sync::atomic`), as far as
//! `src/multi/machine.rs` uses them, over loom's: the same names, methods
//! and orderings, so that the file compiles here unchanged and loom sees
//! each of its accesses.
//!
//! The orderings map as the kernel implements them: `Relaxed`, `Acquire`
//! and `Release` to the same of `core`, and `Full` (a fully ordered
//! operation, `smp_mb()` on both sides) to `SeqCst`, which loom checks as
//! `AcqRel`: weaker than the kernel's, so an execution that loom allows
//! and the kernel does not can only be a false alarm, never a fault
//! missed. A failed `cmpxchg` orders nothing, as in the kernel.

use loom::sync::atomic::{
    AtomicU32,
    AtomicU64,
    Ordering, //
};
use std::sync::atomic::{
    AtomicBool as Flag,
    AtomicU64 as Counter, //
};

/// How many changes the model has seen: stores and successful
/// `cmpxchg`s of [`Atomic`], and the model's own steps ([`progress`]).
/// Not loom's: it orders nothing, and only tells a spinner whether
/// anything changed since its last spin (`model::Cpu::spin()`).
static CHANGES: Counter = Counter::new(0);

/// Whether an `Acquire` load reads the newest value (see [`newest_loads`]).
static NEWEST: Flag = Flag::new(false);

/// With `on`, an `Acquire` load reads the newest value stored, as a
/// `SeqCst` load does in loom (which orders no more than `Acquire`),
/// instead of any value that coherence allows: a bound on the model, for
/// the checks that would be too long without it. `Relaxed` loads are
/// left as they are (a `SeqCst` one would acquire).
pub(crate) fn newest_loads(on: bool) {
    NEWEST.store(on, Ordering::Relaxed);
}

/// Counts a change.
pub(crate) fn progress() {
    CHANGES.fetch_add(1, Ordering::Relaxed);
}

/// The changes so far.
pub(crate) fn changes() -> u64 {
    CHANGES.load(Ordering::Relaxed)
}

/// An ordering of the kernel crate's atomics.
pub(crate) trait Order {
    /// The ordering loom checks it as.
    const ORDERING: Ordering;
}

/// No ordering (`READ_ONCE()`, `WRITE_ONCE()`, `*_relaxed()`).
pub(crate) struct Relaxed;
/// Acquire (`smp_load_acquire()`, `*_acquire()`).
pub(crate) struct Acquire;
/// Release (`smp_store_release()`, `*_release()`).
#[expect(dead_code)]
pub(crate) struct Release;
/// Fully ordered (`cmpxchg()`, `xchg()`, `atomic_*_return()`).
pub(crate) struct Full;

impl Order for Relaxed {
    const ORDERING: Ordering = Ordering::Relaxed;
}
impl Order for Acquire {
    const ORDERING: Ordering = Ordering::Acquire;
}
impl Order for Release {
    const ORDERING: Ordering = Ordering::Release;
}
impl Order for Full {
    const ORDERING: Ordering = Ordering::SeqCst;
}

/// The orderings a load may have (the kernel's `AcquireOrRelaxed`).
pub(crate) trait LoadOrder: Order {}
impl LoadOrder for Relaxed {}
impl LoadOrder for Acquire {}

/// The orderings a store may have (the kernel's `ReleaseOrRelaxed`).
pub(crate) trait StoreOrder: Order {}
impl StoreOrder for Relaxed {}
impl StoreOrder for Release {}

/// A type that [`Atomic`] holds, with loom's atomic of its size.
pub(crate) trait AtomicType: Copy {
    /// Loom's atomic of this size.
    type Repr;
    fn new(v: Self) -> Self::Repr;
    fn load(a: &Self::Repr, o: Ordering) -> Self;
    fn store(a: &Self::Repr, v: Self, o: Ordering);
    fn cmpxchg(a: &Self::Repr, old: Self, new: Self, o: Ordering) -> Result<Self, Self>;
}

macro_rules! atomic_type {
    ($t:ty, $repr:ty) => {
        impl AtomicType for $t {
            type Repr = $repr;
            fn new(v: Self) -> Self::Repr {
                <$repr>::new(v)
            }
            fn load(a: &Self::Repr, o: Ordering) -> Self {
                a.load(o)
            }
            fn store(a: &Self::Repr, v: Self, o: Ordering) {
                a.store(v, o)
            }
            fn cmpxchg(a: &Self::Repr, old: Self, new: Self, o: Ordering) -> Result<Self, Self> {
                a.compare_exchange(old, new, o, Ordering::Relaxed)
            }
        }
    };
}

atomic_type!(u32, AtomicU32);
atomic_type!(u64, AtomicU64);

/// `kernel::sync::atomic::Atomic`, over loom's atomics.
pub(crate) struct Atomic<T: AtomicType>(T::Repr);

impl<T: AtomicType> Atomic<T> {
    pub(crate) fn new(v: T) -> Self {
        Self(T::new(v))
    }

    pub(crate) fn load<O: LoadOrder>(&self, _: O) -> T {
        let o = match O::ORDERING {
            Ordering::Acquire if NEWEST.load(Ordering::Relaxed) => Ordering::SeqCst,
            o => o,
        };
        T::load(&self.0, o)
    }

    pub(crate) fn store<O: StoreOrder>(&self, v: T, _: O) {
        T::store(&self.0, v, O::ORDERING);
        progress();
    }

    /// Stores `new` if the value is `old`: `Ok(old)`, else `Err(value)`.
    pub(crate) fn cmpxchg<O: Order>(&self, old: T, new: T, _: O) -> Result<T, T> {
        let r = T::cmpxchg(&self.0, old, new, O::ORDERING);
        if r.is_ok() {
            progress();
        }
        r
    }
}
