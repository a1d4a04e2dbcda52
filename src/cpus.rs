// SPDX-License-Identifier: GPL-2.0

//! Sets of CPUs of any number: a CPU mask that several CPUs add
//! themselves to at once ([`CpuSet`]), and every CPU number
//! ([`all_cpus`]).
//!
//! The hooks and the multi-CPU stops record which CPUs did what; a `u64`
//! bitmap would stop at CPU 63, where machines have hundreds or thousands
//! of CPUs. A [`CpuSet`] is a `cpumask_var_t`, sized by the kernel
//! (`nr_cpu_ids`), allocated when `CONFIG_CPUMASK_OFFSTACK` says so.

use kernel::{
    bindings,
    cpu::{
        nr_cpu_ids,
        CpuId, //
    },
    cpumask::CpumaskVar,
    prelude::*,
};

/// Every possible CPU number, in ascending order: `0..nr_cpu_ids`
/// (possible CPUs may have gaps: those are not [`CpuId`]s either).
pub(crate) fn all_cpus() -> impl Iterator<Item = CpuId> + Clone {
    (0..nr_cpu_ids()).filter_map(CpuId::from_u32)
}

/// A set of CPUs that CPUs may add themselves to at once, as the kernel
/// does with `cpumask_set_cpu()`, and that anyone may test meanwhile.
///
/// Only atomic bit operations reach the mask (`set_bit()`, `test_bit()`):
/// whole-mask reads such as `cpumask_weight()` would race with an adder,
/// and a `&mut Cpumask` of an allocated mask (`CONFIG_CPUMASK_OFFSTACK`)
/// spans `NR_CPUS` bits where only `nr_cpu_ids` were allocated, so
/// neither is handed out.
///
/// # Invariants
///
/// The mask is accessed only by `cpumask_set_cpu()` and
/// `cpumask_test_cpu()` of CPUs below `nr_cpu_ids`.
pub(crate) struct CpuSet(CpumaskVar);

impl CpuSet {
    /// An empty set; allocates with `CONFIG_CPUMASK_OFFSTACK`.
    pub(crate) fn new() -> Result<Self> {
        // INVARIANT: Nothing accessed it yet.
        Ok(Self(CpumaskVar::new_zero(GFP_KERNEL)?))
    }

    /// Adds `cpu`, atomically: others may add theirs at the same time.
    pub(crate) fn add(&self, cpu: CpuId) {
        // SAFETY: The mask is valid; `cpumask_set_cpu()` is an atomic
        // `set_bit()` of a bit below `nr_cpu_ids`, which a `CpuId` is.
        unsafe { bindings::cpumask_set_cpu(u32::from(cpu), self.0.as_raw()) };
    }

    /// Whether `cpu` is in the set.
    pub(crate) fn has(&self, cpu: CpuId) -> bool {
        self.0.test(cpu)
    }

    /// Whether both sets hold the same CPUs.
    pub(crate) fn is(&self, other: &CpuSet) -> bool {
        all_cpus().all(|cpu| self.has(cpu) == other.has(cpu))
    }

    /// Its CPUs, in ascending order.
    pub(crate) fn cpus(&self) -> impl Iterator<Item = CpuId> + Clone + '_ {
        all_cpus().filter(|&cpu| self.has(cpu))
    }
}

// SAFETY: The set owns its mask (`free_cpumask_var()` may run on any
// CPU), and nothing in it is tied to the thread that made it.
unsafe impl Send for CpuSet {}

// SAFETY: Through `&CpuSet` the mask is only reached by atomic bit
// operations (type invariants): `set_bit()` and `test_bit()` may run on
// the same word at once on several CPUs (`Documentation/atomic_bitops.txt`),
// and a tester sees each bit set or not.
unsafe impl Sync for CpuSet {}

// `CpumaskVar` is `!Unpin` without `CONFIG_CPUMASK_OFFSTACK` only because
// `Opaque` is: a bitmap has no self-references, and no C code keeps a
// set's address beyond a call, so a set may move. The records of the
// hooks, which hold sets, are replaced through a lock guard, which gives
// `&mut` only to `Unpin` data.
impl Unpin for CpuSet {}
