// SPDX-License-Identifier: GPL-2.0

//! rmigration: the kernel's CPU stopper, re-created in a module.
//!
//! One `SCHED_FIFO` kthread per CPU, `rmigration/N`, registered with smpboot
//! like the kernel's `migration/N` (`kernel/stop_machine.c`), each with a
//! spinlock-protected FIFO list of works; [`stopper::stop_one_cpu`] queues a
//! function on a CPU's list, wakes its thread and waits for the result.
//!
//! Loading publishes the stoppers, registers the threads, then enables
//! the stoppers of the online CPUs ([`stopper::Online`]) and creates the
//! hooks: once `insmod` returns, every online CPU accepts works.
//! Unloading drops the fields below in their order: the hooks (removal
//! waits for writers), the stall watchdog, the hotplug state that enables
//! stoppers, the threads (each runs what is still queued on its CPU, then
//! stops), a report of the counters, and last the stoppers.
//!
//! A thread kept off its CPU (a `SCHED_FIFO` 99 task there) keeps `rmmod`
//! waiting, uninterruptibly, while the hotplug state is removed (its
//! teardown waits for the queued works) or the threads are stopped, until
//! the CPU is free again: the thread then runs what is queued on it and
//! stops. Nothing is lost meanwhile; a work that waited
//! `stall_timeout_ms` before the unload began was reported.

mod bindings;
mod cpus;
mod hooks;
mod migrate;
mod multi;
mod sched;
mod smpboot;
mod stopper;
mod trace;

use kernel::{
    prelude::*,
    sync::atomic::Relaxed, //
};

module! {
    type: Rmigration,
    name: "rmigration",
    authors: ["The rmigration developers"],
    description: "The CPU stopper (migration/N threads) re-created as a module",
    license: "GPL",
}

#[pin_data]
struct Rmigration {
    hooks: hooks::Registration,
    watchdog: stopper::Watchdog,
    /// Before `threads`: dropping it disables and drains every stopper
    /// while the threads still run.
    online: stopper::Online,
    #[pin]
    threads: smpboot::Registration<stopper::Threads>,
    report: UnloadReport,
    stoppers: stopper::Published,
}

/// Logs what the stoppers did, once the threads are gone (and so every
/// queued work has run) and before the stoppers are freed.
struct UnloadReport;

impl Drop for UnloadReport {
    fn drop(&mut self) {
        let (queued, run, enoent) = stopper::totals();
        let m = &migrate::STATS;
        pr_info!(
            "unloaded: {} works queued, {} run, {} refused (-ENOENT); migrations: {} done, {} failed, {} works, {} refused\n",
            queued,
            run,
            enoent,
            m.done.load(Relaxed),
            m.failed.load(Relaxed),
            m.works.load(Relaxed),
            m.refused.load(Relaxed)
        );
    }
}

impl kernel::InPlaceModule for Rmigration {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            stoppers: stopper::Published::new()?,
            watchdog: stopper::Watchdog::new(),
            threads <- smpboot::Registration::register(),
            online: stopper::Online::new()?,
            report: UnloadReport,
            hooks: hooks::Registration::new()?,
        })
        .pin_chain(|_| {
            pr_info!("loaded: one rmigration/N thread per online CPU\n");
            Ok(())
        })
    }
}
