// SPDX-License-Identifier: GPL-2.0
/*
 * rmigration_bench: round-trip latency of running a function on a CPU,
 * through rmigration and through the kernel's own mechanisms, measured from
 * a thread bound to caller_cpu:
 *
 *   rstop_one_cpu    rmigration_stop_one_cpu(cpu, fn)
 *   ipi              smp_call_function_single(cpu, fn, wait=1): the floor
 *   work_on_cpu      work_on_cpu(cpu, fn): what a module would use instead
 *   stop_machine     stop_machine(fn, cpumask_of(cpu)): the kernel's stopper
 *
 * for target_cpu (remote) and caller_cpu (local). Loading the module runs
 * the cases and logs one line per case:
 *
 *   rmigration_bench: case=ipi target=remote label=idle n=1000 p50=... p90=... p99=... max=...
 *
 * and /sys/kernel/debug/rmigration_bench/samples lists every sample
 * ("sample case target label ns") until the module is unloaded.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sort.h>
#include <linux/smp.h>
#include <linux/stop_machine.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <rmigration.h>

static unsigned int iters = 1000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "Round trips per case (default 1000)");
static unsigned int caller_cpu;
module_param(caller_cpu, uint, 0444);
MODULE_PARM_DESC(caller_cpu, "CPU the measuring thread runs on (default 0)");
static unsigned int target_cpu = 1;
module_param(target_cpu, uint, 0444);
MODULE_PARM_DESC(target_cpu, "The remote CPU (default 1)");
static char *label = "idle";
module_param(label, charp, 0444);
MODULE_PARM_DESC(label, "Label of this run in the output, e.g. idle or busy");
static char *cases = "rstop_one_cpu,ipi,work_on_cpu,stop_machine";
module_param(cases, charp, 0444);
MODULE_PARM_DESC(cases, "Comma-separated cases to run");

static int noop(void *arg)
{
	return 0;
}

static void noop_ipi(void *arg)
{
}

static long noop_long(void *arg)
{
	return 0;
}

static int run_rstop(unsigned int cpu)
{
	return rmigration_stop_one_cpu(cpu, noop, NULL);
}

static int run_ipi(unsigned int cpu)
{
	return smp_call_function_single(cpu, noop_ipi, NULL, 1);
}

static int run_work_on_cpu(unsigned int cpu)
{
	return work_on_cpu(cpu, noop_long, NULL);
}

static int run_stop_machine(unsigned int cpu)
{
	return stop_machine(noop, NULL, cpumask_of(cpu));
}

static const struct {
	const char *name;
	int (*run)(unsigned int cpu);
} all_cases[] = {
	{ "rstop_one_cpu", run_rstop },
	{ "ipi", run_ipi },
	{ "work_on_cpu", run_work_on_cpu },
	{ "stop_machine", run_stop_machine },
};

/* Samples of case c, remote (t = 0) or local (t = 1): all[(c * 2 + t) * iters + i]. */
static u64 *all;
static u64 *samples;
static struct dentry *dir;
static const char *const targets[] = { "remote", "local" };

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 pct(unsigned int p)
{
	return samples[min_t(u64, (u64)iters * p / 100, iters - 1)];
}

static void bench_case(int c, int t, unsigned int cpu)
{
	unsigned int i, errors = 0;
	const char *where = targets[t];

	samples = all + (size_t)(c * 2 + t) * iters;
	/* Warm up: first calls fault in code and wake things up. */
	for (i = 0; i < 10; i++)
		all_cases[c].run(cpu);
	for (i = 0; i < iters; i++) {
		u64 t0 = ktime_get_ns();

		if (all_cases[c].run(cpu))
			errors++;
		samples[i] = ktime_get_ns() - t0;
	}
	sort(samples, iters, sizeof(*samples), cmp_u64, NULL);
	pr_info("case=%s target=%s label=%s n=%u errors=%u p50=%llu p90=%llu p99=%llu max=%llu\n",
		all_cases[c].name, where, label, iters, errors, pct(50), pct(90), pct(99),
		samples[iters - 1]);
}

static struct completion bench_done;

static int samples_show(struct seq_file *m, void *v)
{
	unsigned int c, t, i;

	for (c = 0; c < ARRAY_SIZE(all_cases); c++) {
		if (!strstr(cases, all_cases[c].name))
			continue;
		for (t = 0; t < 2; t++)
			for (i = 0; i < iters; i++)
				seq_printf(m, "sample %s %s %s %llu\n", all_cases[c].name,
					   targets[t], label, all[(c * 2 + t) * (size_t)iters + i]);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(samples);

static int bench_thread(void *arg)
{
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(all_cases); c++) {
		if (!strstr(cases, all_cases[c].name))
			continue;
		bench_case(c, 0, target_cpu);
		bench_case(c, 1, caller_cpu);
	}
	complete(&bench_done);
	/* Exit only through kthread_stop(): the module text must outlive us. */
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

static int __init rmigration_bench_init(void)
{
	struct task_struct *t;

	if (!iters || caller_cpu >= nr_cpu_ids || target_cpu >= nr_cpu_ids ||
	    !cpu_online(caller_cpu) || !cpu_online(target_cpu))
		return -EINVAL;
	all = vmalloc_array(ARRAY_SIZE(all_cases) * 2 * (size_t)iters, sizeof(*all));
	if (!all)
		return -ENOMEM;
	init_completion(&bench_done);
	t = kthread_create_on_cpu(bench_thread, NULL, caller_cpu, "rmig_bench/%u");
	if (IS_ERR(t)) {
		vfree(all);
		return PTR_ERR(t);
	}
	wake_up_process(t);
	wait_for_completion(&bench_done);
	kthread_stop(t);
	dir = debugfs_create_dir("rmigration_bench", NULL);
	debugfs_create_file("samples", 0400, dir, NULL, &samples_fops);
	return 0;
}

static void __exit rmigration_bench_exit(void)
{
	debugfs_remove(dir);
	vfree(all);
}

module_init(rmigration_bench_init);
module_exit(rmigration_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Latency of rmigration against IPIs, work_on_cpu and stop_machine");
