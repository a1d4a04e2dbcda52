// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of rmigration cannot express: a static per-CPU
 * variable, a module parameter visible and writable in sysfs, and the
 * exports of the C API.
 */

#include <linux/export.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <uapi/linux/sched/types.h>

#include "ffi.h"

static DEFINE_PER_CPU(struct task_struct *, rmigration_thread);

struct task_struct *__percpu *rmigration_thread_store(void)
{
	return &rmigration_thread;
}

struct task_struct *rmigration_thread_on(unsigned int cpu)
{
	return per_cpu(rmigration_thread, cpu);
}

/*
 * Rust module parameters of this kernel are not shown in sysfs; this one is,
 * and may be changed at run time.
 */
static bool trace;
module_param(trace, bool, 0644);
MODULE_PARM_DESC(trace, "Print one line per step of every work to the kernel log (default: off)");

bool rmigration_trace_enabled(void)
{
	return READ_ONCE(trace);
}

/* struct sched_attr is not in the kernel crate's bindings. */
int rmigration_set_fifo_max(struct task_struct *p)
{
	struct sched_attr attr = {
		.sched_policy	= SCHED_FIFO,
		.sched_priority	= MAX_RT_PRIO - 1,
	};

	return sched_setattr_nocheck(p, &attr);
}

/* The printk %ps of @addr, for Rust formatting. */
void rmigration_symbol(char *buf, size_t len, unsigned long addr)
{
	snprintf(buf, len, "%ps", (void *)addr);
}

/* The C API, implemented in Rust (src/stopper/capi.rs). */
int rmigration_rs_stop_one_cpu(unsigned int cpu, rmigration_fn_t fn, void *arg,
			       unsigned long caller);
bool rmigration_rs_stop_one_cpu_nowait(unsigned int cpu, rmigration_fn_t fn,
				       void *arg, struct rmigration_work *work,
				       unsigned long caller);

/**
 * rmigration_stop_one_cpu - run a function on a CPU's rmigration thread
 * @cpu: the CPU to run @fn on
 * @fn: the function to run
 * @arg: its argument
 *
 * Queues @fn(@arg) on the list of the rmigration/@cpu thread, wakes it and
 * waits until it has run. Works on one CPU run one at a time, in the order
 * they were queued.
 *
 * CONTEXT: Process context, may sleep. Not from a work running on the
 * rmigration/@cpu thread itself (-EDEADLK).
 *
 * RETURNS: -ENOENT if @fn(@arg) was not executed because @cpu was offline
 * (its thread parked), -EINVAL if @cpu is out of range or @fn is NULL,
 * otherwise the return value of @fn.
 */
int rmigration_stop_one_cpu(unsigned int cpu, rmigration_fn_t fn, void *arg)
{
	return rmigration_rs_stop_one_cpu(cpu, fn, arg, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rmigration_stop_one_cpu);

/**
 * rmigration_stop_one_cpu_nowait - queue a function on a CPU's rmigration thread
 * @cpu: the CPU to run @fn on
 * @fn: the function to run
 * @arg: its argument
 * @work: storage for the work, owned by the caller
 *
 * Like rmigration_stop_one_cpu() but does not wait. The caller must keep
 * @work unchanged until @fn starts running. A queued work always runs: if
 * @cpu goes offline first, its thread runs it (still on @cpu) before it parks.
 *
 * CONTEXT: Any context, interrupts may be disabled.
 *
 * RETURNS: true if @fn(@arg) is queued; false if @cpu is offline, out of
 * range, or @fn or @work is NULL, and then @fn will not run.
 */
bool rmigration_stop_one_cpu_nowait(unsigned int cpu, rmigration_fn_t fn,
				    void *arg, struct rmigration_work *work)
{
	return rmigration_rs_stop_one_cpu_nowait(cpu, fn, arg, work, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rmigration_stop_one_cpu_nowait);
