/* libFuzzer target: the INI config parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char err[512];
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	config_defaults(&cfg);
	config_parse(&cfg, "fuzz.conf", text, err, sizeof err);
	free(text);
	return 0;
}
