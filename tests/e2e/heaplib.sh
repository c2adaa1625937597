# SPDX-License-Identifier: Apache-2.0
# What the heap scripts (test_heap.sh, test_heap_inject.sh) share; sourced
# after lib.sh.

# bytes FILE FUNCTION INDEX: cum bytes of FUNCTION for sample type INDEX, from go tool pprof.
bytes() {
	go tool pprof -top -nodecount=1000 -unit=B -sample_index="$3" "$1" 2>/dev/null |
		awk -v fn="$2" '$6 == fn || $6 " " $7 == fn { sub("B$", "", $4); print $4; exit }'
}

# expected OUT FUNCTION FIELD: the workload's own number (2: kept, 3: allocated).
expected() {
	awk -v fn="$2" -v f="$3" '$1 == fn { print $f; exit }' "$1"
}

# close_to NAME GOT WANT PERCENT
close_to() {
	local name=$1 got=$2 want=$3 pct=$4
	if [ -n "$got" ] && within "$got" "$want" "$(awk -v w="$want" -v p="$pct" 'BEGIN { print w * p / 100 }')"; then
		pass "$name: $got bytes, workload $want (within $pct%)"
	else
		fail "$name: got '${got}' bytes, workload $want (want within $pct%)"
	fi
}
