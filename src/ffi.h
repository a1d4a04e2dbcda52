/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of rmigration, as seen by bindgen: kernel declarations that the
 * kernel crate's bindings lack, and the helpers of ffi.c.
 */
#ifndef _RMIGRATION_FFI_H
#define _RMIGRATION_FFI_H

/*
 * smpboot.h uses __percpu without including what it expands to. On a
 * GCC-built kernel with USE_X86_SEG_SUPPORT (Debian's), parsed by a libclang
 * with typeof_unqual (> 19.0), that is CONCATENATE(__seg_, __percpu_seg),
 * both defined through linux/percpu.h.
 */
#include <linux/percpu.h>
#include <linux/smpboot.h>
#include <linux/types.h>
#include <rmigration.h>

/* The trace events, called from src/trace.rs. */
#include "rmigration_events.h"

/* Per-CPU task pointers of the rmigration/N threads (smp_hotplug_thread.store). */
struct task_struct *__percpu *rmigration_thread_store(void);
struct task_struct *rmigration_thread_on(unsigned int cpu);
/* Whether current is an rmigration/N thread. */
bool rmigration_in_thread(void);

/* Works as lockdep sees them. */
void rmigration_work_lockdep_acquire(void);
void rmigration_work_lockdep_release(void);
void rmigration_work_lockdep_wait(void);

/*
 * A dynamic CPU hotplug state whose startup callback enables a CPU's
 * stopper: returns the state, or an errno.
 */
int rmigration_cpuhp_setup(void);
void rmigration_cpuhp_remove(int state);

/* The "trace" module parameter. */
bool rmigration_trace_enabled(void);

/* Stall reports (src/stopper/stall.rs). */
unsigned int rmigration_stall_timeout_ms(void);
void rmigration_watchdog_arm(unsigned long ms);
void rmigration_watchdog_stop(void);

/*
 * The self-check of the multi-CPU hooks: an interrupt to @cpu, with the
 * call_single_data of @cpu in @csds (one per possible CPU).
 */
void *rmigration_irq_probes_alloc(void);
void rmigration_irq_probes_free(void *csds);
int rmigration_irq_probe(void *csds, unsigned int cpu, void *info);
int rmigration_debug_irqs_on_cpu(void);

struct rmigration_task_info {
	int	pid;
	char	comm[16];
	int	policy;
	int	prio;
	int	eff_prio;	/* p->prio, as priority inheritance may raise it */
};

/* The task running on @cpu, read there by an IPI; 0 or an errno. */
int rmigration_cpu_curr(unsigned int cpu, struct rmigration_task_info *info);

struct completion;
/* wait_for_completion_killable(): 0, or -ERESTARTSYS on a fatal signal. */
int rmigration_wait_killable(struct completion *done);

int rmigration_current_pid(void);
void rmigration_current_comm(char *buf, size_t len);

/* Whether @p is on a CPU, or woken (TASK_WAKING or TASK_RUNNING). */
bool rmigration_task_runnable(struct task_struct *p);
bool rmigration_task_kept_off(struct task_struct *p);
/* How many times @p was switched out (nvcsw + nivcsw). */
unsigned long rmigration_task_switches(struct task_struct *p);

/* need_resched() of the current task. */
bool rmigration_need_resched(void);

/* The multi-CPU stops (src/multi.rs): what is inline or a macro in C. */
void rmigration_preempt_disable(void);
void rmigration_preempt_enable(void);
void rmigration_hard_irq_disable(void);
bool rmigration_irqs_disabled(void);
void rmigration_stop_watchdogs(void);
bool rmigration_cpu_online(unsigned int cpu);
void rmigration_cpus_read_lock(void);
void rmigration_cpus_read_unlock(void);

/* SCHED_FIFO at MAX_RT_PRIO - 1, the highest priority a module can give. */
int rmigration_set_fifo_max(struct task_struct *p);

/* Writes the symbol name of @addr (printk's %ps) into @buf. */
void rmigration_symbol(char *buf, size_t len, unsigned long addr);

/* Scheduling policies (uapi/linux/sched.h), for stall reports. */
enum {
	RMIGRATION_SCHED_NORMAL		= SCHED_NORMAL,
	RMIGRATION_SCHED_FIFO		= SCHED_FIFO,
	RMIGRATION_SCHED_RR		= SCHED_RR,
	RMIGRATION_SCHED_BATCH		= SCHED_BATCH,
	RMIGRATION_SCHED_IDLE		= SCHED_IDLE,
	RMIGRATION_SCHED_DEADLINE	= SCHED_DEADLINE,
	RMIGRATION_SCHED_EXT		= SCHED_EXT,
};

/* Tasks, for the migrate hook. */
enum {
	RMIGRATION_TASK_SLEEPING,
	RMIGRATION_TASK_QUEUED,
	RMIGRATION_TASK_RUNNING,
};

struct task_struct *rmigration_get_task(int nr);
unsigned int rmigration_task_cpu(struct task_struct *p);
int rmigration_task_where(struct task_struct *p);
bool rmigration_task_affinity_settable(struct task_struct *p);
bool rmigration_task_deadline(struct task_struct *p);
int rmigration_set_cpus_allowed(struct task_struct *p, unsigned int cpu);
int rmigration_set_cpus_allowed_mask(struct task_struct *p, const struct cpumask *mask);
void rmigration_task_cpus_allowed(struct task_struct *p, struct cpumask *mask);
bool rmigration_cpu_active(unsigned int cpu);
bool rmigration_cpu_housekeeping(unsigned int cpu);
void rmigration_task_comm(struct task_struct *p, char *buf, size_t len);

/* Sizes, for the stats file. */
size_t rmigration_task_struct_size(void);
size_t rmigration_thread_stack_size(void);

/* The debugfs hooks: /sys/kernel/debug/rmigration/NAME, handled in Rust. */
/* A write to a hook is shorter than this: CPU lists of ranges of any
 * CPUs fit, and lists of single CPUs of up to about 900 of them. */
#define RMIGRATION_HOOK_INPUT_MAX 4096

struct rmigration_hook_file {
	const char	*name;
	unsigned short	mode;
	int		id;
};

int rmigration_debugfs_create(void *hooks, const struct rmigration_hook_file *files,
			      size_t n);
void rmigration_debugfs_remove(void);

#endif /* _RMIGRATION_FFI_H */
