// SPDX-License-Identifier: GPL-2.0

//! Sets of CPUs of any number: a CPU mask that several CPUs add
//! themselves to at once ([`CpuSet`]), and the CPUs of a mask in order
//! ([`cpus_in`]).
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
    cpumask::{
        Cpumask,
        CpumaskVar, //
    },
    prelude::*,
};

/// The CPUs of `mask`, in ascending order.
pub(crate) fn cpus_in(mask: &Cpumask) -> impl Iterator<Item = CpuId> + Clone + '_ {
    (0..nr_cpu_ids())
        .filter_map(CpuId::from_u32)
        .filter(move |&cpu| mask.test(cpu))
}

/// A set of CPUs that CPUs may add themselves to at once, as the kernel
/// does with `cpumask_set_cpu()`, and that anyone may read meanwhile.
///
/// # Invariants
///
/// The mask is written only by [`CpuSet::add`] (an atomic `set_bit()`),
/// or through `&mut self`.
pub(crate) struct CpuSet(CpumaskVar);

impl CpuSet {
    /// An empty set; allocates with `CONFIG_CPUMASK_OFFSTACK`.
    pub(crate) fn new() -> Result<Self> {
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

    /// How many CPUs are in the set.
    pub(crate) fn weight(&self) -> u32 {
        self.0.weight()
    }

    /// Whether the set holds exactly the CPUs of `mask`.
    pub(crate) fn is(&self, mask: &Cpumask) -> bool {
        (0..nr_cpu_ids())
            .filter_map(CpuId::from_u32)
            .all(|cpu| self.has(cpu) == mask.test(cpu))
    }

    /// The set as a mask, to read.
    pub(crate) fn mask(&self) -> &Cpumask {
        &self.0
    }

    /// The set as a mask, to fill in before it is shared.
    pub(crate) fn mask_mut(&mut self) -> &mut Cpumask {
        &mut self.0
    }

    /// Its CPUs, in ascending order.
    pub(crate) fn cpus(&self) -> impl Iterator<Item = CpuId> + Clone + '_ {
        cpus_in(&self.0)
    }
}

// SAFETY: The set owns its mask (`free_cpumask_var()` may run on any
// CPU), and nothing in it is tied to the thread that made it.
unsafe impl Send for CpuSet {}

// SAFETY: Through `&CpuSet` the mask is only read (`test_bit()`) or
// written by atomic `set_bit()` (type invariants): concurrent readers and
// adders are what the kernel's own cpumasks see (`cpumask_set_cpu()`
// against `cpumask_test_cpu()`), and a reader sees each bit set or not.
unsafe impl Sync for CpuSet {}

// A mask's address is given to C only for the length of a call: the set
// may move between uses, as a `cpumask_var_t` is copied by value, and a
// record that holds sets may be replaced under a lock.
impl Unpin for CpuSet {}
