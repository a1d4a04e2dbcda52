/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rmigration: a CPU stopper in a module.
 *
 * The C API of rmigration.ko for other modules, modelled on stop_one_cpu(),
 * stop_one_cpu_nowait(), stop_two_cpus() and stop_machine() of
 * <linux/stop_machine.h>. A work runs in the rmigration/N thread of its
 * CPU, a SCHED_FIFO kthread bound to that CPU.
 */
#ifndef _RMIGRATION_H
#define _RMIGRATION_H

#include <linux/types.h>

/**
 * typedef rmigration_fn_t - a function run by an rmigration thread
 * @arg: the argument given when the work was queued
 *
 * Runs in thread context on the CPU the work was queued on, with preemption
 * enabled: unlike the kernel's stopper it may sleep, but it delays every
 * later work of that CPU while it runs, and it must not take the CPU hotplug
 * lock (cpus_read_lock()), since hotplug waits for the thread to park. It
 * must not wait for other works: the waiting calls below return -EDEADLK
 * from a work (rmigration_stop_one_cpu_nowait() may be used). Lockdep
 * sees works as one lock, "rmigration_work", held while a work runs and
 * taken by every waiting caller before it waits: a lock held around a
 * wait and taken by a work is reported as a circular dependency.
 *
 * RETURNS: the value rmigration_stop_one_cpu() returns to its caller.
 */
typedef int (*rmigration_fn_t)(void *arg);

struct rmigration_done;

/**
 * struct rmigration_work - a queued call of an rmigration_fn_t
 * @next: the next work in the stopper's FIFO list (private)
 * @fn: the function to run
 * @arg: its argument
 * @done: completion record of a waiting caller, NULL for _nowait (private)
 * @caller: return address of the queueing call, for diagnostics
 * @name: what the work does, for traces; NULL shows @fn's symbol (private)
 * @id: sequence number, shown in traces (private)
 * @queued_ns: ktime_get() when queued, for latency figures (private)
 * @queuer_pid: pid of the task that queued it, for stall reports (private)
 * @queuer_comm: its name (private)
 *
 * The caller of rmigration_stop_one_cpu_nowait() owns it and must keep it
 * unchanged from the call until @fn starts running.
 */
struct rmigration_work {
	struct rmigration_work	*next;
	rmigration_fn_t		fn;
	void			*arg;
	struct rmigration_done	*done;
	unsigned long		caller;
	const char		*name;
	u64			id;
	u64			queued_ns;
	int			queuer_pid;
	char			queuer_comm[16];
};

struct cpumask;

/*
 * Waiting. rmigration_stop_one_cpu(), rmigration_stop_two_cpus() and
 * rmigration_stop_machine() wait uninterruptibly, as the kernel's
 * stop_one_cpu() and stop_machine() do. Unlike migration/N, an
 * rmigration/N thread can be kept off its CPU (by a SCHED_FIFO 99 task,
 * a deadline task, a long work queued before): the wait then lasts as
 * long, and the module reports it in the kernel log once the work has
 * waited rmigration.stall_timeout_ms. The _killable forms end the wait on
 * a fatal signal: a work that has not started is withdrawn (it never
 * runs) and they return -EINTR; a work that has started is waited for.
 */
int rmigration_stop_one_cpu(unsigned int cpu, rmigration_fn_t fn, void *arg);
int rmigration_stop_one_cpu_killable(unsigned int cpu, rmigration_fn_t fn, void *arg);
bool rmigration_stop_one_cpu_nowait(unsigned int cpu, rmigration_fn_t fn,
				    void *arg, struct rmigration_work *work);
int rmigration_stop_two_cpus(unsigned int cpu1, unsigned int cpu2,
			     rmigration_fn_t fn, void *arg);
int rmigration_stop_two_cpus_killable(unsigned int cpu1, unsigned int cpu2,
				      rmigration_fn_t fn, void *arg);
int rmigration_stop_machine(rmigration_fn_t fn, void *arg,
			    const struct cpumask *cpus);
int rmigration_stop_machine_killable(rmigration_fn_t fn, void *arg,
				     const struct cpumask *cpus);

#endif /* _RMIGRATION_H */
