#include "operator/runtime/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "operator/base/err.h"
#include "operator/base/prom.h"

/* Reads a small /proc file whole (at most cap - 1 bytes), NUL-terminated. */
static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	if (fd < 0)
		return SO_E_IO;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return n ? SO_OK : SO_E_IO;
}

struct proc_stat {
	unsigned long long utime, stime, starttime, vsize;
	long long rss_pages;
};

/* /proc/self/stat: the fields after the command name, which may itself hold spaces and parentheses. */
static int read_stat(struct proc_stat *st)
{
	char buf[2048];
	if (read_small("/proc/self/stat", buf, sizeof buf))
		return SO_E_IO;
	char *p = strrchr(buf, ')');
	if (!p)
		return SO_E_INVAL;
	/* from field 3 (state): 11 fields to utime (14), stime, 6 more to starttime (22), vsize, rss */
	int n = sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
		       &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss_pages);
	return n == 5 ? SO_OK : SO_E_INVAL;
}

static double start_time;
static int start_time_ok;

/* When the process started, in Unix seconds: now - uptime + starttime (both since boot), computed once. */
static void compute_start_time(void)
{
	char buf[128];
	struct proc_stat st;
	double uptime;
	long hz = sysconf(_SC_CLK_TCK);
	struct timespec now;
	if (hz <= 0 || read_stat(&st) || read_small("/proc/uptime", buf, sizeof buf) || sscanf(buf, "%lf", &uptime) != 1)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - uptime + (double)st.starttime / (double)hz;
	start_time = (double)(long long)(start_time * 100 + 0.5) / 100; /* ticks are 10 ms: no false precision */
	start_time_ok = 1;
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static int gauge(struct buf *out, const char *name, const char *type, const char *help, double v)
{
	int rc = prom_family(out, name, type, help);
	if (rc == SO_OK)
		rc = buf_appendf(out, "%s ", name);
	if (rc == SO_OK)
		rc = prom_append_value(out, v);
	return rc ? rc : buf_appends(out, "\n");
}

int process_metrics_write(struct buf *out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct proc_stat st;
	struct rlimit rl;
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE), fds;
	int rc = SO_OK;

	pthread_once(&once, compute_start_time);
	if (hz > 0 && page > 0 && read_stat(&st) == SO_OK) {
		rc = gauge(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
			   (double)(st.utime + st.stime) / (double)hz);
		if (rc == SO_OK)
			rc = gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
				   (double)st.rss_pages * (double)page);
		if (rc == SO_OK)
			rc = gauge(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
				   (double)st.vsize);
	}
	if (rc == SO_OK && (fds = open_fds()) >= 0)
		rc = gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
	if (rc == SO_OK && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		rc = gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
			   rl.rlim_cur == RLIM_INFINITY ? 1.8446744073709552e19 : (double)rl.rlim_cur);
	if (rc == SO_OK && start_time_ok)
		rc = gauge(out, "process_start_time_seconds", "gauge",
			   "Start time of the process since unix epoch in seconds.", start_time);
	return rc;
}
