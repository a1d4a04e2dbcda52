// SPDX-License-Identifier: GPL-2.0

//! rmigration: the kernel's CPU stopper, re-created in a module.
//!
//! One `SCHED_FIFO` kthread per CPU, `rmigration/N`, registered with smpboot
//! like the kernel's `migration/N` (`kernel/stop_machine.c`), each with a
//! spinlock-protected FIFO list of works; [`stopper::stop_one_cpu`] queues a
//! function on a CPU's list, wakes its thread and waits for the result.
//!
//! Unload order is the reverse of the fields below: the threads are stopped
//! (running what is still queued) before the stoppers are freed.

mod bindings;
mod hooks;
mod migrate;
mod sched;
mod smpboot;
mod stopper;
mod trace;

use kernel::prelude::*;

module! {
    type: Rmigration,
    name: "rmigration",
    authors: ["The rmigration developers"],
    description: "The CPU stopper (migration/N threads) re-created as a module",
    license: "GPL",
}

#[pin_data(PinnedDrop)]
struct Rmigration {
    hooks: hooks::Registration,
    #[pin]
    threads: smpboot::Registration<stopper::Threads>,
    stoppers: stopper::Published,
}

impl kernel::InPlaceModule for Rmigration {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            stoppers: stopper::Published::new()?,
            threads <- smpboot::Registration::register(),
            hooks: hooks::Registration::new()?,
        })
        .pin_chain(|_| {
            pr_info!("loaded: one rmigration/N thread per online CPU\n");
            Ok(())
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Rmigration {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("unloading\n");
    }
}
