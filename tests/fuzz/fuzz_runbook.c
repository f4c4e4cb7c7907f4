/* libFuzzer target: the runbook parser and validator (rb_parse, from memory), and the
 * helpers a loaded runbook feeds: step lookup, the human-step scan and the argv split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	char err[1024];
	struct runbook *rb = rb_parse("fuzz.json", "fuzz", text, err, sizeof err);
	if (rb) {
		rb_needs_human(rb);
		for (int i = 0; i < rb->nsteps; i++) {
			const struct rb_step *s = &rb->steps[i];
			if (rb_step_index(rb, s->id) < 0)
				abort(); /* every parsed step can be found by its id */
			for (int j = 0; j < s->argc; j++)
				if (!s->argv[j])
					abort();
		}
		rb_free(rb);
	} else if (!err[0])
		abort(); /* a refusal always says why */
	free(text);
	return 0;
}
