# Function lengths: awk -f tools/funclen.awk src/*.c src/*/*.c | sort -rn | head (HACKING.md).
# Function bodies: a line that is exactly "{" at column 0 opens one, "}" at column 0 closes it.
/^\{$/ { start = FNR; name = prev; next }
/^\}/ && start { len = FNR - start + 1; print len, FILENAME ":" start, name; start = 0 }
{ if ($0 !~ /^[ \t]/ && $0 != "") prev = $0 }
