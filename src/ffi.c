// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of rmigration cannot express: a static per-CPU
 * variable, a module parameter visible and writable in sysfs, and the
 * exports of the C API.
 */

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
