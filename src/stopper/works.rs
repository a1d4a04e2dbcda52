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

    /// The work at the head, still on the list.
    pub(super) fn first(&self) -> Option<&rmigration_work> {
        // SAFETY: A work on the list is valid while it is there (type
        // invariants), and `&self` keeps it there.
        (!self.head.is_null()).then(|| unsafe { &*self.head })
    }

    /// The works on the list, oldest first, while it is borrowed.
    pub(super) fn iter(&self) -> impl Iterator<Item = &rmigration_work> {
        let mut next = self.head;
        core::iter::from_fn(move || {
            // SAFETY: As in `first`: every work of the chain is valid while
            // the list is borrowed.
            let work = (!next.is_null()).then(|| unsafe { &*next })?;
            next = work.next;
            Some(work)
        })
    }

    /// Takes `work` off the list if it is on it (`list_del()`); returns
    /// whether it was: its owner then has it back, and it never runs.
    pub(super) fn remove(&mut self, work: *mut rmigration_work) -> bool {
        let mut prev: *mut rmigration_work = ptr::null_mut();
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: `cur` is a valid work of this list (type invariants).
            let next = unsafe { (*cur).next };
            if cur == work {
                if prev.is_null() {
                    self.head = next;
                } else {
                    // SAFETY: `prev` is a valid work of this list.
                    unsafe { (*prev).next = next };
                }
                if self.tail == work {
                    self.tail = prev;
                }
                // INVARIANT: The chain skips `work` and still ends at `tail`.
                return true;
            }
            prev = cur;
            cur = next;
        }
        false
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
