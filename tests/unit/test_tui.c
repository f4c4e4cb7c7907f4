/* Pure parts of the console: command-line splitting and UTF-8 width handling. */
#include <locale.h>
#include <stdlib.h>

#include "harness.h"
#include "tui.h"

int main(void)
{
	char **w = NULL, err[128];
	int n = tui_words_split("  import  '/data/my export' --max-errors 5 ", &w, err, sizeof err);
	CHECK(n == 4, "words: count with quotes and blanks");
	CHECK_STR(w[1], "/data/my export", "words: single quotes keep blanks");
	CHECK_STR(w[3], "5", "words: last word");
	CHECK(w[4] == NULL, "words: NULL-terminated");
	tui_words_free(w);
	n = tui_words_split("a \"b \\\"c\\\" d\" e\\ f", &w, err, sizeof err);
	CHECK(n == 3, "words: double quotes and escapes");
	CHECK_STR(w[1], "b \"c\" d", "words: escaped quote inside double quotes");
	CHECK_STR(w[2], "e f", "words: backslash escapes a blank");
	tui_words_free(w);
	n = tui_words_split("db-check; rm -rf / $(x)", &w, err, sizeof err);
	CHECK(n == 5 && strcmp(w[0], "db-check;") == 0, "words: no shell syntax is interpreted");
	tui_words_free(w);
	CHECK(tui_words_split("a 'b", &w, err, sizeof err) == -1, "words: unterminated quote");
	CHECK_CONTAINS(err, "unterminated", "words: error says why");
	CHECK(tui_words_split("   ", &w, err, sizeof err) == 0, "words: blank line");
	tui_words_free(w);

	if (setlocale(LC_ALL, "C.UTF-8") || setlocale(LC_ALL, "en_US.UTF-8")) {
		CHECK(tui_text_width("abc") == 3, "width: ASCII");
		CHECK(tui_text_width("\u00e9t\u00e9") == 3,
		      "width: accented letters are one column");
		CHECK(tui_text_width("\u6f22\u5b57") == 4, "width: CJK is two columns each");
		CHECK(tui_text_fit("\u6f22\u5b57x", 3) == 3, "fit: a wide char never splits");
		CHECK(tui_text_fit("h\u00e9llo", 2) == 3, "fit: cuts after whole characters");
		CHECK(tui_text_fit("abc", 10) == 3, "fit: short text fits whole");
	}
	HARNESS_END();
}
