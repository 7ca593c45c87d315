#!/bin/bash
# libkvmon.so exports exactly the functions kvmon.h declares: nothing
# internal leaks, nothing public is missing.
set -u
LIB=${1:?libkvmon.so} HDR=${2:?kvmon.h}
exported=$(nm -D --defined-only "$LIB" | awk '$2 == "T" {print $3}' | sort -u)
declared=$(grep -o 'kvmon_[a-z0-9_]*(' "$HDR" | tr -d '(' | sort -u)
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
[ -n "$extra" ] && echo "$extra" | sed 's/^/# exported but not in kvmon.h: /'
[ -n "$missing" ] && echo "$missing" | sed 's/^/# in kvmon.h but not exported: /'
ok "$([ -z "$extra" ]; echo $?)" "no internal symbol exported ($(echo "$exported" | wc -l) exported)"
ok "$([ -z "$missing" ]; echo $?)" "every function of kvmon.h exported"
echo "1..$n"
exit $((failed ? 1 : 0))
