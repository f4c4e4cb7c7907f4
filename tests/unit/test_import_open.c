/* Reading an export never leaves it (import_open_in, with openat2 and without), and
 * messages quote files only as printable text (import_printable). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "import.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* errno of opening rel inside root (0: opened). */
static int open_errno(int rootfd, const char *rel)
{
	int fd = import_open_in(rootfd, rel, O_RDONLY);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static void check_open(int rootfd, const char *how)
{
	char name[128];
#define OPEN_IS(rel, want, what)                                                                   \
	do {                                                                                       \
		snprintf(name, sizeof name, "open_in (%s): %s", how, what);                        \
		CHECK(open_errno(rootfd, rel) == (want), name);                                    \
	} while (0)
	OPEN_IS("a.json", 0, "a file inside");
	OPEN_IS("dir/b.json", 0, "a file in a subdirectory");
	OPEN_IS("alias.json", 0, "a symlink that stays inside is followed");
	OPEN_IS("dir/up.json", 0, "a relative symlink up to a file still inside");
	OPEN_IS("abs.json", EXDEV, "an absolute symlink to a file outside is refused");
	OPEN_IS("rel.json", EXDEV, "a relative symlink to a file outside is refused");
	OPEN_IS("../secret", EXDEV, "a path through .. is refused");
	OPEN_IS("outdir/secret", EXDEV, "a directory symlink to the outside is refused");
	OPEN_IS("loop.json", ELOOP, "a symlink loop is one");
	OPEN_IS("ghost.json", ENOENT, "a dangling symlink inside is missing");
#undef OPEN_IS
	struct import_buf b = {0};
	size_t len = 0;
	snprintf(name, sizeof name, "read_file_in (%s): reads a file inside", how);
	CHECK(import_read_file_in(rootfd, "alias.json", &b, &len) == 0 && len == 3 &&
		  memcmp(b.p, "{}\n", 3) == 0,
	      name);
	snprintf(name, sizeof name, "read_file_in (%s): nothing read from outside", how);
	b.n = 0;
	CHECK(import_read_file_in(rootfd, "abs.json", &b, &len) < 0 && errno == EXDEV && b.n == 0,
	      name);
	import_buf_free(&b);
}

static void test_open_in(void)
{
	char tmp[] = "/tmp/midsops-open-XXXXXX", p[4200], q[4200];
	if (!mkdtemp(tmp)) {
		CHECK(0, "open_in: temp dir");
		return;
	}
	snprintf(p, sizeof p, "%s/secret", tmp);
	put(p, "TOP-SECRET\n");
	snprintf(p, sizeof p, "%s/ex", tmp);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/ex/dir", tmp);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/ex/a.json", tmp);
	put(p, "{}\n");
	snprintf(p, sizeof p, "%s/ex/dir/b.json", tmp);
	put(p, "{}\n");
	const char *links[][2] = {
	    {"a.json", "alias.json"},
	    {"../a.json", "dir/up.json"},
	    {"", "abs.json"},
	    {"../secret", "rel.json"},
	    {"..", "outdir"},
	    {"loop.json", "loop.json"},
	    {"missing.json", "ghost.json"},
	};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(p, sizeof p, "%s/ex/%s", tmp, links[i][1]);
		snprintf(q, sizeof q, "%s/secret", tmp);
		if (symlink(links[i][0][0] ? links[i][0] : q, p) < 0)
			CHECK(0, "open_in: symlink");
	}
	snprintf(p, sizeof p, "%s/ex", tmp);
	int rootfd = open(p, O_RDONLY | O_DIRECTORY);
	check_open(rootfd, "openat2");
	import_openat2_off = 1;
	check_open(rootfd, "without openat2");
	import_openat2_off = 0;
	close(rootfd);
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
}

static void test_printable(void)
{
	char out[256];
	import_printable(out, sizeof out, "a\x1b[31mb\x7f", 8);
	CHECK_STR(out, "a\\x1b[31mb\\x7f", "printable: control bytes and DEL escaped");
	import_printable(out, sizeof out, "caf\xc3\xa9 \xe2\x80\x93", 9);
	CHECK_STR(out, "caf\xc3\xa9 \xe2\x80\x93", "printable: UTF-8 text kept");
	import_printable(out, sizeof out, "x\xc2\x9by\xff\xc3", 6);
	CHECK_STR(out, "x\\xc2\\x9by\\xff\\xc3",
		  "printable: C1 controls and invalid UTF-8 escaped");
	char again[256];
	import_printable(again, sizeof again, out, strlen(out));
	CHECK_STR(again, out, "printable: a second pass changes nothing");
	import_printable(out, 7, "ab\x01\x02", 4);
	CHECK_STR(out, "ab\\x01", "printable: never half an escape");
}

struct first_err {
	char code[64], msg[1024];
};

static void keep_first(void *ctx, const char *path, const char *json_path, const char *code,
		       const char *msg)
{
	(void)path, (void)json_path;
	struct first_err *e = ctx;
	if (!e->code[0]) {
		snprintf(e->code, sizeof e->code, "%s", code);
		snprintf(e->msg, sizeof e->msg, "%s", msg);
	}
}

static void test_near_quote(void)
{
	/* Valid UTF-8 and no raw control character (the mapper refuses those earlier), but
	 * DEL and U+009B (a terminal's CSI) right after the error. */
	const char text[] = "{\"tag\": nope\x7f\xc2\x9b"
			    "2J, \"x\": 1}";
	char key[IMPORT_MAX_KEY + 1] = "";
	struct first_err e = {"", ""};
	int n = import_map_file(IK_TAG, "tags/x.json", text, sizeof text - 1, key, sizeof key, NULL,
				keep_first, &e);
	CHECK(n > 0 && strcmp(e.code, "invalid_json") == 0, "near quote: invalid JSON reported");
	CHECK_CONTAINS(e.msg, "near 'nope\\x7f\\xc2\\x9b2J", "near quote: escaped");
	CHECK(!strchr(e.msg, 0x7f) && !strstr(e.msg, "\xc2\x9b"), "near quote: no raw byte");
}

int main(void)
{
	test_open_in();
	test_printable();
	test_near_quote();
	HARNESS_END();
}
