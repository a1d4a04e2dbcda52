// SPDX-License-Identifier: GPL-2.0
/*
 * rmigration_client: exercises the C API of rmigration.ko from another
 * module. Each check logs "rmigration_client: ok DESCRIPTION" or
 * "rmigration_client: not ok DESCRIPTION"; loading fails if one failed.
 *
 * offline_cpu=N also checks that CPU N, offline, refuses works, multi-CPU
 * stops included.
 *
 * lockdep_inversion=1 runs nothing else: it makes lockdep see a mutex
 * taken by a work and then held around a wait for a work, the cycle that
 * would deadlock if both happened at once, and checks that nothing hung.
 * Lockdep must then report a possible circular locking dependency naming
 * rmigration_work (tests/rmigration_inversion.sh). Lockdep reports once
 * per boot: load it with this only in a VM of its own.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <rmigration.h>

static int offline_cpu = -1;
module_param(offline_cpu, int, 0444);
MODULE_PARM_DESC(offline_cpu, "An offline CPU to check -ENOENT on (default: none)");

static int calls_per_thread = 200;
module_param(calls_per_thread, int, 0444);
MODULE_PARM_DESC(calls_per_thread, "Synchronous calls per concurrent caller (default: 200)");

static bool lockdep_inversion;
module_param(lockdep_inversion, bool, 0444);
MODULE_PARM_DESC(lockdep_inversion,
		 "Only show lockdep a lock taken by a work and held around a wait (default: off)");

static int failures;

static void report(bool ok, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_info("%s %pV\n", ok ? "ok" : "not ok", &vaf);
	va_end(args);
	if (!ok)
		failures++;
}

static int record_cpu(void *arg)
{
	*(int *)arg = raw_smp_processor_id();
	return 42;
}

static int never_called(void *arg)
{
	atomic_inc(arg);
	return 0;
}

static void check_sync(void)
{
	bool ok = true;
	int cpu;

	for_each_online_cpu(cpu) {
		int ran_on = -1, ret;

		ret = rmigration_stop_one_cpu(cpu, record_cpu, &ran_on);
		if (ret != 42 || ran_on != cpu) {
			pr_info("  CPU %d: ret %d, ran on %d\n", cpu, ret, ran_on);
			ok = false;
		}
	}
	report(ok, "rmigration_stop_one_cpu runs on every online CPU and returns the result");
}

static void check_bad_args(void)
{
	struct rmigration_work work;
	atomic_t calls = ATOMIC_INIT(0);

	report(rmigration_stop_one_cpu(nr_cpu_ids, never_called, &calls) == -EINVAL &&
	       rmigration_stop_one_cpu(0, NULL, NULL) == -EINVAL &&
	       !rmigration_stop_one_cpu_nowait(nr_cpu_ids, never_called, &calls, &work) &&
	       !rmigration_stop_one_cpu_nowait(0, NULL, NULL, &work) &&
	       !rmigration_stop_one_cpu_nowait(0, never_called, &calls, NULL) &&
	       atomic_read(&calls) == 0,
	       "bad CPU numbers, NULL functions and works are refused");
}

/* FIFO order: works queued behind a blocked one run in queueing order. */
#define FIFO_WORKS 64

struct fifo {
	struct completion gate, done;
	atomic_t next;
	int order[FIFO_WORKS];
	struct rmigration_work gate_work, works[FIFO_WORKS];
	int index[FIFO_WORKS];
};

static struct fifo *fifo;

static int fifo_gate(void *arg)
{
	wait_for_completion(&fifo->gate);
	return 0;
}

static int fifo_work(void *arg)
{
	int pos = atomic_inc_return(&fifo->next) - 1;

	if (pos < FIFO_WORKS)
		fifo->order[pos] = *(int *)arg;
	if (pos == FIFO_WORKS - 1)
		complete(&fifo->done);
	return 0;
}

static void check_fifo(void)
{
	int cpu = cpumask_last(cpu_online_mask), i;
	bool ok = true;

	fifo = kzalloc(sizeof(*fifo), GFP_KERNEL);
	if (!fifo) {
		report(false, "nowait works run once each, in FIFO order (no memory)");
		return;
	}
	init_completion(&fifo->gate);
	init_completion(&fifo->done);
	if (!rmigration_stop_one_cpu_nowait(cpu, fifo_gate, NULL, &fifo->gate_work))
		ok = false;
	for (i = 0; ok && i < FIFO_WORKS; i++) {
		fifo->index[i] = i;
		if (!rmigration_stop_one_cpu_nowait(cpu, fifo_work, &fifo->index[i],
						    &fifo->works[i]))
			ok = false;
	}
	complete(&fifo->gate);
	if (ok && !wait_for_completion_timeout(&fifo->done, 30 * HZ)) {
		pr_info("  only %d of %d works ran\n", atomic_read(&fifo->next), FIFO_WORKS);
		ok = false;
	}
	/* Let any extra (buggy) run show up in the count. */
	msleep(20);
	if (ok && atomic_read(&fifo->next) != FIFO_WORKS) {
		pr_info("  %d runs for %d works\n", atomic_read(&fifo->next), FIFO_WORKS);
		ok = false;
	}
	for (i = 0; ok && i < FIFO_WORKS; i++) {
		if (fifo->order[i] != i) {
			pr_info("  position %d ran work %d\n", i, fifo->order[i]);
			ok = false;
		}
	}
	report(ok, "%d nowait works on CPU %d run once each, in FIFO order", FIFO_WORKS, cpu);
	kfree(fifo);
}

/* Concurrent callers, one bound to each online CPU, to every online CPU. */
struct caller {
	struct task_struct *task;
	struct completion done;
	int self, ok_calls, bad_calls;
};

static atomic_t runs[NR_CPUS];

static int count_run(void *arg)
{
	atomic_inc(&runs[raw_smp_processor_id()]);
	return (long)arg;
}

static int caller_fn(void *arg)
{
	struct caller *c = arg;
	int i, target = c->self;

	for (i = 0; i < calls_per_thread; i++) {
		target = cpumask_next_wrap(target, cpu_online_mask);
		if (rmigration_stop_one_cpu(target, count_run, (void *)(long)i) == i)
			c->ok_calls++;
		else
			c->bad_calls++;
	}
	complete(&c->done);
	return 0;
}

static void check_concurrent(void)
{
	struct caller *callers;
	int cpu, n = 0, ok_calls = 0, bad_calls = 0, total_runs = 0;

	callers = kcalloc(nr_cpu_ids, sizeof(*callers), GFP_KERNEL);
	if (!callers) {
		report(false, "concurrent callers (no memory)");
		return;
	}
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		atomic_set(&runs[cpu], 0);
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct caller *c = &callers[cpu];

		c->self = cpu;
		init_completion(&c->done);
		c->task = kthread_create_on_cpu(caller_fn, c, cpu, "rmig_client/%u");
		if (IS_ERR(c->task)) {
			c->task = NULL;
			continue;
		}
		wake_up_process(c->task);
		n++;
	}
	cpus_read_unlock();
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		if (callers[cpu].task) {
			wait_for_completion(&callers[cpu].done);
			ok_calls += callers[cpu].ok_calls;
			bad_calls += callers[cpu].bad_calls;
		}
	}
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		total_runs += atomic_read(&runs[cpu]);
	pr_info("  %d callers, %d calls each: %d ok, %d failed, %d runs\n",
		n, calls_per_thread, ok_calls, bad_calls, total_runs);
	report(n == num_online_cpus() && bad_calls == 0 &&
	       ok_calls == n * calls_per_thread && total_runs == ok_calls,
	       "concurrent callers on every CPU: each work ran exactly once");
	kfree(callers);
}

static void check_offline(void)
{
	struct rmigration_work work;
	atomic_t calls = ATOMIC_INIT(0);

	if (offline_cpu < 0)
		return;
	if (offline_cpu >= nr_cpu_ids || cpu_online(offline_cpu)) {
		report(false, "offline_cpu=%d is not an offline CPU", offline_cpu);
		return;
	}
	report(rmigration_stop_one_cpu(offline_cpu, never_called, &calls) == -ENOENT &&
	       !rmigration_stop_one_cpu_nowait(offline_cpu, never_called, &calls, &work) &&
	       atomic_read(&calls) == 0,
	       "offline CPU %d refuses works with -ENOENT and never runs them", offline_cpu);
}

/* A multi-CPU stop's function: where it ran, and with interrupts off. */
struct multi_seen {
	atomic_t calls;
	atomic_t irqs_on;
	unsigned long ran_on;	/* CPUs 0 to BITS_PER_LONG - 1 */
};

static int record_multi(void *arg)
{
	struct multi_seen *seen = arg;
	int cpu = raw_smp_processor_id();

	atomic_inc(&seen->calls);
	if (!irqs_disabled())
		atomic_inc(&seen->irqs_on);
	if (cpu < BITS_PER_LONG)
		set_bit(cpu, &seen->ran_on);
	return cpu == 0 ? 0 : 7;
}

static void check_multi(void)
{
	struct multi_seen seen = {};
	cpumask_var_t mask;
	int cpu1, cpu2, ret, last = -1;
	atomic_t calls = ATOMIC_INIT(0);

	cpu1 = cpumask_first(cpu_online_mask);
	cpu2 = cpumask_next(cpu1, cpu_online_mask);
	if (cpu2 >= nr_cpu_ids || cpu2 >= BITS_PER_LONG) {
		report(true, "# SKIP multi-CPU stops: fewer than two CPUs online");
		return;
	}
	ret = rmigration_stop_two_cpus(cpu2, cpu1, record_multi, &seen);
	report(ret == 7 && atomic_read(&seen.calls) == 1 &&
	       atomic_read(&seen.irqs_on) == 0 && seen.ran_on == BIT(cpu2),
	       "rmigration_stop_two_cpus runs the function once, on the first CPU, interrupts off, and returns its result");
	report(rmigration_stop_two_cpus(cpu1, cpu1, never_called, &calls) == -EINVAL &&
	       rmigration_stop_two_cpus(cpu1, nr_cpu_ids, never_called, &calls) == -EINVAL &&
	       rmigration_stop_two_cpus(cpu1, cpu2, NULL, NULL) == -EINVAL &&
	       rmigration_stop_machine(NULL, NULL, NULL) == -EINVAL &&
	       atomic_read(&calls) == 0,
	       "multi-CPU stops refuse the same CPU twice, a CPU out of range and a NULL function with -EINVAL");

	/* The killable forms, with no signal pending, do what the others do. */
	memset(&seen, 0, sizeof(seen));
	ret = rmigration_stop_two_cpus_killable(cpu2, cpu1, record_multi, &seen);
	report(ret == 7 && atomic_read(&seen.calls) == 1 && seen.ran_on == BIT(cpu2) &&
	       rmigration_stop_machine_killable(never_called, &calls, NULL) == 0 &&
	       atomic_read(&calls) == 1 &&
	       rmigration_stop_one_cpu_killable(cpu1, record_cpu, &last) == 42 && last == cpu1 &&
	       rmigration_stop_one_cpu_killable(nr_cpu_ids, never_called, &calls) == -EINVAL,
	       "the _killable forms run the function and return its result as the others do");
	atomic_set(&calls, 0);
	last = -1;

	memset(&seen, 0, sizeof(seen));
	ret = rmigration_stop_machine(record_multi, &seen, NULL);
	report(ret == (cpu1 == 0 ? 0 : 7) && atomic_read(&seen.calls) == 1 &&
	       atomic_read(&seen.irqs_on) == 0 && seen.ran_on == BIT(cpu1),
	       "rmigration_stop_machine(NULL) runs the function once, on the first online CPU, interrupts off");

	if (!zalloc_cpumask_var(&mask, GFP_KERNEL)) {
		report(false, "no memory for a cpumask");
		return;
	}
	cpumask_copy(mask, cpu_online_mask);
	memset(&seen, 0, sizeof(seen));
	ret = rmigration_stop_machine(record_multi, &seen, mask);
	for_each_cpu(cpu1, mask)
		last = cpu1;
	report(ret == (last == 0 ? 0 : 7) && atomic_read(&seen.calls) == cpumask_weight(mask) &&
	       atomic_read(&seen.irqs_on) == 0 &&
	       (last >= BITS_PER_LONG || seen.ran_on == cpumask_bits(mask)[0]),
	       "rmigration_stop_machine(online mask) runs the function on every CPU at once, interrupts off, and returns a non-zero result");
	if (offline_cpu >= 0 && offline_cpu < nr_cpu_ids && !cpu_online(offline_cpu)) {
		cpumask_clear(mask);
		cpumask_set_cpu(offline_cpu, mask);
		report(rmigration_stop_machine(never_called, &calls, mask) == -ENOENT &&
		       rmigration_stop_two_cpus(cpumask_first(cpu_online_mask), offline_cpu,
						never_called, &calls) == -ENOENT &&
		       atomic_read(&calls) == 0,
		       "multi-CPU stops with offline CPU %d: -ENOENT, nothing run", offline_cpu);
	}
	free_cpumask_var(mask);
}

/* Nesting: a work may queue (nowait) but not wait for other works. */
struct nest {
	int cpu1, cpu2;
	int one, one_killable, two, machine;
	bool queued;
	atomic_t calls;
	struct completion nowait_done;
	struct rmigration_work work;
};

static int nowait_ran(void *arg)
{
	complete(arg);
	return 0;
}

static int nested(void *arg)
{
	struct nest *n = arg;

	n->one = rmigration_stop_one_cpu(n->cpu2, never_called, &n->calls);
	n->one_killable = rmigration_stop_one_cpu_killable(n->cpu2, never_called, &n->calls);
	n->two = rmigration_stop_two_cpus(n->cpu1, n->cpu2, never_called, &n->calls);
	n->machine = rmigration_stop_machine(never_called, &n->calls, NULL);
	n->queued = rmigration_stop_one_cpu_nowait(n->cpu2, nowait_ran, &n->nowait_done,
						   &n->work);
	return 0;
}

static void check_nesting(void)
{
	struct nest n = { .calls = ATOMIC_INIT(0) };
	bool ran = false;
	int ret;

	n.cpu1 = cpumask_first(cpu_online_mask);
	n.cpu2 = cpumask_next(n.cpu1, cpu_online_mask);
	if (n.cpu2 >= nr_cpu_ids) {
		report(true, "# SKIP nesting: fewer than two CPUs online");
		return;
	}
	init_completion(&n.nowait_done);
	ret = rmigration_stop_one_cpu(n.cpu1, nested, &n);
	if (n.queued)
		ran = wait_for_completion_timeout(&n.nowait_done, 30 * HZ);
	if (ret || n.one != -EDEADLK || n.one_killable != -EDEADLK || n.two != -EDEADLK ||
	    n.machine != -EDEADLK || atomic_read(&n.calls))
		pr_info("  ret %d; from a work: one %d, killable %d, two %d, machine %d, calls %d\n",
			ret, n.one, n.one_killable, n.two, n.machine, atomic_read(&n.calls));
	report(!ret && n.one == -EDEADLK && n.one_killable == -EDEADLK &&
	       n.two == -EDEADLK && n.machine == -EDEADLK && !atomic_read(&n.calls) &&
	       n.queued && ran,
	       "from a work on CPU %d, every waiting call for CPU %d is refused with -EDEADLK, nothing run; nowait runs",
	       n.cpu1, n.cpu2);
}

/* A lock taken by a work, then held around a wait: lockdep's cycle. */
static DEFINE_MUTEX(inversion_lock);

static int take_inversion_lock(void *arg)
{
	mutex_lock(&inversion_lock);
	mutex_unlock(&inversion_lock);
	return 0;
}

static void show_lockdep_inversion(void)
{
	int cpu = cpumask_first(cpu_online_mask), ran_on = -1, ret1, ret2;

	ret1 = rmigration_stop_one_cpu(cpu, take_inversion_lock, NULL);
	mutex_lock(&inversion_lock);
	ret2 = rmigration_stop_one_cpu(cpu, record_cpu, &ran_on);
	mutex_unlock(&inversion_lock);
	report(ret1 == 0 && ret2 == 42 && ran_on == cpu,
	       "a work took inversion_lock, then a caller waited holding it: both returned (the cycle is to be reported)");
}

static int __init rmigration_client_init(void)
{
	if (lockdep_inversion) {
		show_lockdep_inversion();
		pr_info("%d failed\n", failures);
		return failures ? -EIO : 0;
	}
	check_sync();
	check_nesting();
	check_bad_args();
	check_fifo();
	check_concurrent();
	check_offline();
	check_multi();
	pr_info("%d failed\n", failures);
	return failures ? -EIO : 0;
}

static void __exit rmigration_client_exit(void)
{
}

module_init(rmigration_client_init);
module_exit(rmigration_client_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Checks of the rmigration C API from another module");
