/* System resources from /proc and statvfs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "paths.h"
#include "probe.h"

static unsigned long long meminfo(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	if (!p)
		return 0;
	return strtoull(p + strlen(key), NULL, 10) * 1024ULL;
}

/* statvfs the nearest existing ancestor: a backup dir that does not exist yet still
 * lives on some file system. */
static void fs_probe(struct fs_usage *f, const char *label, const char *path)
{
	snprintf(f->label, sizeof f->label, "%s", label);
	snprintf(f->path, sizeof f->path, "%s", path);
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	struct statvfs sv;
	while (statvfs(buf, &sv) < 0) {
		char *slash = strrchr(buf, '/');
		if (!slash)
			return;
		if (slash == buf) {
			buf[1] = 0;
			if (statvfs(buf, &sv) < 0)
				return;
			break;
		}
		*slash = 0;
	}
	f->ok = 1;
	f->total = (unsigned long long)sv.f_blocks * sv.f_frsize;
	f->avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	f->free_pct = f->total ? 100.0 * (double)f->avail / (double)f->total : 0;
}

/* A /proc file's text, as much of it as fits: the fields read from it come first. */
static int read_text(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t got = fread(buf, 1, n - 1, f);
	buf[got] = 0;
	fclose(f);
	return 0;
}

int probe_system(const struct config *cfg, struct sys_snapshot *s)
{
	memset(s, 0, sizeof *s);
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf %lf %lf", &s->load1, &s->load5, &s->load15) != 3)
			s->load1 = s->load5 = s->load15 = 0;
		fclose(f);
	}
	s->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	char text[8192];
	if (read_text("/proc/meminfo", text, sizeof text) == 0) {
		s->mem_total = meminfo(text, "MemTotal:");
		s->mem_avail = meminfo(text, "MemAvailable:");
		s->swap_total = meminfo(text, "SwapTotal:");
		s->swap_free = meminfo(text, "SwapFree:");
	}
	if (read_text("/proc/self/status", text, sizeof text) == 0)
		s->self_rss = meminfo(text, "VmRSS:");
	char data[4096];
	snprintf(data, sizeof data, "%s/pg", paths_data_dir());
	fs_probe(&s->fs[s->nfs++], "data", data);
	fs_probe(&s->fs[s->nfs++], "backup", cfg->backup_dir);
	fs_probe(&s->fs[s->nfs++], "log", cfg->log_dir);
	return 0;
}

int probe_cpu_ticks(unsigned long long *busy, unsigned long long *total)
{
	char text[512];
	if (read_text("/proc/stat", text, sizeof text) < 0)
		return -1;
	unsigned long long v[8] = {0};
	if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 4)
		return -1;
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	*busy = *total - v[3] - v[4]; /* idle and iowait */
	return 0;
}
