// SPDX-License-Identifier: GPL-2.0

//! The FIFO list of works of one stopper.

use crate::bindings::rmigration_work;
use core::ptr;

/// A FIFO list of works linked through their `next` field.
///
/// The works belong to their queuers, who keep them alive and untouched from
/// [`WorkList::push_back`] until the stopper takes them off the list.
///
/// # Invariants
///
/// `head` is the first work of a chain of `next` pointers whose last work is
/// `tail` and has a null `next`; both are null when the list is empty. Every
/// work on the chain is valid and on this list only.
pub(super) struct WorkList {
    head: *mut rmigration_work,
    tail: *mut rmigration_work,
}

// SAFETY: The works are owned by their queuers, on any thread, and stay valid
// until popped (type invariants); a list can be used from any thread.
unsafe impl Send for WorkList {}

impl WorkList {
    /// An empty list.
    pub(super) const fn new() -> Self {
        // INVARIANT: An empty list has null ends.
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
        }
    }

    /// Whether the list holds no work.
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Adds `work` at the tail (`list_add_tail()`).
    ///
    /// # Safety
    ///
    /// `work` must be valid, on no list, and stay valid and untouched by its
    /// owner until [`WorkList::pop_front`] returns it.
    pub(super) unsafe fn push_back(&mut self, work: *mut rmigration_work) {
        // SAFETY: `work` is valid (safety requirements) and not shared yet.
        unsafe { (*work).next = ptr::null_mut() };
        if self.tail.is_null() {
            self.head = work;
        } else {
            // SAFETY: `tail` is a valid work of this list (type invariants).
            unsafe { (*self.tail).next = work };
        }
        // INVARIANT: `work` is valid, ends the chain and has a null `next`.
        self.tail = work;
    }

    /// Takes the work at the head off the list; its owner has it back.
    pub(super) fn pop_front(&mut self) -> Option<*mut rmigration_work> {
        if self.head.is_null() {
            return None;
        }
        let work = self.head;
        // SAFETY: `head` is a valid work of this list (type invariants).
        // INVARIANT: The chain now starts at the next work, or is empty.
        self.head = unsafe { (*work).next };
        if self.head.is_null() {
            self.tail = ptr::null_mut();
        }
        Some(work)
    }
}
