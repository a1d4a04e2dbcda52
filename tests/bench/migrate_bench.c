// SPDX-License-Identifier: GPL-2.0
/*
 * migrate_bench: moves a busy-looping child between two CPUs K times
 * through /sys/kernel/debug/rmigration/migrate, then K times with
 * sched_setaffinity(2) (which uses the kernel's migration/N threads), and
 * prints one line per move and a summary per mechanism:
 *
 *   sample MECH NS
 *   mech=MECH n=K errors=E misplaced=M p50=... p90=... p99=... max=...
 *
 * "misplaced": after a move, the child was not on the destination CPU.
 *
 *   migrate_bench K CPU_A CPU_B
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cpu_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	int fd, n, field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (; p && *p; p++)
		if (*p == ' ' && ++field == 39)
			return atoi(p + 1);
	return -1;
}

static int cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int k, a, b, fd, i, m;
	unsigned long long *ns;
	const char *mechs[] = { "rmigration_hook", "sched_setaffinity" };
	cpu_set_t set;
	pid_t child;

	if (argc != 4) {
		fprintf(stderr, "usage: %s K CPU_A CPU_B\n", argv[0]);
		return 2;
	}
	k = atoi(argv[1]);
	a = atoi(argv[2]);
	b = atoi(argv[3]);
	ns = calloc(k, sizeof(*ns));
	fd = open("/sys/kernel/debug/rmigration/migrate", O_WRONLY);
	if (k <= 0 || !ns || fd < 0) {
		perror("migrate_bench");
		return 1;
	}
	child = fork();
	if (child == 0) {
		for (;;)
			;
	}
	CPU_ZERO(&set);
	CPU_SET(a, &set);
	sched_setaffinity(child, sizeof(set), &set);
	usleep(100000);

	for (m = 0; m < 2; m++) {
		int errors = 0, misplaced = 0;

		for (i = 0; i < k; i++) {
			int dest = i % 2 ? a : b, ret;
			unsigned long long t0;
			char buf[64];

			if (m == 0) {
				int len = snprintf(buf, sizeof(buf), "%d %d", child, dest);

				t0 = now_ns();
				ret = write(fd, buf, len) == len ? 0 : -errno;
			} else {
				CPU_ZERO(&set);
				CPU_SET(dest, &set);
				t0 = now_ns();
				ret = sched_setaffinity(child, sizeof(set), &set) ? -errno : 0;
			}
			ns[i] = now_ns() - t0;
			if (ret)
				errors++;
			if (cpu_of(child) != dest)
				misplaced++;
			printf("sample %s %llu\n", mechs[m], ns[i]);
		}
		qsort(ns, k, sizeof(*ns), cmp);
		printf("mech=%s n=%d errors=%d misplaced=%d p50=%llu p90=%llu p99=%llu max=%llu\n",
		       mechs[m], k, errors, misplaced, ns[k / 2], ns[k * 90 / 100],
		       ns[k * 99 / 100], ns[k - 1]);
	}
	kill(child, SIGKILL);
	return 0;
}
