/* libFuzzer target: the two word splitters that stand between typed text and a command:
 * the console command bar's (tui_words_split; pure code, no curses needed) and the
 * runbook/notify_command one (rb_split_argv). Neither may run a shell, so neither may
 * produce more than the input's bytes, and every word must be a proper string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runbook.h"
#include "tui.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	size_t len = strlen(line);

	char **w = NULL, err[256];
	int n = tui_words_split(line, &w, err, sizeof err);
	if (n >= 0) {
		size_t total = 0;
		for (int i = 0; i < n; i++)
			total += strlen(w[i]);
		if (total > len || w[n] != NULL)
			abort();
		tui_words_free(w);
	}

	char *argv[RB_MAX_ARGV + 1];
	char *buf = strdup(line);
	if (buf) {
		n = rb_split_argv(buf, argv, RB_MAX_ARGV);
		if (n > RB_MAX_ARGV)
			abort();
		for (int i = 0; i >= 0 && i < n; i++)
			if (argv[i] < buf || argv[i] > buf + len)
				abort();
		free(buf);
	}
	free(line);
	return 0;
}
