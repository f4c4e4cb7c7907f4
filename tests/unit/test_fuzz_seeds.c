/* Every committed fuzz seed (tests/fuzz/corpus/TARGET/, crash regressions included)
 * through the same entry points as the libFuzzer targets, compiled without clang. Under
 * make check-asan this replays them with ASan and UBSan in CI. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define LLVMFuzzerTestOneInput fuzz_args_one
#include "../fuzz/fuzz_args.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_map_one
#include "../fuzz/fuzz_map.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_manifest_one
#include "../fuzz/fuzz_manifest.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_runbook_one
#include "../fuzz/fuzz_runbook.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_words_one
#include "../fuzz/fuzz_words.c"
#undef LLVMFuzzerTestOneInput

static const struct {
	const char *dir;
	int (*one)(const uint8_t *, size_t);
} targets[] = {
    {"args", fuzz_args_one},	     {"config", fuzz_config_one},   {"map", fuzz_map_one},
    {"manifest", fuzz_manifest_one}, {"runbook", fuzz_runbook_one}, {"words", fuzz_words_one},
};

static int replay(const char *top, const char *dir, int (*one)(const uint8_t *, size_t))
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/%s", top, dir);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char f[8192];
		snprintf(f, sizeof f, "%s/%s", path, e->d_name);
		FILE *fp = fopen(f, "rb");
		if (!fp)
			continue;
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof buf, fp);
		fclose(fp);
		/* An exact-size heap copy, as libFuzzer hands it over. */
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		one(copy, len);
		free(copy);
		n++;
	}
	closedir(d);
	return n;
}

int main(void)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		char name[128];
		int n = replay(top, targets[i].dir, targets[i].one);
		snprintf(name, sizeof name, "fuzz seeds of %s replay without a crash (%d)",
			 targets[i].dir, n);
		CHECK(n > 0, name);
	}

	/* The mapper's first fuzz finding: invalid JSON a few bytes before the end. The
	 * report quotes the text near the error; it must stop at the end of the file. */
	static const char tail[] = "{\"full_name\": \"a.b.c\", \"x\": [1, 2]]\n}";
	char *text = malloc(sizeof tail - 1 + 1);
	memcpy(text, tail, sizeof tail - 1);
	text[sizeof tail - 1] = 0;
	char key[IMPORT_MAX_KEY + 1] = "";
	size_t seen = 0;
	int nerr = import_map_file(IK_POWER, "powers/a/b/c.json", text, sizeof tail - 1, key,
				   sizeof key, NULL, on_error, &seen);
	CHECK(nerr == 1 && seen > 0, "mapper: invalid JSON near the end is one clear error");
	free(text);
	HARNESS_END();
}
