// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of rmigration cannot express: a static per-CPU
 * variable, a module parameter visible and writable in sysfs, and the
 * exports of the C API.
 */

#include <linux/debugfs.h>
#include <linux/export.h>
#include <linux/moduleparam.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/interrupt.h>
#include <linux/lockdep.h>
#include <linux/nmi.h>
#include <linux/rcupdate.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/isolation.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <uapi/linux/sched/types.h>

#include "ffi.h"

static DEFINE_PER_CPU(struct task_struct *, rmigration_thread);

struct task_struct *__percpu *rmigration_thread_store(void)
{
	return &rmigration_thread;
}

/*
 * Written by smpboot when it creates the thread (and cleared when it is
 * unregistered), read locklessly here.
 */
struct task_struct *rmigration_thread_on(unsigned int cpu)
{
	return READ_ONCE(per_cpu(rmigration_thread, cpu));
}

/*
 * A thread is bound to its CPU: if current is one, this CPU is its own,
 * and it stays so; if not, no CPU's thread is current.
 */
bool rmigration_in_thread(void)
{
	return current == READ_ONCE(*raw_cpu_ptr(&rmigration_thread));
}

/*
 * Works as lockdep sees them, as the workqueue's lockdep_map: held by the
 * thread while a work runs, taken and dropped by a caller before it waits.
 * A lock held around the wait and taken by any work closes a cycle that
 * lockdep reports ("possible circular locking dependency"), where the
 * real one would hang silently. One map for every CPU, since multi-CPU
 * stops chain the lists: a work on B that takes lock L runs ahead of a
 * two-CPU participant on B, whose partner on A runs ahead of the work of
 * a caller holding L.
 */
#ifdef CONFIG_LOCKDEP
static struct lock_class_key rmigration_work_key;
static struct lockdep_map rmigration_work_map =
	STATIC_LOCKDEP_MAP_INIT("rmigration_work", &rmigration_work_key);

void rmigration_work_lockdep_acquire(void)
{
	lock_map_acquire(&rmigration_work_map);
}

void rmigration_work_lockdep_release(void)
{
	lock_map_release(&rmigration_work_map);
}

void rmigration_work_lockdep_wait(void)
{
	lock_map_acquire(&rmigration_work_map);
	lock_map_release(&rmigration_work_map);
}
#else
void rmigration_work_lockdep_acquire(void) { }
void rmigration_work_lockdep_release(void) { }
void rmigration_work_lockdep_wait(void) { }
#endif

/*
 * The stoppers are enabled and disabled from the control path
 * (src/stopper.rs, Online), in a dynamic state after
 * CPUHP_AP_SMPBOOT_THREADS: on a CPU coming online its thread is unparked
 * before its stopper accepts works, both before cpu_up() returns; on a CPU
 * going offline (and at unload) the stopper refuses works and its queued
 * works have run before smpboot parks (or stops) the thread, whether or
 * not that thread ever ran.
 */
int rmigration_rs_stopper_online(unsigned int cpu);
int rmigration_rs_stopper_offline(unsigned int cpu);

int rmigration_cpuhp_setup(void)
{
	return cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "rmigration:online",
				 rmigration_rs_stopper_online,
				 rmigration_rs_stopper_offline);
}

void rmigration_cpuhp_remove(int state)
{
	cpuhp_remove_state(state);
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

static unsigned int stall_timeout_ms = 3000;
module_param(stall_timeout_ms, uint, 0644);
MODULE_PARM_DESC(stall_timeout_ms,
		 "Report a work that has waited this long to start, in ms (default: 3000; 0: never)");

unsigned int rmigration_stall_timeout_ms(void)
{
	return READ_ONCE(stall_timeout_ms);
}

/*
 * The stall watchdog (src/stopper/stall.rs): a delayed work that runs
 * while works are queued, and re-arms itself for as long as Rust asks, on
 * the CPU Rust names (-1: this one). A worker woken on the CPU of the task
 * it should report would wait there, behind that task, for the fair
 * server's reserve (about 50 ms of each second) at each of its steps: so
 * it runs on a CPU where no rmigration work waits, on system_highpri_wq
 * (a worker at nice -20 among the normal tasks there). One delayed work
 * on one workqueue: it never runs twice at once, and unload disables it
 * for good (disable_delayed_work_sync()).
 */
unsigned long rmigration_rs_watchdog(int *cpu);

static void rmigration_watchdog_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(rmigration_watchdog, rmigration_watchdog_fn);

static void rmigration_watchdog_queue(int cpu, unsigned long ms)
{
	/*
	 * No CPU goes offline while preemption is off here (take_cpu_down()
	 * runs in stop_machine()): @cpu is online when the timer is added,
	 * and timers_dead_cpu() moves it should it go later.
	 */
	preempt_disable();
	if (cpu < 0 || cpu >= nr_cpu_ids || !cpu_online(cpu))
		cpu = smp_processor_id();
	queue_delayed_work_on(cpu, system_highpri_wq, &rmigration_watchdog,
			      msecs_to_jiffies(ms));
	preempt_enable();
}

static void rmigration_watchdog_fn(struct work_struct *work)
{
	int cpu = -1;
	unsigned long ms = rmigration_rs_watchdog(&cpu);

	if (ms)
		rmigration_watchdog_queue(cpu, ms);
}

/* From a queuer: on its own CPU, which runs. */
void rmigration_watchdog_arm(unsigned long ms)
{
	rmigration_watchdog_queue(-1, ms);
}

/*
 * Waits for a running watchdog, cancels a pending one and keeps it from
 * being queued again: an arm() racing with unload is a no-op.
 */
void rmigration_watchdog_stop(void)
{
	disable_delayed_work_sync(&rmigration_watchdog);
}

/*
 * A participant that leaves its interrupts on in a multi-CPU stop, for
 * the self-check's own test (tests/rmigration_multi.sh): it still counts
 * itself as one with interrupts off.
 */
static int debug_irqs_on_cpu = -1;
module_param(debug_irqs_on_cpu, int, 0644);
MODULE_PARM_DESC(debug_irqs_on_cpu,
		 "Testing only: the participant on this CPU keeps its interrupts on in every multi-CPU stop, C API ones too (default: -1, none)");

int rmigration_debug_irqs_on_cpu(void)
{
	return READ_ONCE(debug_irqs_on_cpu);
}

/*
 * The self-check of the multi-CPU hooks (src/hooks/multi.rs): from RUN,
 * an interrupt is sent to each other participant; it runs there only once
 * that participant has its interrupts on again. Each stop has its own
 * call_single_data, one per possible CPU, freed only once every probe
 * sent has run: none is reused while in flight.
 */
void rmigration_rs_irq_probe(void *info);

static void rmigration_irq_probe_fn(void *info)
{
	rmigration_rs_irq_probe(info);
}

void *rmigration_irq_probes_alloc(void)
{
	return kcalloc(nr_cpu_ids, sizeof(call_single_data_t), GFP_KERNEL);
}

void rmigration_irq_probes_free(void *csds)
{
	kfree(csds);
}

int rmigration_irq_probe(void *csds, unsigned int cpu, void *info)
{
	call_single_data_t *csd = (call_single_data_t *)csds + cpu;

	INIT_CSD(csd, rmigration_irq_probe_fn, info);
	return smp_call_function_single_async(cpu, csd);
}

/* What a stall report says of the task on a CPU, read there by an IPI. */
static void rmigration_read_curr(void *arg)
{
	struct rmigration_task_info *info = arg;
	struct task_struct *p = current;

	info->pid = task_pid_nr(p);
	strscpy(info->comm, p->comm, sizeof(info->comm));
	info->policy = p->policy;
	info->eff_prio = p->prio;
	if (p->policy == SCHED_FIFO || p->policy == SCHED_RR)
		info->prio = p->rt_priority;
	else if (p->policy == SCHED_DEADLINE)
		info->prio = 0;
	else
		info->prio = task_nice(p);
}

int rmigration_cpu_curr(unsigned int cpu, struct rmigration_task_info *info)
{
	return smp_call_function_single(cpu, rmigration_read_curr, info, 1);
}

int rmigration_wait_killable(struct completion *done)
{
	return wait_for_completion_killable(done);
}

int rmigration_current_pid(void)
{
	return task_pid_nr(current);
}

void rmigration_current_comm(char *buf, size_t len)
{
	strscpy(buf, current->comm, len);
}

/*
 * What a waiter spinning on the thread reads, as mutex spinners read
 * owner->on_cpu: the thread is on its CPU, or woken and about to be. On its
 * CPU, the smpboot loop sets TASK_INTERRUPTIBLE before each should_run
 * check, so the state alone would say "asleep" while it runs.
 */
bool rmigration_task_runnable(struct task_struct *p)
{
	unsigned int state = READ_ONCE(p->__state);

	return READ_ONCE(p->on_cpu) || state == TASK_RUNNING || state == TASK_WAKING;
}

/*
 * The task wants to run, is on its runqueue, and another task runs on its
 * CPU: preempted, or woken behind a task it cannot preempt. TASK_RUNNING
 * leaves out a task that blocks but stays queued (proxy execution, a
 * delayed dequeue), and one woken onto a CPU that has not taken the
 * wake-up yet (TASK_WAKING). A hint, read without the runqueue lock: the
 * three reads are unordered, so a task just blocking or just switched in
 * may be misread once; the stall watchdog reads again at its next look
 * and, before it reports, checks that the thread was not switched out in
 * between (rmigration_task_switches()).
 */
bool rmigration_task_kept_off(struct task_struct *p)
{
	return READ_ONCE(p->__state) == TASK_RUNNING && READ_ONCE(p->on_rq) &&
	       !READ_ONCE(p->on_cpu);
}

unsigned long rmigration_task_switches(struct task_struct *p)
{
	return READ_ONCE(p->nvcsw) + READ_ONCE(p->nivcsw);
}

bool rmigration_need_resched(void)
{
	return need_resched();
}

/*
 * Preemption, for sched::PreemptGuard (src/sched.rs): the queueing of
 * works and the multi-CPU stops (src/multi.rs), whose participants hold it
 * from PREPARE to EXIT.
 */
void rmigration_preempt_disable(void)
{
	preempt_disable();
}

void rmigration_preempt_enable(void)
{
	preempt_enable();
}

void rmigration_hard_irq_disable(void)
{
	hard_irq_disable();
}

bool rmigration_irqs_disabled(void)
{
	return irqs_disabled();
}

/*
 * A CPU spinning with interrupts off for its partners, as multi_cpu_stop()
 * does: the lockup detectors and RCU are told it is not stuck.
 */
void rmigration_stop_watchdogs(void)
{
	touch_nmi_watchdog();
	rcu_momentary_eqs();
}

bool rmigration_cpu_online(unsigned int cpu)
{
	return cpu_online(cpu);
}

void rmigration_cpus_read_lock(void)
{
	cpus_read_lock();
}

void rmigration_cpus_read_unlock(void)
{
	cpus_read_unlock();
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
 * CONTEXT: Process context, may sleep. Not from an rmigration work, on
 * any CPU (-EDEADLK): a work that waits for another can deadlock with a
 * multi-CPU stop or a work that waits for it. Use
 * rmigration_stop_one_cpu_nowait() there.
 *
 * RETURNS: -ENOENT if @fn(@arg) was not executed because @cpu was offline
 * (its thread parked), -EINVAL if @cpu is out of range or @fn is NULL,
 * -EDEADLK from an rmigration work, otherwise the return value of @fn.
 */
int rmigration_stop_one_cpu(unsigned int cpu, rmigration_fn_t fn, void *arg)
{
	return rmigration_rs_stop_one_cpu(cpu, fn, arg, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rmigration_stop_one_cpu);

int rmigration_rs_stop_one_cpu_killable(unsigned int cpu, rmigration_fn_t fn, void *arg,
					unsigned long caller);

/**
 * rmigration_stop_one_cpu_killable - rmigration_stop_one_cpu(), killable
 * @cpu: the CPU to run @fn on
 * @fn: the function to run
 * @arg: its argument
 *
 * As rmigration_stop_one_cpu(), but a fatal signal ends the wait for a
 * work that has not started: it is taken off the list and never runs. A
 * work that has started is waited for.
 *
 * CONTEXT: Process context, may sleep. Not from an rmigration work.
 *
 * RETURNS: -EINTR if a fatal signal came before @fn started (it will not
 * run), otherwise as rmigration_stop_one_cpu().
 */
int rmigration_stop_one_cpu_killable(unsigned int cpu, rmigration_fn_t fn, void *arg)
{
	return rmigration_rs_stop_one_cpu_killable(cpu, fn, arg, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rmigration_stop_one_cpu_killable);

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

int rmigration_rs_stop_two_cpus(unsigned int cpu1, unsigned int cpu2,
				rmigration_fn_t fn, void *arg, bool killable);
int rmigration_rs_stop_machine(rmigration_fn_t fn, void *arg,
			       const struct cpumask *cpus, bool killable);

/**
 * rmigration_stop_two_cpus - run a function while two CPUs are stopped
 * @cpu1: the CPU to run @fn on
 * @cpu2: the other CPU to stop
 * @fn: the function to run
 * @arg: its argument
 *
 * Queues a work on the rmigration threads of @cpu1 and @cpu2, which enter
 * a lock-step (the kernel's multi_cpu_stop() states): once both have
 * turned their interrupts off, @fn(@arg) runs on @cpu1, and both leave
 * together. @fn must not sleep.
 *
 * CONTEXT: Process context, may sleep, without cpus_read_lock() held (it
 * is taken for the call). Not from an rmigration work (-EDEADLK).
 *
 * RETURNS: -EINVAL if @cpu1 == @cpu2, a CPU is out of range or @fn is
 * NULL; -ENOENT if either CPU is offline, and then nothing ran; -EDEADLK
 * from an rmigration work; otherwise the return value of @fn.
 */
int rmigration_stop_two_cpus(unsigned int cpu1, unsigned int cpu2,
			     rmigration_fn_t fn, void *arg)
{
	return rmigration_rs_stop_two_cpus(cpu1, cpu2, fn, arg, false);
}
EXPORT_SYMBOL_GPL(rmigration_stop_two_cpus);

/**
 * rmigration_stop_two_cpus_killable - rmigration_stop_two_cpus(), killable
 * @cpu1: the CPU to run @fn on
 * @cpu2: the other CPU to stop
 * @fn: the function to run
 * @arg: its argument
 *
 * As rmigration_stop_two_cpus(), but a fatal signal before both CPUs are
 * in the lock-step gives the stop up: the participant that started
 * leaves, the work that did not is withdrawn, @fn does not run.
 *
 * RETURNS: -EINTR if the stop was given up, otherwise as
 * rmigration_stop_two_cpus().
 */
int rmigration_stop_two_cpus_killable(unsigned int cpu1, unsigned int cpu2,
				      rmigration_fn_t fn, void *arg)
{
	return rmigration_rs_stop_two_cpus(cpu1, cpu2, fn, arg, true);
}
EXPORT_SYMBOL_GPL(rmigration_stop_two_cpus_killable);

/**
 * rmigration_stop_machine - run a function while every online CPU is stopped
 * @fn: the function to run
 * @arg: its argument
 * @cpus: the CPUs to run @fn on; NULL or empty: the first online CPU. Not
 *        to be changed during the call.
 *
 * Queues a work on the rmigration thread of every online CPU; they enter
 * a lock-step, and once all have turned their interrupts off, @fn(@arg)
 * runs on each CPU of @cpus, at the same time. @fn must not sleep. No CPU
 * goes on- or offline during the call.
 *
 * CONTEXT: Process context, may sleep, without cpus_read_lock() held (it
 * is taken for the call). Not from an rmigration work (-EDEADLK).
 *
 * RETURNS: -EINVAL if @fn is NULL; -ENOENT if a CPU of @cpus is offline,
 * and then nothing ran; -EDEADLK from an rmigration work; otherwise 0 if
 * every call of @fn returned 0, else the value of one of those that did
 * not (which one is not said, as for stop_machine()).
 */
int rmigration_stop_machine(rmigration_fn_t fn, void *arg,
			    const struct cpumask *cpus)
{
	return rmigration_rs_stop_machine(fn, arg, cpus, false);
}
EXPORT_SYMBOL_GPL(rmigration_stop_machine);

/**
 * rmigration_stop_machine_killable - rmigration_stop_machine(), killable
 * @fn: the function to run
 * @arg: its argument
 * @cpus: the CPUs to run @fn on; NULL or empty: the first online CPU
 *
 * As rmigration_stop_machine(), but a fatal signal before every CPU is in
 * the lock-step gives the stop up, as rmigration_stop_two_cpus_killable().
 *
 * RETURNS: -EINTR if the stop was given up, otherwise as
 * rmigration_stop_machine().
 */
int rmigration_stop_machine_killable(rmigration_fn_t fn, void *arg,
				     const struct cpumask *cpus)
{
	return rmigration_rs_stop_machine(fn, arg, cpus, true);
}
EXPORT_SYMBOL_GPL(rmigration_stop_machine_killable);

/*
 * The debugfs hooks. They are C file_operations so that .owner pins the
 * module while a file is open; reading and writing go to Rust
 * (src/hooks.rs). i_private holds the hook id.
 */
ssize_t rmigration_rs_hook_write(void *hooks, int id, const char *buf, size_t len);
int rmigration_rs_hook_show(void *hooks, int id, struct seq_file *m);

static struct dentry *rmigration_debugfs;
static void *rmigration_hooks;

static ssize_t rmigration_hook_write(struct file *file, const char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	int id = (long)file_inode(file)->i_private;
	ssize_t ret;
	char *buf;

	if (len >= RMIGRATION_HOOK_INPUT_MAX)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = rmigration_rs_hook_write(rmigration_hooks, id, buf, len);
	kfree(buf);
	return ret < 0 ? ret : len;
}

static int rmigration_hook_show(struct seq_file *m, void *v)
{
	return rmigration_rs_hook_show(rmigration_hooks, (long)m->private, m);
}

static int rmigration_hook_open(struct inode *inode, struct file *file)
{
	return single_open(file, rmigration_hook_show, inode->i_private);
}

static const struct file_operations rmigration_hook_fops = {
	.owner		= THIS_MODULE,
	.open		= rmigration_hook_open,
	.read		= seq_read,
	.write		= rmigration_hook_write,
	.llseek		= seq_lseek,
	.release	= single_release,
};

int rmigration_debugfs_create(void *hooks, const struct rmigration_hook_file *files,
			      size_t n)
{
	struct dentry *dir;
	size_t i;

	dir = debugfs_create_dir("rmigration", NULL);
	if (IS_ERR(dir))
		return PTR_ERR(dir);
	rmigration_hooks = hooks;
	for (i = 0; i < n; i++)
		debugfs_create_file(files[i].name, files[i].mode, dir,
				    (void *)(long)files[i].id, &rmigration_hook_fops);
	rmigration_debugfs = dir;
	return 0;
}

void rmigration_debugfs_remove(void)
{
	/* Waits for the reads and writes in progress. */
	debugfs_remove(rmigration_debugfs);
	rmigration_debugfs = NULL;
	rmigration_hooks = NULL;
}

/* Tasks, for the migrate hook: what is inline or a macro in C. */

/* The task of pid @nr in the caller's namespace, with a reference, or NULL. */
struct task_struct *rmigration_get_task(int nr)
{
	struct pid *pid = find_get_pid(nr);
	struct task_struct *p = get_pid_task(pid, PIDTYPE_PID);

	put_pid(pid);
	return p;
}

unsigned int rmigration_task_cpu(struct task_struct *p)
{
	return task_cpu(p);
}

/*
 * Where @p is: RMIGRATION_TASK_RUNNING on a CPU, RMIGRATION_TASK_QUEUED on
 * a runqueue, or RMIGRATION_TASK_SLEEPING. A racy snapshot, for traces.
 */
int rmigration_task_where(struct task_struct *p)
{
	if (READ_ONCE(p->on_cpu))
		return RMIGRATION_TASK_RUNNING;
	if (READ_ONCE(p->on_rq))
		return RMIGRATION_TASK_QUEUED;
	return RMIGRATION_TASK_SLEEPING;
}

/*
 * Whether the affinity of @p may be changed: not for tasks with
 * PF_NO_SETAFFINITY (the kernel's per-CPU threads, migration/N, our
 * rmigration/N) nor for kernel threads bound to one CPU.
 */
bool rmigration_task_affinity_settable(struct task_struct *p)
{
	if (p->flags & PF_NO_SETAFFINITY)
		return false;
	return !((p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1);
}

/*
 * A deadline task's affinity must span its root domain: sched_setaffinity(2)
 * says EBUSY otherwise, when admission control is on
 * (dl_task_check_affinity(), not exported; nor are root domains). We refuse
 * every deadline task: stricter. The policy is read without a lock: a task
 * made SCHED_DEADLINE just after is refused by the kernel itself, whose
 * __sched_setscheduler() wants the affinity to span the root domain.
 */
bool rmigration_task_deadline(struct task_struct *p)
{
	return READ_ONCE(p->policy) == SCHED_DEADLINE;
}

int rmigration_set_cpus_allowed(struct task_struct *p, unsigned int cpu)
{
	return set_cpus_allowed_ptr(p, cpumask_of(cpu));
}

int rmigration_set_cpus_allowed_mask(struct task_struct *p, const struct cpumask *mask)
{
	return set_cpus_allowed_ptr(p, mask);
}

/*
 * The CPUs @p asked for: its sched_setaffinity() mask if it has one,
 * else its cpus_mask (not cpus_ptr, which is one CPU while @p is in a
 * migrate_disable() section), read under @p's pi_lock as the scheduler
 * writes them.
 */
void rmigration_task_cpus_allowed(struct task_struct *p, struct cpumask *mask)
{
	guard(raw_spinlock_irqsave)(&p->pi_lock);
	cpumask_copy(mask, p->user_cpus_ptr ?: &p->cpus_mask);
}

/*
 * Whether @cpu is a housekeeping CPU: not isolated from the scheduler's
 * domains (isolcpus=, cpuset isolated partitions) nor from the kernel's
 * noise, work items among it (nohz_full=, isolcpus=nohz).
 */
bool rmigration_cpu_housekeeping(unsigned int cpu)
{
	guard(rcu)();
	return housekeeping_cpu(cpu, HK_TYPE_KERNEL_NOISE) && !cpu_is_isolated(cpu);
}

bool rmigration_cpu_active(unsigned int cpu)
{
	return cpu_active(cpu);
}

void rmigration_task_comm(struct task_struct *p, char *buf, size_t len)
{
	strscpy(buf, p->comm, len);
}

size_t rmigration_task_struct_size(void)
{
	return sizeof(struct task_struct);
}

size_t rmigration_thread_stack_size(void)
{
	return THREAD_SIZE;
}
