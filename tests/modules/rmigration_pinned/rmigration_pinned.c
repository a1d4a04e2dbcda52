// SPDX-License-Identifier: GPL-2.0
/*
 * rmigration_pinned: puts the task that asks into a migrate_disable()
 * section, for tests/rmigration_pinned.sh.
 *
 * Writing MS to /sys/kernel/debug/rmigration_pinned/hold keeps the writer
 * on its CPU for MS ms (1 to 10000), running (preemptible, with
 * cond_resched()), as a BPF program or a spinlock_t section on PREEMPT_RT
 * would: set_cpus_allowed_ptr() on it waits until the section ends, and
 * the task then leaves its CPU. A real-time task that writes in a loop is
 * inside a section nearly all the time.
 *
 * "sections" reads how many sections were held, "moved" after how many of
 * them the task was on another CPU than inside: a move that waited for the
 * section's end.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>

static struct dentry *dir;
static atomic64_t sections = ATOMIC64_INIT(0);
static atomic64_t moved = ATOMIC64_INIT(0);

static ssize_t hold_write(struct file *file, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	unsigned long end;
	unsigned int ms, inside;
	int ret;

	ret = kstrtouint_from_user(buf, count, 10, &ms);
	if (ret)
		return ret;
	if (ms < 1 || ms > 10000)
		return -EINVAL;

	end = jiffies + msecs_to_jiffies(ms);
	migrate_disable();
	inside = smp_processor_id();
	while (time_before(jiffies, end) && !fatal_signal_pending(current))
		cond_resched();
	/*
	 * A task whose affinity changed meanwhile is moved here: the kernel's
	 * stopper, woken by migrate_enable(), runs before it returns.
	 */
	migrate_enable();
	atomic64_inc(&sections);
	if (raw_smp_processor_id() != inside)
		atomic64_inc(&moved);
	return fatal_signal_pending(current) ? -EINTR : count;
}

static int sections_get(void *data, u64 *val)
{
	*val = atomic64_read(&sections);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(sections_fops, sections_get, NULL, "%llu\n");

static int moved_get(void *data, u64 *val)
{
	*val = atomic64_read(&moved);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(moved_fops, moved_get, NULL, "%llu\n");

static const struct file_operations hold_fops = {
	.owner = THIS_MODULE,
	.write = hold_write,
	.llseek = noop_llseek,
};

static int __init rmigration_pinned_init(void)
{
	dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("hold", 0200, dir, NULL, &hold_fops);
	debugfs_create_file_unsafe("sections", 0400, dir, NULL, &sections_fops);
	debugfs_create_file_unsafe("moved", 0400, dir, NULL, &moved_fops);
	return 0;
}

static void __exit rmigration_pinned_exit(void)
{
	debugfs_remove(dir);
}

module_init(rmigration_pinned_init);
module_exit(rmigration_pinned_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("rmigration test: a task held in a migrate_disable() section");
