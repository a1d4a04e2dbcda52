// SPDX-License-Identifier: GPL-2.0
/*
 * rmigration_bench: round-trip latency of running a function on a CPU,
 * through rmigration and through the kernel's own mechanisms, measured from
 * a thread bound to caller_cpu:
 *
 *   rstop_one_cpu    rmigration_stop_one_cpu(cpu, fn)
 *   stop_core        stop_core_cpuslocked(cpu, fn): the kernel's stopper on
 *                    the CPUs of cpu's SMT core, which in a guest with one
 *                    thread per core is cpu alone (the log says so)
 *   ipi              smp_call_function_single(cpu, fn, wait=1): the floor
 *   work_on_cpu      work_on_cpu(cpu, fn): what a module would use instead
 *   stop_machine     stop_machine(fn, cpumask_of(cpu)): every online CPU stopped
 *   rstop_machine    rmigration_stop_machine(fn, cpumask_of(cpu)): the same
 *                    through rmigration (for the local target, cpu is the
 *                    first online CPU, where cpus == NULL runs fn too)
 *
 * for target_cpu (remote) and caller_cpu (local), and two cases that stop
 * the pair of caller_cpu and target_cpu, "remote" only:
 *
 *   rstop_two_cpus   rmigration_stop_two_cpus(target_cpu, caller_cpu, fn):
 *                    fn on target_cpu, both CPUs stopped
 *   stop_machine_two stop_machine(fn, {caller_cpu, target_cpu}): what a
 *                    module has instead (stop_two_cpus() is not exported):
 *                    fn on both CPUs, every online CPU stopped
 *
 * Loading the module runs the cases and logs one line per case:
 *
 *   rmigration_bench: case=ipi target=remote label=idle n=1000 p50=... p90=... p99=... max=...
 *
 * and /sys/kernel/debug/rmigration_bench/samples lists every sample
 * ("sample case target label ns") until the module is unloaded.
 *
 * With case_ms=N, a case stops taking samples for a target once N ms have
 * passed (its warm-up once N / 10 ms have), and n says how many it took.
 *
 * With breakdown=N, the stopper cases (rstop_one_cpu, stop_core) and the
 * multi-CPU ones but stop_machine_two (whose function runs on two CPUs)
 * then run N more round trips each (fewer if case_ms passes first) with
 * probes on the scheduler's sched_waking and sched_switch tracepoints,
 * which split a round trip into its steps:
 *
 *   call      the caller starts the call                  t0
 *   wake      the stopper thread is being woken           sched_waking(thread)
 *   in        the thread is switched in on its CPU        sched_switch(next=thread)
 *   fn        the function starts                         read in the function
 *   done      the caller is being woken                   sched_waking(caller)
 *   back      the caller is switched back in              sched_switch(next=caller)
 *   return    the call has returned                       t1
 *
 * and logs the median of each step ("breakdown case=... call_wake=... ...").
 * A step whose event did not happen (a local caller that never slept is
 * not woken) counts as 0 and its time goes to the next step. In a
 * multi-CPU stop, "thread" is the stopper thread of the CPU that runs the
 * function, and in_fn is the rendezvous up to RUN. The caller's CPU takes
 * part, and its thread preempts the caller, which is then rarely asleep
 * and woken: fn_done + done_back is the way from RUN to the caller being
 * switched back in (the last states, the threads' exits, and the switch
 * out of the caller's CPU's thread).
 *
 * With hold=N, rstop_machine and stop_machine (function on target_cpu,
 * every online CPU stopped) then run N more stops each (fewer if case_ms
 * passes first) with a probe on sched_switch that follows the stopper
 * thread of every online CPU (rmigration/N, resp. the kernel's
 * migration/N, found by name): per stop, the longest stretch any of them
 * stayed on its CPU, from a switch-in to the next switch-out. After each
 * stop the caller waits until all of them are switched out, so that every
 * stretch belongs to one stop. Logged over the stops:
 *
 *   hold case=rstop_machine target=remote label=idle n=... cpus=... missed=0 p50=... max=...
 *
 * (cpus: the participants; missed: stops left out because a participant
 * showed no stretch or stayed on its CPU for over a second after the
 * stop.) If the kernel has the irq_disable and irq_enable tracepoints
 * (CONFIG_TRACE_IRQFLAGS), probes on them also time the interrupts-off
 * windows of those threads, from an irq_disable while the thread is
 * current, or from its switch-in (a task is switched in with interrupts
 * off), to the next irq_enable or its switch-out; per stop, the longest
 * of any participant:
 *
 *   irqsoff case=rstop_machine target=remote label=idle n=... p50=... max=...
 *
 * With cputime=N, rstop_one_cpu and stop_core then run N round trips each
 * to target_cpu with a probe on sched_switch that adds up the time the
 * caller is switched out (from its switch-out to its switch-in, both on
 * caller_cpu); the caller's CPU time of a round trip is its wall time
 * minus that. As a check of the probe, exec_mean is the caller's
 * sum_exec_runtime over the whole series divided by N, read just after a
 * sleep before and after it (a switch-out brings it up to date):
 *
 *   cputime case=rstop_one_cpu target=remote label=idle n=... wall_p50=... p50=... p99=... max=... mean=... exec_mean=...
 *
 * The samples file then also lists each stop and round trip of these:
 * "hold case target label ns", "irqsoff case target label ns" and
 * "cputime case target label cpu_ns wall_ns".
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/seq_file.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sort.h>
#include <linux/smp.h>
#include <linux/stop_machine.h>
#include <linux/timekeeping.h>
#include <linux/topology.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <rmigration.h>

static unsigned int iters = 1000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "Round trips per case (default 1000)");
static unsigned int case_ms;
module_param(case_ms, uint, 0444);
MODULE_PARM_DESC(case_ms, "Stop a case and target after this many ms, with fewer round trips (default 0: no limit)");
static unsigned int caller_cpu;
module_param(caller_cpu, uint, 0444);
MODULE_PARM_DESC(caller_cpu, "CPU the measuring thread runs on (default 0)");
static unsigned int target_cpu = 1;
module_param(target_cpu, uint, 0444);
MODULE_PARM_DESC(target_cpu, "The remote CPU (default 1)");
static char *label = "idle";
module_param(label, charp, 0444);
MODULE_PARM_DESC(label, "Label of this run in the output, e.g. idle or busy");
static char *cases = "rstop_one_cpu,stop_core,ipi,work_on_cpu,stop_machine,rstop_machine,rstop_two_cpus,stop_machine_two";
module_param(cases, charp, 0444);
MODULE_PARM_DESC(cases, "Comma-separated cases to run");
static unsigned int breakdown;
module_param(breakdown, uint, 0444);
MODULE_PARM_DESC(breakdown, "Round trips of the step breakdown per stopper case (default 0: none)");
static unsigned int hold;
module_param(hold, uint, 0444);
MODULE_PARM_DESC(hold, "Stops per machine stop timing its participants' stretches (default 0: none)");
static unsigned int cputime;
module_param(cputime, uint, 0444);
MODULE_PARM_DESC(cputime, "Round trips per one-CPU stopper timing the caller's CPU (default 0: none)");

/* The steps of one round trip of the breakdown, in ns (0: did not happen). */
enum { T_CALL, T_WAKE, T_IN, T_FN, T_DONE, T_BACK, T_RETURN, T_NR };
static const char *const step_names[T_NR - 1] = {
	"call_wake", "wake_in", "in_fn", "fn_done", "done_back", "back_return",
};

/*
 * The round trip being broken down, written by the measuring thread and
 * read by the probes on any CPU; NULL outside one.
 */
static u64 *bd_cur;
/* The measuring thread, set before any probe is registered. */
static struct task_struct *bd_caller;
/* The stopper thread that ran the last function: set by the function. */
static struct task_struct *bd_thread;

static int noop(void *arg)
{
	u64 *t = READ_ONCE(bd_cur);

	WRITE_ONCE(bd_thread, current);
	if (t)
		t[T_FN] = ktime_get_ns();
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

static int run_stop_core(unsigned int cpu)
{
	int ret;

	cpus_read_lock();
	ret = stop_core_cpuslocked(cpu, noop, NULL);
	cpus_read_unlock();
	return ret;
}

static int run_stop_machine(unsigned int cpu)
{
	return stop_machine(noop, NULL, cpumask_of(cpu));
}

static int run_rstop_machine(unsigned int cpu)
{
	return rmigration_stop_machine(noop, NULL, cpumask_of(cpu));
}

/* The pair cases: cpu is target_cpu, the other CPU caller_cpu. */
static int run_rstop_two_cpus(unsigned int cpu)
{
	return rmigration_stop_two_cpus(cpu, caller_cpu, noop, NULL);
}

static struct cpumask pair_mask;

static int run_stop_machine_two(unsigned int cpu)
{
	return stop_machine(noop, NULL, &pair_mask);
}

static const struct {
	const char *name;
	int (*run)(unsigned int cpu);
	bool pair;	/* stops caller_cpu and target_cpu: remote only */
} all_cases[] = {
	{ "rstop_one_cpu", run_rstop },
	{ "stop_core", run_stop_core },
	{ "ipi", run_ipi },
	{ "work_on_cpu", run_work_on_cpu },
	{ "stop_machine", run_stop_machine },
	{ "rstop_machine", run_rstop_machine },
	{ "rstop_two_cpus", run_rstop_two_cpus, true },
	{ "stop_machine_two", run_stop_machine_two, true },
};

/* Whether case c is in the comma-separated list cases (whole names only). */
static bool wanted(int c)
{
	const char *name = all_cases[c].name, *p = cases;
	size_t len = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == cases || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return !all_cases[c].pair || caller_cpu != target_cpu;
		p += len;
	}
	return false;
}

/* Targets of case c: remote and local, or remote only for a pair case. */
static int nr_targets(int c)
{
	return all_cases[c].pair ? 1 : 2;
}

/*
 * Samples of case c, remote (t = 0) or local (t = 1): all[(c * 2 + t) * iters + i],
 * i < taken[c * 2 + t] (iters unless case_ms cut the case short).
 */
static u64 *all;
static unsigned int taken[ARRAY_SIZE(all_cases) * 2];
static u64 *samples;
static unsigned int n_samples;
static struct dentry *dir;
static const char *const targets[] = { "remote", "local" };

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* How long a case may take samples for a target, in ns. */
static u64 case_limit_ns(void)
{
	if (!case_ms)
		return U64_MAX;
	return (u64)case_ms * NSEC_PER_MSEC;
}

/* The p-th percentile of the n > 0 sorted values v. */
static u64 pct(const u64 *v, unsigned int n, unsigned int p)
{
	return v[min_t(u64, (u64)n * p / 100, n - 1)];
}

static void bench_case(int c, int t, unsigned int cpu)
{
	unsigned int i, errors = 0;
	const char *where = targets[t];
	u64 start, limit = case_limit_ns();

	samples = all + (size_t)(c * 2 + t) * iters;
	/* Warm up: first calls fault in code and wake things up. */
	start = ktime_get_ns();
	for (i = 0; i < 10 && ktime_get_ns() - start < limit / 10; i++)
		all_cases[c].run(cpu);
	start = ktime_get_ns();
	for (i = 0; i < iters && (!i || ktime_get_ns() - start < limit); i++) {
		u64 t0 = ktime_get_ns();

		if (all_cases[c].run(cpu))
			errors++;
		samples[i] = ktime_get_ns() - t0;
	}
	n_samples = taken[c * 2 + t] = i;
	sort(samples, n_samples, sizeof(*samples), cmp_u64, NULL);
	pr_info("case=%s target=%s label=%s n=%u errors=%u p50=%llu p90=%llu p99=%llu max=%llu\n",
		all_cases[c].name, where, label, n_samples, errors, pct(samples, n_samples, 50),
		pct(samples, n_samples, 90), pct(samples, n_samples, 99), samples[n_samples - 1]);
}

/* Probes on the scheduler's tracepoints, for the breakdown. */
static void probe_waking(void *data, struct task_struct *p)
{
	u64 *t = READ_ONCE(bd_cur);

	if (!t)
		return;
	if (p == READ_ONCE(bd_thread) && !t[T_WAKE])
		t[T_WAKE] = ktime_get_ns();
	else if (p == bd_caller && t[T_FN] && !t[T_DONE])
		t[T_DONE] = ktime_get_ns();
}

static void probe_switch(void *data, bool preempt, struct task_struct *prev,
			 struct task_struct *next, unsigned int prev_state)
{
	u64 *t = READ_ONCE(bd_cur);

	if (!t)
		return;
	if (next == READ_ONCE(bd_thread) && !t[T_IN])
		t[T_IN] = ktime_get_ns();
	else if (next == bd_caller && t[T_FN] && !t[T_BACK])
		t[T_BACK] = ktime_get_ns();
}

static struct tracepoint *tp_waking, *tp_switch, *tp_irq_disable, *tp_irq_enable;

static void find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_waking"))
		tp_waking = tp;
	else if (!strcmp(tp->name, "sched_switch"))
		tp_switch = tp;
	else if (!strcmp(tp->name, "irq_disable"))
		tp_irq_disable = tp;
	else if (!strcmp(tp->name, "irq_enable"))
		tp_irq_enable = tp;
}

/* Median of step s (from the previous recorded time) over n round trips. */
static u64 step_p50(u64 (*rt)[T_NR], unsigned int n, int s, u64 *scratch)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		int prev = s;
		u64 end = rt[i][s + 1];

		/* A step whose event did not happen ends at the next one. */
		while (prev > T_CALL && !rt[i][prev])
			prev--;
		scratch[i] = end && end > rt[i][prev] ? end - rt[i][prev] : 0;
	}
	sort(scratch, n, sizeof(*scratch), cmp_u64, NULL);
	return scratch[n / 2];
}

static void bench_breakdown(int c, int t, unsigned int cpu)
{
	u64 (*rt)[T_NR], *scratch, p50[T_NR - 1];
	unsigned int i, n = breakdown;
	u64 start, limit = case_limit_ns();

	rt = vcalloc(n, sizeof(*rt));
	scratch = vmalloc_array(n, sizeof(*scratch));
	if (!rt || !scratch)
		goto out;
	for (i = 0; i < 10; i++)
		all_cases[c].run(cpu);
	start = ktime_get_ns();
	for (i = 0; i < n; i++) {
		if (i && ktime_get_ns() - start > limit) {
			n = i;
			break;
		}
		rt[i][T_CALL] = ktime_get_ns();
		WRITE_ONCE(bd_cur, rt[i]);
		all_cases[c].run(cpu);
		WRITE_ONCE(bd_cur, NULL);
		rt[i][T_RETURN] = ktime_get_ns();
	}
	/* No probe may still be writing into rt when it is read. */
	tracepoint_synchronize_unregister();
	for (i = 0; i < T_NR - 1; i++)
		p50[i] = step_p50(rt, n, i, scratch);
	for (i = 0; i < n; i++)
		scratch[i] = rt[i][T_RETURN] - rt[i][T_CALL];
	sort(scratch, n, sizeof(*scratch), cmp_u64, NULL);
	pr_info("breakdown case=%s target=%s label=%s n=%u %s=%llu %s=%llu %s=%llu %s=%llu %s=%llu %s=%llu total=%llu\n",
		all_cases[c].name, targets[t], label, n,
		step_names[0], p50[0], step_names[1], p50[1], step_names[2], p50[2],
		step_names[3], p50[3], step_names[4], p50[4], step_names[5], p50[5],
		scratch[n / 2]);
out:
	vfree(scratch);
	vfree(rt);
}

/* The breakdown of the stopper cases: the probes are on only meanwhile. */
static void bench_breakdowns(void)
{
	unsigned int c;

	if (!tp_waking || !tp_switch) {
		pr_info("breakdown: no sched_waking/sched_switch tracepoints in this kernel\n");
		return;
	}
	if (tracepoint_probe_register(tp_waking, probe_waking, NULL))
		return;
	if (tracepoint_probe_register(tp_switch, probe_switch, NULL)) {
		tracepoint_probe_unregister(tp_waking, probe_waking, NULL);
		return;
	}
	for (c = 0; c < ARRAY_SIZE(all_cases); c++) {
		/* Not the IPI and work_on_cpu() (no stopper thread), nor
		 * stop_machine_two, whose function runs on two CPUs. */
		if (all_cases[c].run == run_ipi || all_cases[c].run == run_work_on_cpu ||
		    all_cases[c].run == run_stop_machine_two)
			continue;
		if (!wanted(c))
			continue;
		bench_breakdown(c, 0, target_cpu);
		if (nr_targets(c) > 1)
			bench_breakdown(c, 1, caller_cpu);
	}
	tracepoint_probe_unregister(tp_switch, probe_switch, NULL);
	tracepoint_probe_unregister(tp_waking, probe_waking, NULL);
	tracepoint_synchronize_unregister();
}

/* The index of the case run by run in all_cases, if it is wanted; else -1. */
static int case_of(int (*run)(unsigned int cpu))
{
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(all_cases); c++)
		if (all_cases[c].run == run)
			return wanted(c) ? c : -1;
	return -1;
}

/* The machine stops of the hold figure, with the names of their threads. */
static const struct {
	int (*run)(unsigned int cpu);
	const char *thread;	/* the stopper thread of CPU N is "<thread>/N" */
} hold_cases[] = {
	{ run_rstop_machine, "rmigration" },
	{ run_stop_machine, "migration" },
};

/*
 * The stretches of one CPU's stopper thread on its CPU. The probes write
 * it on that CPU only, with interrupts off. The measuring thread resets
 * and reads it while the thread is switched out (in == 0, stored with
 * release after the figures).
 */
struct hold_cpu {
	struct task_struct *thread;	/* the stopper thread, NULL when not followed */
	u64 in;			/* when it was switched in; 0 while switched out */
	u64 irqs_from;		/* start of its interrupts-off window; 0: none open */
	u64 longest;		/* longest stretch since the reset */
	u64 irqs_longest;	/* longest interrupts-off window since the reset */
	unsigned int stretches;	/* stretches ended since the reset */
};

static DEFINE_PER_CPU(struct hold_cpu, hold_cpu);

/*
 * Per stop of hold_cases[h]: hold_ns[h * hold + i] the longest stretch,
 * irqs_ns[h * hold + i] the longest interrupts-off window of any
 * participant, i < hold_taken[h].
 */
static u64 *hold_ns, *irqs_ns;
static unsigned int hold_taken[ARRAY_SIZE(hold_cases)];
static bool hold_irqs;

/*
 * The three probes of the hold figure read one clock, the lockless one
 * (CLOCK_MONOTONIC, as ktime_get_ns()): irq_disable and irq_enable fire
 * wherever interrupts are turned off or on, also on the way into an NMI,
 * where the probes return at once.
 */
static void probe_hold_switch(void *data, bool preempt, struct task_struct *prev,
			      struct task_struct *next, unsigned int prev_state)
{
	struct hold_cpu *h = this_cpu_ptr(&hold_cpu);
	u64 now;

	if (prev != h->thread && next != h->thread)
		return;
	now = ktime_get_mono_fast_ns();
	if (prev == h->thread && h->in) {
		if (h->irqs_from)
			WRITE_ONCE(h->irqs_longest, max(h->irqs_longest, now - h->irqs_from));
		h->irqs_from = 0;
		WRITE_ONCE(h->longest, max(h->longest, now - h->in));
		WRITE_ONCE(h->stretches, h->stretches + 1);
		/* Pairs with the smp_load_acquire() in hold_wait(). */
		smp_store_release(&h->in, 0);
	} else if (next == h->thread) {
		/* A task is switched in with interrupts off. */
		h->irqs_from = now;
		WRITE_ONCE(h->in, now);
	}
}

static void probe_hold_irq_disable(void *data, unsigned long ip, unsigned long parent_ip)
{
	struct hold_cpu *h;

	/* An NMI is no window of the thread's. */
	if (in_nmi())
		return;
	h = this_cpu_ptr(&hold_cpu);
	if (current == h->thread && h->in && !h->irqs_from)
		h->irqs_from = ktime_get_mono_fast_ns();
}

static void probe_hold_irq_enable(void *data, unsigned long ip, unsigned long parent_ip)
{
	struct hold_cpu *h;

	if (in_nmi())
		return;
	h = this_cpu_ptr(&hold_cpu);
	if (current == h->thread && h->irqs_from) {
		WRITE_ONCE(h->irqs_longest,
			   max(h->irqs_longest, ktime_get_mono_fast_ns() - h->irqs_from));
		h->irqs_from = 0;
	}
}

/* Drops the references on the followed threads. */
static void hold_put_threads(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct hold_cpu *h = per_cpu_ptr(&hold_cpu, cpu);

		if (h->thread)
			put_task_struct(h->thread);
		h->thread = NULL;
	}
}

/*
 * Follows the thread "<name>/N" of every online CPU N (a kthread bound to
 * N), with a reference; called with no probe registered. Returns 0, or
 * -ENOENT if a CPU has none.
 */
static int hold_get_threads(const char *name)
{
	char comm[TASK_COMM_LEN];
	struct task_struct *p;
	unsigned int cpu, found = 0;

	rcu_read_lock();
	for_each_process(p) {
		struct hold_cpu *h;

		if (!(p->flags & PF_KTHREAD) || p->nr_cpus_allowed != 1)
			continue;
		cpu = cpumask_first(p->cpus_ptr);
		if (cpu >= nr_cpu_ids || !cpu_online(cpu))
			continue;
		snprintf(comm, sizeof(comm), "%s/%u", name, cpu);
		h = per_cpu_ptr(&hold_cpu, cpu);
		if (h->thread || strcmp(p->comm, comm))
			continue;
		get_task_struct(p);
		h->in = 0;
		h->irqs_from = 0;
		h->thread = p;
		found++;
	}
	rcu_read_unlock();
	if (found == num_online_cpus())
		return 0;
	hold_put_threads();
	return -ENOENT;
}

/* Starts a stop's figures: every followed thread is switched out. */
static void hold_reset(void)
{
	unsigned int cpu;

	for_each_online_cpu(cpu) {
		struct hold_cpu *h = per_cpu_ptr(&hold_cpu, cpu);

		WRITE_ONCE(h->longest, 0);
		WRITE_ONCE(h->irqs_longest, 0);
		WRITE_ONCE(h->stretches, 0);
	}
}

/*
 * Waits until every followed thread is switched out, for up to a second;
 * returns whether they are.
 */
static bool hold_wait(void)
{
	u64 start = ktime_get_ns();
	unsigned int cpu;

	for_each_online_cpu(cpu) {
		struct hold_cpu *h = per_cpu_ptr(&hold_cpu, cpu);

		/* Pairs with the release in probe_hold_switch(). */
		while (smp_load_acquire(&h->in)) {
			if (ktime_get_ns() - start > NSEC_PER_SEC)
				return false;
			usleep_range(10, 20);
		}
	}
	return true;
}

/*
 * One stop's figures, once every followed thread is switched out: the
 * longest stretch and interrupts-off window of any participant. Returns
 * false if a participant showed no stretch.
 */
static bool hold_read(u64 *longest, u64 *irqs_longest)
{
	unsigned int cpu;

	*longest = 0;
	*irqs_longest = 0;
	for_each_online_cpu(cpu) {
		struct hold_cpu *h = per_cpu_ptr(&hold_cpu, cpu);

		if (!READ_ONCE(h->stretches))
			return false;
		*longest = max(*longest, READ_ONCE(h->longest));
		*irqs_longest = max(*irqs_longest, READ_ONCE(h->irqs_longest));
	}
	return true;
}

/* Registers the probes of the hold figure; returns 0 or an error. */
static int hold_probes_on(void)
{
	int ret;

	ret = tracepoint_probe_register(tp_switch, probe_hold_switch, NULL);
	if (ret || !hold_irqs)
		return ret;
	ret = tracepoint_probe_register(tp_irq_disable, probe_hold_irq_disable, NULL);
	if (ret)
		goto out_switch;
	ret = tracepoint_probe_register(tp_irq_enable, probe_hold_irq_enable, NULL);
	if (ret)
		goto out_disable;
	return 0;

out_disable:
	tracepoint_probe_unregister(tp_irq_disable, probe_hold_irq_disable, NULL);
out_switch:
	tracepoint_probe_unregister(tp_switch, probe_hold_switch, NULL);
	tracepoint_synchronize_unregister();
	return ret;
}

static void hold_probes_off(void)
{
	if (hold_irqs) {
		tracepoint_probe_unregister(tp_irq_enable, probe_hold_irq_enable, NULL);
		tracepoint_probe_unregister(tp_irq_disable, probe_hold_irq_disable, NULL);
	}
	tracepoint_probe_unregister(tp_switch, probe_hold_switch, NULL);
	/* No probe may still be running when the threads are let go. */
	tracepoint_synchronize_unregister();
}

static void bench_hold_case(int h, u64 *scratch)
{
	u64 *stretch = hold_ns + (size_t)h * hold, *irqs = irqs_ns + (size_t)h * hold;
	u64 start, limit = case_limit_ns();
	int c = case_of(hold_cases[h].run);
	unsigned int i, n = 0, missed = 0;

	if (c < 0)
		return;
	if (hold_get_threads(hold_cases[h].thread)) {
		pr_info("hold case=%s: no %s/N thread on every online CPU\n",
			all_cases[c].name, hold_cases[h].thread);
		return;
	}
	if (hold_probes_on()) {
		hold_put_threads();
		return;
	}
	for (i = 0; i < 10; i++)
		all_cases[c].run(target_cpu);
	hold_wait();
	start = ktime_get_ns();
	for (i = 0; i < hold; i++) {
		if (i && ktime_get_ns() - start > limit)
			break;
		hold_reset();
		all_cases[c].run(target_cpu);
		if (hold_wait() && hold_read(&stretch[n], &irqs[n]))
			n++;
		else
			missed++;
	}
	hold_probes_off();
	hold_put_threads();
	hold_taken[h] = n;
	if (!n) {
		pr_info("hold case=%s target=remote label=%s n=0 missed=%u\n",
			all_cases[c].name, label, missed);
		return;
	}
	memcpy(scratch, stretch, n * sizeof(*scratch));
	sort(scratch, n, sizeof(*scratch), cmp_u64, NULL);
	pr_info("hold case=%s target=remote label=%s n=%u cpus=%u missed=%u p50=%llu max=%llu\n",
		all_cases[c].name, label, n, num_online_cpus(), missed, pct(scratch, n, 50),
		scratch[n - 1]);
	if (!hold_irqs)
		return;
	memcpy(scratch, irqs, n * sizeof(*scratch));
	sort(scratch, n, sizeof(*scratch), cmp_u64, NULL);
	pr_info("irqsoff case=%s target=remote label=%s n=%u p50=%llu max=%llu\n",
		all_cases[c].name, label, n, pct(scratch, n, 50), scratch[n - 1]);
}

/* The participants' hold on their CPUs in the machine stops. */
static void bench_hold(void)
{
	unsigned int h;
	u64 *scratch;

	if (!tp_switch) {
		pr_info("hold: no sched_switch tracepoint in this kernel\n");
		return;
	}
	hold_irqs = tp_irq_disable && tp_irq_enable;
	if (!hold_irqs)
		pr_info("hold: no irq_disable/irq_enable tracepoints in this kernel: no interrupts-off windows\n");
	hold_ns = vmalloc_array(ARRAY_SIZE(hold_cases) * (size_t)hold, sizeof(*hold_ns));
	irqs_ns = vmalloc_array(ARRAY_SIZE(hold_cases) * (size_t)hold, sizeof(*irqs_ns));
	scratch = vmalloc_array(hold, sizeof(*scratch));
	if (hold_ns && irqs_ns && scratch)
		for (h = 0; h < ARRAY_SIZE(hold_cases); h++)
			bench_hold_case(h, scratch);
	vfree(scratch);
}

/* The one-CPU stoppers of the caller's CPU time. */
static int (*const cputime_cases[])(unsigned int cpu) = { run_rstop, run_stop_core };

/*
 * Per round trip of cputime_cases[k]: cpu_ns[k * cputime + i] the
 * caller's CPU time, wall_ns[...] its wall time, i < cputime_taken[k].
 */
static u64 *cpu_ns, *wall_ns;
static unsigned int cputime_taken[ARRAY_SIZE(cputime_cases)];

/*
 * The time the caller has spent switched out, and when it was last
 * switched out (0: it runs). Both change only in probe_cputime_switch(),
 * on the caller's CPU, and the caller reads them while it runs there.
 */
static u64 cc_off, cc_out;

static void probe_cputime_switch(void *data, bool preempt, struct task_struct *prev,
				 struct task_struct *next, unsigned int prev_state)
{
	if (prev == bd_caller) {
		cc_out = ktime_get_ns();
	} else if (next == bd_caller && cc_out) {
		WRITE_ONCE(cc_off, cc_off + ktime_get_ns() - cc_out);
		cc_out = 0;
	}
}

/* The wall time and switched-out time so far, read at one instant. */
static void cputime_now(u64 *wall, u64 *off)
{
	preempt_disable();
	*wall = ktime_get_ns();
	*off = READ_ONCE(cc_off);
	preempt_enable();
}

static void bench_cputime_case(int k, u64 *scratch)
{
	u64 *cpu = cpu_ns + (size_t)k * cputime, *wall = wall_ns + (size_t)k * cputime;
	u64 start, limit = case_limit_ns();
	u64 exec, sum = 0, wall_p50;
	int c = case_of(cputime_cases[k]);
	unsigned int i, n;

	if (c < 0)
		return;
	for (i = 0; i < 10; i++)
		all_cases[c].run(target_cpu);
	/* A switch-out brings sum_exec_runtime up to date. */
	schedule_timeout_uninterruptible(1);
	exec = READ_ONCE(current->se.sum_exec_runtime);
	start = ktime_get_ns();
	for (n = 0; n < cputime; n++) {
		u64 t0, t1, off0, off1;

		if (n && ktime_get_ns() - start > limit)
			break;
		cputime_now(&t0, &off0);
		all_cases[c].run(target_cpu);
		cputime_now(&t1, &off1);
		wall[n] = t1 - t0;
		/* Every switch-out in between ended before t1. */
		cpu[n] = wall[n] - min(off1 - off0, wall[n]);
		sum += cpu[n];
	}
	schedule_timeout_uninterruptible(1);
	exec = READ_ONCE(current->se.sum_exec_runtime) - exec;
	cputime_taken[k] = n;
	memcpy(scratch, wall, n * sizeof(*scratch));
	sort(scratch, n, sizeof(*scratch), cmp_u64, NULL);
	wall_p50 = pct(scratch, n, 50);
	memcpy(scratch, cpu, n * sizeof(*scratch));
	sort(scratch, n, sizeof(*scratch), cmp_u64, NULL);
	pr_info("cputime case=%s target=remote label=%s n=%u wall_p50=%llu p50=%llu p99=%llu max=%llu mean=%llu exec_mean=%llu\n",
		all_cases[c].name, label, n, wall_p50, pct(scratch, n, 50), pct(scratch, n, 99),
		scratch[n - 1], div_u64(sum, n), div_u64(exec, n));
}

/* The caller's CPU time per round trip of the one-CPU stoppers. */
static void bench_cputime(void)
{
	unsigned int k;
	u64 *scratch;

	if (!tp_switch) {
		pr_info("cputime: no sched_switch tracepoint in this kernel\n");
		return;
	}
	cpu_ns = vmalloc_array(ARRAY_SIZE(cputime_cases) * (size_t)cputime, sizeof(*cpu_ns));
	wall_ns = vmalloc_array(ARRAY_SIZE(cputime_cases) * (size_t)cputime, sizeof(*wall_ns));
	scratch = vmalloc_array(cputime, sizeof(*scratch));
	if (!cpu_ns || !wall_ns || !scratch)
		goto out;
	if (tracepoint_probe_register(tp_switch, probe_cputime_switch, NULL))
		goto out;
	for (k = 0; k < ARRAY_SIZE(cputime_cases); k++)
		bench_cputime_case(k, scratch);
	tracepoint_probe_unregister(tp_switch, probe_cputime_switch, NULL);
	tracepoint_synchronize_unregister();
out:
	vfree(scratch);
}

static struct completion bench_done;

static int samples_show(struct seq_file *m, void *v)
{
	unsigned int c, t, i;

	for (c = 0; c < ARRAY_SIZE(all_cases); c++) {
		if (!wanted(c))
			continue;
		for (t = 0; t < nr_targets(c); t++)
			for (i = 0; i < taken[c * 2 + t]; i++)
				seq_printf(m, "sample %s %s %s %llu\n", all_cases[c].name,
					   targets[t], label, all[(c * 2 + t) * (size_t)iters + i]);
	}
	for (c = 0; c < ARRAY_SIZE(hold_cases); c++) {
		int k = case_of(hold_cases[c].run);

		for (i = 0; k >= 0 && i < hold_taken[c]; i++)
			seq_printf(m, "hold %s remote %s %llu\n", all_cases[k].name, label,
				   hold_ns[(size_t)c * hold + i]);
		for (i = 0; k >= 0 && hold_irqs && i < hold_taken[c]; i++)
			seq_printf(m, "irqsoff %s remote %s %llu\n", all_cases[k].name, label,
				   irqs_ns[(size_t)c * hold + i]);
	}
	for (c = 0; c < ARRAY_SIZE(cputime_cases); c++) {
		int k = case_of(cputime_cases[c]);

		for (i = 0; k >= 0 && i < cputime_taken[c]; i++)
			seq_printf(m, "cputime %s remote %s %llu %llu\n", all_cases[k].name,
				   label, cpu_ns[(size_t)c * cputime + i],
				   wall_ns[(size_t)c * cputime + i]);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(samples);

static int bench_thread(void *arg)
{
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(all_cases); c++) {
		if (!wanted(c))
			continue;
		bench_case(c, 0, target_cpu);
		if (nr_targets(c) > 1)
			bench_case(c, 1, caller_cpu);
	}
	for_each_kernel_tracepoint(find_tracepoint, NULL);
	bd_caller = current;
	if (breakdown)
		bench_breakdowns();
	if (hold)
		bench_hold();
	if (cputime)
		bench_cputime();
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
	pr_info("smt siblings: caller CPU %u: %u, target CPU %u: %u (stop_core stops exactly one CPU only if 1)\n",
		caller_cpu, cpumask_weight(cpu_smt_mask(caller_cpu)),
		target_cpu, cpumask_weight(cpu_smt_mask(target_cpu)));
	cpumask_clear(&pair_mask);
	cpumask_set_cpu(caller_cpu, &pair_mask);
	cpumask_set_cpu(target_cpu, &pair_mask);
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
	/*
	 * A run can take minutes on an oversubscribed VM: wait in steps, so
	 * that the hung-task detector does not take insmod for a hung task.
	 */
	while (!wait_for_completion_timeout(&bench_done, 10 * HZ))
		;
	kthread_stop(t);
	dir = debugfs_create_dir("rmigration_bench", NULL);
	debugfs_create_file("samples", 0400, dir, NULL, &samples_fops);
	return 0;
}

static void __exit rmigration_bench_exit(void)
{
	debugfs_remove(dir);
	vfree(wall_ns);
	vfree(cpu_ns);
	vfree(irqs_ns);
	vfree(hold_ns);
	vfree(all);
}

module_init(rmigration_bench_init);
module_exit(rmigration_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Latency of rmigration against the kernel's stopper, IPIs, work_on_cpu and stop_machine");
