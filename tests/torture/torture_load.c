// SPDX-License-Identifier: GPL-2.0
/*
 * torture_load: the load of rmigration_torture.sh, without a fork per
 * operation (a fork and exec costs milliseconds under emulation). Each mode
 * runs until the file DIR/stop exists or its count is reached, holds off
 * while DIR/pause exists (so that rmmod finds no hook file open), appends
 * what went wrong to DIR/errors and prints its figures on one line:
 *
 *   torture_load queue DIR sync|nowait NCPUS
 *	works queued to random CPUs, one per write;
 *	prints "ok enoent full absent other" (full: EAGAIN, too many pending)
 *   torture_load migrate DIR NCPUS MAX PID...
 *	random tasks moved to random CPUs, each outcome checked in /proc;
 *	prints "ok refused absent wrong"
 *   torture_load hotplug DIR MAX CPU...
 *	random CPUs taken offline and brought back, never the last online one;
 *	prints "cycles busy"
 *   torture_load two DIR NCPUS
 *	two-CPU stops of random pairs of distinct CPUs, in either order;
 *	prints "ok enoent absent other"
 *   torture_load machine DIR NCPUS
 *	machine stops with random cpulists of active CPUs; after each one that
 *	succeeded, reads the hook back (on the same open file, so from the
 *	same load of the module) for the CPUs stopped, one work each;
 *	prints "ok enoent absent other works". One writer only: the hook
 *	keeps the last call of anyone.
 *   torture_load swap DIR NCPUS PID...
 *	swaps of random pairs of the tasks, each outcome read back from the
 *	hook and checked in /proc; tasks found on one CPU are spread out
 *	again with sched_setaffinity(2); prints "ok eagain enoent einval
 *	absent wrong" (einval: the tasks were on one CPU, as /proc showed
 *	before or after the write). One writer only, as for machine.
 *
 * "absent": the hook file could not be opened (the module is unloaded).
 * migrate and hotplug also keep their figures so far in DIR/MODE, and
 * hotplug counts the changes of each CPU in DIR/gen.CPU, so that migrate
 * and swap know when the kernel may have widened a task's mask.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOOKS "/sys/kernel/debug/rmigration"
#define CPU_DIR "/sys/devices/system/cpu"

/* Result of a write that could not open its file. */
#define ABSENT 1

static const char *dir;

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* DIR/NAME, in BUF. */
static const char *in_dir(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
	return buf;
}

static int exists(const char *name)
{
	char path[4096];

	return access(in_dir(path, sizeof(path), name), F_OK) == 0;
}

/* Whether to stop; waits while DIR/pause exists. */
static int stopped(void)
{
	while (exists("pause") && !exists("stop"))
		msleep(5);
	return exists("stop");
}

/* Writes FMT with AP and a newline to PATH, opened with MODE; 0 if done. */
static int vput_line(const char *path, const char *mode, const char *fmt, va_list ap)
{
	FILE *f = fopen(path, mode);

	if (!f)
		return -1;
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	return fclose(f);
}

static void error(const char *fmt, ...)
{
	char path[4096];
	va_list ap;

	va_start(ap, fmt);
	vput_line(in_dir(path, sizeof(path), "errors"), "a", fmt, ap);
	va_end(ap);
}

/* Writes the figures so far to DIR/NAME, replacing what was there at once. */
static void figures(const char *name, const char *fmt, ...)
{
	char path[4096], tmp[4096 + 8];
	va_list ap;

	snprintf(tmp, sizeof(tmp), "%s.tmp", in_dir(path, sizeof(path), name));
	va_start(ap, fmt);
	if (vput_line(tmp, "w", fmt, ap) == 0)
		rename(tmp, path);
	va_end(ap);
}

/*
 * Writes TEXT to PATH in one write(2) and, if READ is set and the write
 * succeeded, reads the file back on the same open file into READ (its
 * first line): while the file is open the module cannot be unloaded, so
 * what it reads is from the same load. 0, ABSENT or a negative errno.
 */
static int write_read(const char *path, const char *text, char *read, size_t size)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, read ? O_RDWR : O_WRONLY);
	if (fd < 0)
		return ABSENT;
	n = write(fd, text, strlen(text));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(text))
		ret = -EIO;
	if (ret == 0 && read) {
		n = pread(fd, read, size - 1, 0);
		if (n <= 0) {
			ret = -EIO;
		} else {
			read[n] = '\0';
			read[strcspn(read, "\n")] = '\0';
		}
	}
	close(fd);
	return ret;
}

/* Writes TEXT to PATH in one write(2): 0, ABSENT or a negative errno. */
static int write_file(const char *path, const char *text)
{
	return write_read(path, text, NULL, 0);
}

/* Reads PATH (its first SIZE - 1 bytes) into BUF; -1 if it cannot. */
static int read_all(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Reads the first line of PATH into BUF; -1 if it cannot. */
static int read_file(const char *path, char *buf, size_t size)
{
	if (read_all(path, buf, size))
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int cpu_online(int cpu)
{
	char path[128], v[8];

	snprintf(path, sizeof(path), CPU_DIR "/cpu%d/online", cpu);
	if (access(path, F_OK))
		return 1;	/* not hotpluggable */
	return read_file(path, v, sizeof(v)) == 0 && v[0] == '1';
}

/*
 * Hotplug generation of CPU: hotplug bumps it in DIR/gen.CPU before taking
 * the CPU offline and after bringing it back, so a reader that sees it
 * unchanged knows the CPU stayed online in between.
 */
static unsigned long hotplug_gen(int cpu)
{
	char name[64], path[4096], v[32];

	snprintf(name, sizeof(name), "gen.%d", cpu);
	return read_file(in_dir(path, sizeof(path), name), v, sizeof(v)) ? 0 : strtoul(v, NULL, 10);
}

static void bump_hotplug_gen(int cpu)
{
	char name[64];

	snprintf(name, sizeof(name), "gen.%d", cpu);
	figures(name, "%lu", hotplug_gen(cpu) + 1);
}

static int set_cpu_online(int cpu, int online)
{
	char path[128];

	snprintf(path, sizeof(path), CPU_DIR "/cpu%d/online", cpu);
	return write_file(path, online ? "1" : "0");
}

static int queue(const char *kind, int ncpus)
{
	int sync = !strcmp(kind, "sync");
	unsigned long ok = 0, enoent = 0, full = 0, absent = 0, other = 0;
	char text[64];
	int ret;

	if (!sync && strcmp(kind, "nowait"))
		return 2;
	while (!stopped()) {
		if (sync)
			snprintf(text, sizeof(text), "%d", rand() % ncpus);
		else
			snprintf(text, sizeof(text), "%d 1 %d", rand() % ncpus, rand() % 200);
		ret = write_file(sync ? HOOKS "/stop_one_cpu" : HOOKS "/nowait", text);
		if (ret == 0) {
			ok++;
			/*
			 * Nowait writers pause now and then: without it they
			 * keep the backlog full and everything else waits
			 * behind it.
			 */
			if (!sync)
				msleep(rand() % 10);
		} else if (ret == -ENOENT) {
			enoent++;
		} else if (ret == -EAGAIN && !sync) {
			full++;
			msleep(1);
		} else if (ret == ABSENT) {
			absent++;
			msleep(20);
		} else {
			other++;
			error("%s '%s': %s", kind, text, strerror(-ret));
		}
	}
	printf("%lu %lu %lu %lu %lu\n", ok, enoent, full, absent, other);
	return 0;
}

/* Field N (1-based, as in proc(5)) of /proc/PID/stat: 3 state, 39 cpu. */
static int stat_field(int pid, int n, char *out, size_t size)
{
	char path[64], buf[1024], *p, *end;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_all(path, buf, sizeof(buf)))
		return -1;
	p = strrchr(buf, ')');	/* the name before may hold anything */
	for (; p && *p; p++) {
		if (*p == ' ' && ++field == n) {
			end = strchr(p + 1, ' ');
			snprintf(out, size, "%.*s", end ? (int)(end - p - 1) : (int)strlen(p + 1), p + 1);
			return 0;
		}
	}
	return -1;
}

/* Cpus_allowed_list of PID, or "?" if it cannot be read. */
static void allowed(int pid, char *out, size_t size)
{
	char path[64], buf[4096], *p, *end;

	snprintf(out, size, "?");
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_all(path, buf, sizeof(buf)))
		return;
	p = strstr(buf, "Cpus_allowed_list:");
	if (!p)
		return;
	p += strlen("Cpus_allowed_list:");
	p += strspn(p, " \t");
	end = strchr(p, '\n');
	snprintf(out, size, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
}

/*
 * After PID was moved to CPU: its mask is {CPU}, and if it is runnable it
 * is on CPU; unless CPU went offline since the hotplug generation was GEN
 * (the kernel then widens the mask, and it stays wide). Allows 50 ms for
 * the mask and a second for a runnable task to land. 0 if so.
 */
static int check_moved(int pid, int cpu, unsigned long gen)
{
	char want[16], mask[256], state[8], on[16];
	int i, stat_ok;

	snprintf(want, sizeof(want), "%d", cpu);
	for (i = 0; i < 100; i++) {
		/* What /proc says first, then whether hotplug may explain it. */
		allowed(pid, mask, sizeof(mask));
		stat_ok = !stat_field(pid, 3, state, sizeof(state)) &&
			  !stat_field(pid, 39, on, sizeof(on));
		if (hotplug_gen(cpu) != gen || !cpu_online(cpu))
			return 0;
		if (!stat_ok) {
			error("pid %d: /proc/%d/stat unreadable", pid, pid);
			return -1;
		}
		if (strcmp(mask, want)) {
			if (i >= 5) {
				error("pid %d to %d: allowed %s", pid, cpu, mask);
				return -1;
			}
		} else if (state[0] != 'R' || !strcmp(on, want)) {
			return 0;
		} else if (i == 99) {
			error("pid %d to %d: runnable on CPU %s", pid, cpu, on);
			return -1;
		}
		msleep(10);
	}
	return -1;
}

static int migrate(int ncpus, unsigned long max, int *pids, int npids)
{
	unsigned long ok = 0, refused = 0, absent = 0, wrong = 0;
	unsigned long gen;
	char text[64];
	int pid, cpu, ret;

	while (ok < max && !stopped()) {
		pid = pids[rand() % npids];
		cpu = rand() % ncpus;
		snprintf(text, sizeof(text), "%d %d", pid, cpu);
		gen = hotplug_gen(cpu);
		ret = write_file(HOOKS "/migrate", text);
		if (ret == 0) {
			ok++;
			if (check_moved(pid, cpu, gen))
				wrong++;
		} else if (ret == -EINVAL || ret == -ENOENT) {
			refused++;	/* CPU offline, or its thread parked */
		} else if (ret == ABSENT) {
			absent++;
			msleep(20);
		} else {
			wrong++;
			error("migrate %s: %s", text, strerror(-ret));
		}
		figures("migrate", "%lu %lu %lu %lu", ok, refused, absent, wrong);
	}
	printf("%lu %lu %lu %lu\n", ok, refused, absent, wrong);
	return 0;
}

static int two(int ncpus)
{
	unsigned long ok = 0, enoent = 0, absent = 0, other = 0;
	char text[64];
	int c1, c2, ret;

	if (ncpus < 2)
		return 2;
	while (!stopped()) {
		c1 = rand() % ncpus;
		c2 = (c1 + 1 + rand() % (ncpus - 1)) % ncpus;
		snprintf(text, sizeof(text), "%d %d", c1, c2);
		ret = write_file(HOOKS "/stop_two_cpus", text);
		if (ret == 0) {
			ok++;
		} else if (ret == -ENOENT) {
			enoent++;
		} else if (ret == ABSENT) {
			absent++;
			msleep(20);
		} else {
			other++;
			error("stop_two_cpus '%s': %s", text, strerror(-ret));
		}
	}
	printf("%lu %lu %lu %lu\n", ok, enoent, absent, other);
	return 0;
}

/* Formats the CPUs of MASK as a cpulist, with ranges if RANGES. */
static void format_cpulist(uint64_t mask, int ranges, char *out, size_t size)
{
	size_t len = 0;
	int c, end;

	out[0] = '\0';
	for (c = 0; c < 64 && len < size; c++) {
		if (!(mask & (1ULL << c)))
			continue;
		end = c;
		while (ranges && end < 63 && (mask & (1ULL << (end + 1))))
			end++;
		if (end > c)
			len += snprintf(out + len, size - len, "%s%d-%d", len ? "," : "", c, end);
		else
			len += snprintf(out + len, size - len, "%s%d", len ? "," : "", c);
		c = end;
	}
}

/* The CPUs of cpulist TEXT (up to a space or the end); -1 if malformed. */
static int parse_cpulist(const char *text, uint64_t *mask)
{
	const char *p = text;
	char *end;
	long a, b;

	*mask = 0;
	while (*p && *p != ' ') {
		a = strtol(p, &end, 10);
		if (end == p || a < 0 || a > 63)
			return -1;
		b = a;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a || b > 63)
				return -1;
			p = end;
		}
		for (; a <= b; a++)
			*mask |= 1ULL << a;
		if (*p == ',')
			p++;
		else if (*p && *p != ' ')
			return -1;
	}
	return 0;
}

/* The cpulist after "KEY=" in LINE, as a mask; -1 if absent or malformed. */
static int field_cpulist(const char *line, const char *key, uint64_t *mask)
{
	char k[32];
	const char *p;

	snprintf(k, sizeof(k), "%s=", key);
	p = strstr(line, k);
	return p ? parse_cpulist(p + strlen(k), mask) : -1;
}

static int machine(int ncpus)
{
	unsigned long ok = 0, enoent = 0, absent = 0, other = 0, works = 0;
	uint64_t want, active, stopped_cpus, ran_on;
	char text[512], back[512];
	int i, ret;

	if (ncpus > 64)
		ncpus = 64;
	while (!stopped()) {
		do
			for (want = 0, i = 0; i < ncpus; i++)
				want |= (uint64_t)(rand() % 2) << i;
		while (!want);
		format_cpulist(want, rand() % 2, text, sizeof(text));
		ret = write_read(HOOKS "/stop_machine", text, back, sizeof(back));
		if (ret == 0) {
			/* active=.. stopped=.. ran_on=.. irqs_off=yes ret=0 ns=.. */
			if (field_cpulist(back, "active", &active) ||
			    field_cpulist(back, "stopped", &stopped_cpus) ||
			    field_cpulist(back, "ran_on", &ran_on) ||
			    active != want || ran_on != want || (stopped_cpus & want) != want ||
			    !strstr(back, " irqs_off=yes ret=0 ")) {
				other++;
				error("stop_machine '%s': read back '%s'", text, back);
			} else {
				ok++;
				works += __builtin_popcountll(stopped_cpus);
			}
			/*
			 * Every CPU stops: leave the others some room, as
			 * the nowait writers do.
			 */
			msleep(rand() % 10);
		} else if (ret == -ENOENT) {
			enoent++;
		} else if (ret == ABSENT) {
			absent++;
			msleep(20);
		} else {
			other++;
			error("stop_machine '%s': %s", text, strerror(-ret));
		}
	}
	printf("%lu %lu %lu %lu %lu\n", ok, enoent, absent, other, works);
	return 0;
}

/* The CPU PID is on, as /proc/PID/stat says; -1 if unreadable. */
static int on_cpu(int pid)
{
	char on[16];

	return stat_field(pid, 39, on, sizeof(on)) ? -1 : atoi(on);
}

/*
 * Pins PID to a random online CPU other than NOT (best effort), and waits
 * up to 300 ms for /proc to show it there (a sleeping task gets there when
 * it wakes up).
 */
static void spread(int pid, int not, int ncpus)
{
	cpu_set_t set;
	int i, cpu;

	for (i = 0; i < 8; i++) {
		cpu = rand() % ncpus;
		if (cpu == not || !cpu_online(cpu))
			continue;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(pid, sizeof(set), &set) == 0)
			break;
	}
	if (i == 8)
		return;
	for (i = 0; i < 30 && on_cpu(pid) != cpu; i++)
		msleep(10);
}

/*
 * The pids, CPUs before and result of the swap hook's line:
 * "pid=P1 from=A [to=B ]now_on=.. pid=P2 from=B [to=A ]now_on=.. ret=R ns=..";
 * a "to=" must name the other task's CPU before. -1 if malformed.
 */
static int parse_swap(const char *line, int pid[2], int from[2], int *ret)
{
	const char *p = line, *r;
	int i, n, to[2];

	for (i = 0; i < 2; i++) {
		if (sscanf(p, "pid=%d from=%d %n", &pid[i], &from[i], &n) != 2)
			return -1;
		p += n;
		to[i] = -1;
		if (sscanf(p, "to=%d %n", &to[i], &n) == 1)
			p += n;
		if (strncmp(p, "now_on=", 7))
			return -1;
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	for (i = 0; i < 2; i++)
		if (to[i] != -1 && to[i] != from[!i])
			return -1;
	r = strstr(p, "ret=");
	return r && sscanf(r, "ret=%d", ret) == 1 ? 0 : -1;
}

static int swap(int ncpus, int *pids, int npids)
{
	unsigned long ok = 0, eagain = 0, enoent = 0, einval = 0, absent = 0, wrong = 0;
	unsigned long gen[64];
	char text[64], back[256];
	int i, a, b, pa, pb, on_a, on_b, ret, rp[2], from[2], rret;

	if (npids < 2)
		return 2;
	if (ncpus > 64)
		ncpus = 64;
	while (!stopped()) {
		a = rand() % npids;
		b = (a + 1 + rand() % (npids - 1)) % npids;
		pa = pids[a];
		pb = pids[b];
		snprintf(text, sizeof(text), "%d %d", pa, pb);
		for (i = 0; i < ncpus; i++)
			gen[i] = hotplug_gen(i);
		on_a = on_cpu(pa);
		on_b = on_cpu(pb);
		ret = write_read(HOOKS "/swap", text, back, sizeof(back));
		if (ret == 0) {
			ok++;
			if (parse_swap(back, rp, from, &rret) ||
			    rp[0] != pa || rp[1] != pb || rret != 0 || from[0] == from[1] ||
			    from[0] < 0 || from[0] >= ncpus || from[1] < 0 || from[1] >= ncpus) {
				wrong++;
				error("swap '%s': read back '%s'", text, back);
			} else if (check_moved(pa, from[1], gen[from[1]]) ||
				   check_moved(pb, from[0], gen[from[0]])) {
				wrong++;
				error("swap '%s' (%s): not as /proc says (above)", text, back);
			}
		} else if (ret == -EAGAIN) {
			eagain++;	/* they kept moving */
		} else if (ret == -ENOENT) {
			enoent++;	/* their CPUs kept going offline */
		} else if (ret == -EINVAL) {
			/*
			 * Legitimate only with both tasks on one CPU. Their
			 * CPU changes only through this writer, hotplug, or
			 * a sleeping task's wakeup onto its new CPU; /proc
			 * shows them together before or after the write then.
			 */
			if (on_a >= 0 && on_a == on_b) {
				einval++;
			} else if ((on_a = on_cpu(pa)) >= 0 && on_a == on_cpu(pb)) {
				einval++;
			} else {
				/* One more look after: each look reads the two
				 * CPUs one after the other, and a task waking
				 * onto its new CPU between two reads hides the
				 * two together (seen once: apart at both looks,
				 * together at the next). */
				int now_a = on_cpu(pa), now_b = on_cpu(pb);

				for (i = 0; i < ncpus && gen[i] == hotplug_gen(i); i++)
					;
				if (i < ncpus || (now_a >= 0 && now_a == now_b)) {
					einval++;
				} else {
					wrong++;
					error("swap '%s': EINVAL, on CPUs %d and %d", text,
					      now_a, now_b);
				}
			}
			spread(pb, on_cpu(pa), ncpus);
		} else if (ret == ABSENT) {
			absent++;
			msleep(20);
		} else {
			wrong++;
			error("swap '%s': %s", text, strerror(-ret));
		}
		figures("swap", "%lu %lu %lu %lu %lu %lu", ok, eagain, enoent, einval, absent, wrong);
	}
	printf("%lu %lu %lu %lu %lu %lu\n", ok, eagain, enoent, einval, absent, wrong);
	return 0;
}

static int hotplug(unsigned long max, int *cpus, int ncpus)
{
	int i, online, cpu, possible = sysconf(_SC_NPROCESSORS_CONF);
	unsigned long cycles = 0, busy = 0;

	while (cycles < max && !stopped()) {
		cpu = cpus[rand() % ncpus];
		for (online = 0, i = 0; i < possible; i++)
			online += cpu_online(i);
		if (online < 2 || !cpu_online(cpu)) {
			msleep(10);
			continue;
		}
		bump_hotplug_gen(cpu);
		if (set_cpu_online(cpu, 0)) {
			busy++;	/* e.g. EBUSY: try another */
			msleep(10);
			continue;
		}
		msleep(rand() % 200);
		if (set_cpu_online(cpu, 1)) {
			msleep(100);
			if (set_cpu_online(cpu, 1)) {
				error("CPU %d did not come back", cpu);
				break;
			}
		}
		bump_hotplug_gen(cpu);
		cycles++;
		figures("hotplug", "%lu %lu", cycles, busy);
	}
	printf("%lu %lu\n", cycles, busy);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: torture_load queue DIR sync|nowait NCPUS\n"
			"       torture_load migrate DIR NCPUS MAX PID...\n"
			"       torture_load hotplug DIR MAX CPU...\n"
			"       torture_load two|machine DIR NCPUS\n"
			"       torture_load swap DIR NCPUS PID...\n");
	return 2;
}

int main(int argc, char **argv)
{
	int list[4096], n, i, ncpus;

	if (argc < 4)
		return usage();
	dir = argv[2];
	srand(getpid() ^ time(NULL));
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(argv[1], "queue") && argc == 5) {
		ncpus = atoi(argv[4]);
		return ncpus > 0 ? queue(argv[3], ncpus) : usage();
	}
	if (!strcmp(argv[1], "migrate") && argc >= 6) {
		ncpus = atoi(argv[3]);
		for (n = 0, i = 5; i < argc && n < 4096; i++)
			list[n++] = atoi(argv[i]);
		return ncpus > 0 ? migrate(ncpus, strtoul(argv[4], NULL, 10), list, n) : usage();
	}
	if ((!strcmp(argv[1], "two") || !strcmp(argv[1], "machine")) && argc == 4) {
		ncpus = atoi(argv[3]);
		if (ncpus <= 0)
			return usage();
		return argv[1][0] == 't' ? two(ncpus) : machine(ncpus);
	}
	if (!strcmp(argv[1], "swap") && argc >= 6) {
		ncpus = atoi(argv[3]);
		for (n = 0, i = 4; i < argc && n < 4096; i++)
			list[n++] = atoi(argv[i]);
		return ncpus > 0 ? swap(ncpus, list, n) : usage();
	}
	if (!strcmp(argv[1], "hotplug") && argc >= 4) {
		for (n = 0, i = 4; i < argc && n < 4096; i++)
			list[n++] = atoi(argv[i]);
		return n ? hotplug(strtoul(argv[3], NULL, 10), list, n) : 0;
	}
	return usage();
}
