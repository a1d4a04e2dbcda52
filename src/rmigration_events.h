/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trace events of rmigration: /sys/kernel/tracing/events/rmigration/.
 *
 * One event per step of every work of a stopper (queued, waking, started,
 * done; or refused), and the request and outcome of each migration. A work
 * is named by its stopper's CPU and its id, which counts per stopper: the
 * pair is unique while the module is loaded.
 *
 * The events are called from Rust (src/trace.rs) through the
 * rust_do_trace_<event>() functions that rmigration_events.c creates with
 * CREATE_RUST_TRACE_POINTS; the static branch of each is tested in Rust, so
 * a disabled event costs one patched-out jump.
 */

#undef TRACE_SYSTEM
#define TRACE_SYSTEM rmigration

#undef TRACE_INCLUDE_PATH
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE rmigration_events

#if !defined(_RMIGRATION_EVENTS_H) || defined(TRACE_HEADER_MULTI_READ)
#define _RMIGRATION_EVENTS_H

#include <linux/sched.h>
#include <linux/tracepoint.h>

/* Where a task was when a migration's work ran (enum in ffi.h). */
#define rmigration_show_where(where)				\
	__print_symbolic(where,					\
			 { 0, "sleeping" },			\
			 { 1, "runnable" },			\
			 { 2, "running" })

/* A step of work @id of the stopper of @cpu. */
DECLARE_EVENT_CLASS(rmigration_work_step,
	TP_PROTO(unsigned int cpu, u64 id),
	TP_ARGS(cpu, id),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		id)
	),
	TP_fast_assign(
		__entry->cpu	= cpu;
		__entry->id	= id;
	),
	TP_printk("cpu=%u id=%llu", __entry->cpu, __entry->id)
);

/* A work was added to the list of the stopper of @cpu. */
DEFINE_EVENT(rmigration_work_step, rmigration_work_queued,
	TP_PROTO(unsigned int cpu, u64 id),
	TP_ARGS(cpu, id)
);

/*
 * The queuer of a work wakes rmigration/@cpu, with preemption still off
 * since it queued (as cpu_stop_queue_work() does); @first: the list was
 * empty, else the work waits behind earlier ones.
 */
TRACE_EVENT(rmigration_work_waking,
	TP_PROTO(unsigned int cpu, u64 id, bool first),
	TP_ARGS(cpu, id, first),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		id)
		__field(bool,		first)
	),
	TP_fast_assign(
		__entry->cpu	= cpu;
		__entry->id	= id;
		__entry->first	= first;
	),
	TP_printk("cpu=%u id=%llu first=%d", __entry->cpu, __entry->id, __entry->first)
);

/*
 * rmigration/@cpu starts running a work: its function, the return address
 * of the C API call that queued it (0 from within the module) and its name
 * ("" if none).
 */
TRACE_EVENT(rmigration_work_started,
	TP_PROTO(unsigned int cpu, u64 id, unsigned long func, unsigned long caller,
		 const char *name),
	TP_ARGS(cpu, id, func, caller, name),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		id)
		__field(unsigned long,	func)
		__field(unsigned long,	caller)
		__string(name,		name)
	),
	TP_fast_assign(
		__entry->cpu	= cpu;
		__entry->id	= id;
		__entry->func	= func;
		__entry->caller	= caller;
		__assign_str(name);
	),
	TP_printk("cpu=%u id=%llu fn=%ps caller=%pS name=%s", __entry->cpu, __entry->id,
		  (void *)__entry->func, (void *)__entry->caller, __get_str(name))
);

/* A work returned @ret, @latency_ns after it was queued. */
TRACE_EVENT(rmigration_work_done,
	TP_PROTO(unsigned int cpu, u64 id, int ret, u64 latency_ns),
	TP_ARGS(cpu, id, ret, latency_ns),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		id)
		__field(int,		ret)
		__field(u64,		latency_ns)
	),
	TP_fast_assign(
		__entry->cpu		= cpu;
		__entry->id		= id;
		__entry->ret		= ret;
		__entry->latency_ns	= latency_ns;
	),
	TP_printk("cpu=%u id=%llu ret=%d latency_ns=%llu", __entry->cpu, __entry->id,
		  __entry->ret, __entry->latency_ns)
);

/* A work was refused (-ENOENT): the stopper of @cpu is disabled. */
TRACE_EVENT(rmigration_work_refused,
	TP_PROTO(unsigned int cpu, u64 id, unsigned long func, unsigned long caller),
	TP_ARGS(cpu, id, func, caller),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		id)
		__field(unsigned long,	func)
		__field(unsigned long,	caller)
	),
	TP_fast_assign(
		__entry->cpu	= cpu;
		__entry->id	= id;
		__entry->func	= func;
		__entry->caller	= caller;
	),
	TP_printk("cpu=%u id=%llu fn=%ps caller=%pS", __entry->cpu, __entry->id,
		  (void *)__entry->func, (void *)__entry->caller)
);

/*
 * Task @pid is to move from CPU @from (where it is) to @to: a work for
 * rmigration/@from follows.
 */
TRACE_EVENT(rmigration_migrate_request,
	TP_PROTO(int pid, const char *comm, unsigned int from, unsigned int to),
	TP_ARGS(pid, comm, from, to),
	TP_STRUCT__entry(
		__field(int,		pid)
		__array(char,		comm, TASK_COMM_LEN)
		__field(unsigned int,	from)
		__field(unsigned int,	to)
	),
	TP_fast_assign(
		__entry->pid	= pid;
		strscpy(__entry->comm, comm, TASK_COMM_LEN);
		__entry->from	= from;
		__entry->to	= to;
	),
	TP_printk("pid=%d comm=%s from=%u to=%u", __entry->pid, __entry->comm,
		  __entry->from, __entry->to)
);

/*
 * The work of a migration ran on rmigration/@from: the task was @before on
 * @before_cpu, set_cpus_allowed_ptr() returned @ret, and the task is then on
 * @after_cpu (@to if it moved at once, else it moves at its next wakeup);
 * @ns from the request.
 */
TRACE_EVENT(rmigration_migrate_done,
	TP_PROTO(int pid, const char *comm, unsigned int from, unsigned int to,
		 int before, unsigned int before_cpu, unsigned int after_cpu, int ret,
		 u64 ns),
	TP_ARGS(pid, comm, from, to, before, before_cpu, after_cpu, ret, ns),
	TP_STRUCT__entry(
		__field(int,		pid)
		__array(char,		comm, TASK_COMM_LEN)
		__field(unsigned int,	from)
		__field(unsigned int,	to)
		__field(int,		before)
		__field(unsigned int,	before_cpu)
		__field(unsigned int,	after_cpu)
		__field(int,		ret)
		__field(u64,		ns)
	),
	TP_fast_assign(
		__entry->pid		= pid;
		strscpy(__entry->comm, comm, TASK_COMM_LEN);
		__entry->from		= from;
		__entry->to		= to;
		__entry->before		= before;
		__entry->before_cpu	= before_cpu;
		__entry->after_cpu	= after_cpu;
		__entry->ret		= ret;
		__entry->ns		= ns;
	),
	TP_printk("pid=%d comm=%s from=%u to=%u before=%s before_cpu=%u after_cpu=%u ret=%d ns=%llu",
		  __entry->pid, __entry->comm, __entry->from, __entry->to,
		  rmigration_show_where(__entry->before), __entry->before_cpu,
		  __entry->after_cpu, __entry->ret, __entry->ns)
);

/* The states of a multi-CPU stop (enum State in src/multi.rs). */
#define rmigration_show_state(state)				\
	__print_symbolic(state,					\
			 { 1, "PREPARE" },			\
			 { 2, "DISABLE_IRQ" },			\
			 { 3, "RUN" },				\
			 { 5, "EXIT" },				\
			 { 6, "ABORT" })

/*
 * The participant of multi-CPU stop @name (stop_two_cpus, stop_machine,
 * swap, ...) on @cpu enters @state; PREPARE again after it withdrew
 * (@withdrawn: how many times, for this participant).
 */
TRACE_EVENT(rmigration_multi_state,
	TP_PROTO(const char *name, unsigned int cpu, int state, unsigned int withdrawn),
	TP_ARGS(name, cpu, state, withdrawn),
	TP_STRUCT__entry(
		__string(name,			name)
		__field(unsigned int,		cpu)
		__field(int,			state)
		__field(unsigned int,		withdrawn)
	),
	TP_fast_assign(
		__assign_str(name);
		__entry->cpu		= cpu;
		__entry->state		= state;
		__entry->withdrawn	= withdrawn;
	),
	TP_printk("name=%s cpu=%u state=%s withdrawn=%u", __get_str(name), __entry->cpu,
		  rmigration_show_state(__entry->state), __entry->withdrawn)
);

/*
 * Work @id was taken off the list of the stopper of @cpu before it
 * started: its waiter was killed. It never runs.
 */
DEFINE_EVENT(rmigration_work_step, rmigration_work_withdrawn,
	TP_PROTO(unsigned int cpu, u64 id),
	TP_ARGS(cpu, id)
);

/*
 * Work @id of the stopper of @cpu has waited @waited_ns to start, with
 * @waiting works queued; or (@waiting 0) work @id has started and its
 * thread has been kept off @cpu for @waited_ns. The task @pid (@comm,
 * @policy, @prio) runs on @cpu. Once per episode (stall_timeout_ms).
 */
TRACE_EVENT(rmigration_stall,
	TP_PROTO(unsigned int cpu, u64 id, u64 waited_ns, int pid, const char *comm,
		 int policy, int prio, unsigned int waiting),
	TP_ARGS(cpu, id, waited_ns, pid, comm, policy, prio, waiting),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		id)
		__field(u64,		waited_ns)
		__field(int,		pid)
		__array(char,		comm, TASK_COMM_LEN)
		__field(int,		policy)
		__field(int,		prio)
		__field(unsigned int,	waiting)
	),
	TP_fast_assign(
		__entry->cpu		= cpu;
		__entry->id		= id;
		__entry->waited_ns	= waited_ns;
		__entry->pid		= pid;
		strscpy(__entry->comm, comm, TASK_COMM_LEN);
		__entry->policy		= policy;
		__entry->prio		= prio;
		__entry->waiting	= waiting;
	),
	TP_printk("cpu=%u id=%llu waited_ns=%llu pid=%d comm=%s policy=%d prio=%d waiting=%u",
		  __entry->cpu, __entry->id, __entry->waited_ns, __entry->pid, __entry->comm,
		  __entry->policy, __entry->prio, __entry->waiting)
);

/*
 * The stall of the stopper of @cpu is over after @ns: a work @started (or
 * the thread kept off its CPU ran again), or every waiting work was
 * withdrawn.
 */
TRACE_EVENT(rmigration_stall_end,
	TP_PROTO(unsigned int cpu, u64 ns, bool started),
	TP_ARGS(cpu, ns, started),
	TP_STRUCT__entry(
		__field(unsigned int,	cpu)
		__field(u64,		ns)
		__field(bool,		started)
	),
	TP_fast_assign(
		__entry->cpu		= cpu;
		__entry->ns		= ns;
		__entry->started	= started;
	),
	TP_printk("cpu=%u ns=%llu started=%d", __entry->cpu, __entry->ns, __entry->started)
);

/*
 * The participant of multi-CPU stop @name on @cpu left PREPARE before its
 * partners were all there (round @round of meeting them): another task
 * wanted its CPU (@wanted), or a partner did not come in time; it sleeps
 * until every participant is ready again.
 */
TRACE_EVENT(rmigration_multi_withdrew,
	TP_PROTO(const char *name, unsigned int cpu, bool wanted, unsigned int round),
	TP_ARGS(name, cpu, wanted, round),
	TP_STRUCT__entry(
		__string(name,		name)
		__field(unsigned int,	cpu)
		__field(bool,		wanted)
		__field(unsigned int,	round)
	),
	TP_fast_assign(
		__assign_str(name);
		__entry->cpu	= cpu;
		__entry->wanted	= wanted;
		__entry->round	= round;
	),
	TP_printk("name=%s cpu=%u wanted=%d round=%u", __get_str(name), __entry->cpu,
		  __entry->wanted, __entry->round)
);

/*
 * Multi-CPU stop @name is over: @ret, @ns after its works were queued;
 * @given_up if its caller was killed before every participant was there.
 */
TRACE_EVENT(rmigration_multi_done,
	TP_PROTO(const char *name, int ret, u64 ns, bool given_up),
	TP_ARGS(name, ret, ns, given_up),
	TP_STRUCT__entry(
		__string(name,		name)
		__field(int,		ret)
		__field(u64,		ns)
		__field(bool,		given_up)
	),
	TP_fast_assign(
		__assign_str(name);
		__entry->ret		= ret;
		__entry->ns		= ns;
		__entry->given_up	= given_up;
	),
	TP_printk("name=%s ret=%d ns=%llu given_up=%d", __get_str(name), __entry->ret,
		  __entry->ns, __entry->given_up)
);

/*
 * A swap of tasks @pid1 (on @cpu1) and @pid2 (on @cpu2): @ret, and
 * whether the first task's mask was given back (@rolled_back) because the
 * second's could not be set.
 */
TRACE_EVENT(rmigration_swap,
	TP_PROTO(int pid1, unsigned int cpu1, int pid2, unsigned int cpu2, int ret,
		 bool rolled_back),
	TP_ARGS(pid1, cpu1, pid2, cpu2, ret, rolled_back),
	TP_STRUCT__entry(
		__field(int,		pid1)
		__field(unsigned int,	cpu1)
		__field(int,		pid2)
		__field(unsigned int,	cpu2)
		__field(int,		ret)
		__field(bool,		rolled_back)
	),
	TP_fast_assign(
		__entry->pid1		= pid1;
		__entry->cpu1		= cpu1;
		__entry->pid2		= pid2;
		__entry->cpu2		= cpu2;
		__entry->ret		= ret;
		__entry->rolled_back	= rolled_back;
	),
	TP_printk("pid1=%d cpu1=%u pid2=%d cpu2=%u ret=%d rolled_back=%d", __entry->pid1,
		  __entry->cpu1, __entry->pid2, __entry->cpu2, __entry->ret,
		  __entry->rolled_back)
);

#endif /* _RMIGRATION_EVENTS_H */

/* This part must be outside the multi-read protection. */
#include <trace/define_trace.h>
