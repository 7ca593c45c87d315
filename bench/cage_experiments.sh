#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The cage experiments of issue 6, with the kvmon CLI on this host's real
# cgroups (beneath this script's own cgroup) and, for the balloon, the
# bundled guest. Writes CSV + PNG (gnuplot) into OUT and prints a summary.
#
#   bench/cage_experiments.sh [cpu] [mem] [balloon]    (default: all)
#   KVMON=build/src/kvmon/kvmon OUT=cage-results DURATION=30
#
# cpu      VM+IDS cage (weight 40) vs a competing busy group (weight 60),
#          all pinned to CPU 0; the cage's share of the two, per second.
# mem      cage capped at 64 MiB runs an "IDS" that writes and reads 160 MiB
#          of files; its usage, page cache included, sampled every 100 ms.
# balloon  performer following (a) an IDS that mallocs/frees random
#          amounts every 4 s, (b) an integrity scan filling the page cache.
set -u
KVMON=${KVMON:-$(dirname "$0")/../build/src/kvmon/kvmon}
OUT=${OUT:-cage-results}
DURATION=${DURATION:-30}
TAG=x$$
mkdir -p "$OUT"
WHAT=${*:-cpu mem balloon}
pids=()
cages=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for c in "${cages[@]}"; do "$KVMON" cage remove "$c" --evict >/dev/null 2>&1; done
	[ -n "${VMRUN:-}" ] && KVMON_RUNDIR=$VMRUN "$KVMON" vm stop --name "$TAG" >/dev/null 2>&1
	[ -n "${VMRUN:-}" ] && rm -rf "$VMRUN"
	rm -rf "$OUT/files.$TAG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
now() { date +%s.%N; }
cpu_ns() { "$KVMON" cage stats "$1" --json | jq .cpu_ns; }

exp_cpu() {
	local a=${TAG}-vmids b=${TAG}-busy csv=$OUT/cpu_share.csv
	"$KVMON" cage create "$a" --cpu-weight 40 >/dev/null || return 1; cages+=("$a")
	"$KVMON" cage create "$b" --cpu-weight 60 >/dev/null || return 1; cages+=("$b")
	# Two busy processes per group: "QEMU" and "IDS" vs two competitors.
	for g in "$a" "$a" "$b" "$b"; do
		"$KVMON" cage run "$g" -- taskset -c 0 sh -c 'while :; do :; done' &
		pids+=($!)
	done
	sleep 2
	echo "t_s,cage_share_pct" > "$csv"
	local t0 pa pb ca cb i sum=0 n=0 min=100 max=0
	t0=$(now); pa=$(cpu_ns "$a"); pb=$(cpu_ns "$b")
	for ((i = 1; i <= DURATION; i++)); do
		sleep 1
		ca=$(cpu_ns "$a"); cb=$(cpu_ns "$b")
		share=$(echo "scale=3; 100 * ($ca - $pa) / (($ca - $pa) + ($cb - $pb))" | bc)
		echo "$(echo "$(now) - $t0" | bc),$share" >> "$csv"
		pa=$ca; pb=$cb
	done
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null; pids=()
	"$KVMON" cage remove "$a" >/dev/null; "$KVMON" cage remove "$b" >/dev/null; cages=()
	awk -F, 'NR>1 { s+=$2; n++; if (min==""||$2<min) min=$2; if ($2>max) max=$2 }
		END { printf "cpu: cage share mean %.2f%% (min %.2f, max %.2f) over %d s; target 40 +-3\n", s/n, min, max, n }' "$csv"
	gnuplot <<-EOF
	set terminal png size 800,400; set output "$OUT/cpu_share.png"
	set datafile separator ","; set key bottom right
	set xlabel "time (s)"; set ylabel "CPU share of VM+IDS cage (%)"; set yrange [0:100]
	plot "$csv" every ::1 using 1:2 with linespoints title "VM+IDS cage (weight 40)", \
	     40 title "target 40%", 37 dt 2 lc rgb "gray" notitle, 43 dt 2 lc rgb "gray" notitle
	EOF
}

exp_mem() {
	local a=${TAG}-mem csv=$OUT/mem_limit.csv cap=$((64 << 20)) dir=$OUT/files.$TAG
	mkdir -p "$dir"
	"$KVMON" cage create "$a" --memory 64M >/dev/null || return 1; cages+=("$a")
	# The IDS writes its files itself so their page cache is charged to
	# the cage, then reads them all and hashes them (an integrity scan).
	"$KVMON" cage run "$a" -- sh -c "for i in \$(seq 1 16); do head -c 10M /dev/urandom > $dir/f\$i; done;
		sha256sum $dir/f* > /dev/null; cat /usr/lib/x86_64-linux-gnu/*.so* > /dev/null 2>&1" &
	local ids=$! t0; pids+=($ids)
	echo "t_s,current,anon,file,limit" > "$csv"
	t0=$(now)
	while kill -0 $ids 2>/dev/null; do
		"$KVMON" cage stats "$a" --json |
			jq -r --arg t "$(echo "$(now) - $t0" | bc)" '[$t, .memory.current, .memory.anon, .memory.file, .memory.max] | @csv' >> "$csv"
		sleep 0.1
	done
	wait $ids 2>/dev/null; pids=()
	peak=$(cat "$(dirname "$("$KVMON" cage stats "$a" --json | jq -r .dirs.memory)")/kvmon-$a/memory.max_usage_in_bytes" 2>/dev/null || echo 0)
	"$KVMON" cage remove "$a" >/dev/null; cages=()
	rm -rf "$dir"
	awk -F, -v cap=$cap -v peak="$peak" 'NR>1 { if ($2>m) m=$2; if ($4>f) f=$4; n++ }
		END { printf "mem: %d samples, max usage %.1f MiB (max page cache %.1f MiB), kernel peak %.1f MiB, cap %.1f MiB: %s\n",
		      n, m/1048576, f/1048576, peak/1048576, cap/1048576, (m<=cap && peak<=cap) ? "never exceeded" : "EXCEEDED" }' "$csv"
	gnuplot <<-EOF
	set terminal png size 800,400; set output "$OUT/mem_limit.png"
	set datafile separator ","; set key top left
	set xlabel "time (s)"; set ylabel "MiB"
	plot "$csv" every ::1 using 1:(\$2/1048576) with lines title "cage usage (incl. page cache)", \
	     "$csv" every ::1 using 1:(\$4/1048576) with lines title "page cache", \
	     "$csv" every ::1 using 1:(\$3/1048576) with lines title "anon", \
	     $((cap >> 20)) title "cap" lw 2
	EOF
}

exp_balloon() {
	local a=${TAG}-bids csv
	VMRUN=$(mktemp -d /tmp/kvmon-cagex.XXXXXX)
	export KVMON_RUNDIR=$VMRUN
	"$KVMON" vm start --name "$TAG" --wait --mem-dir "$VMRUN" >/dev/null || return 1
	"$KVMON" cage create "$a" >/dev/null || return 1; cages+=("$a")
	for phase in malloc scan; do
		csv=$OUT/balloon_$phase.csv
		if [ $phase = malloc ]; then
			# (a) random amounts 0..96 MiB, changed every 4 s
			"$KVMON" cage run "$a" -- python3 -c '
import random, time
random.seed(1)
while True:
    n = random.randint(0, 96)
    b = bytearray(n << 20)
    for i in range(0, len(b), 4096): b[i] = 1
    time.sleep(4)
    del b' &
		else
			# (b) integrity scan: hash 8 x 16 MiB of files not in the page
			# cache (dropped with dd iflag=nocache), one every 2 s, so the
			# cage's page cache grows; then drop them again and repeat.
			local sd=$OUT/files.$TAG
			mkdir -p "$sd"
			for i in 1 2 3 4 5 6 7 8; do head -c 16M /dev/urandom > "$sd/f$i"; done
			sync "$sd"/f*
			for i in 1 2 3 4 5 6 7 8; do dd if="$sd/f$i" iflag=nocache count=0 status=none; done
			"$KVMON" cage run "$a" -- sh -c "while :; do for f in $sd/f*; do sha256sum \$f > /dev/null; sleep 2; done;
				for f in $sd/f*; do dd if=\$f iflag=nocache count=0 status=none; done; sleep 6; done" &
		fi
		pids+=($!)
		"$KVMON" balloon follow --name "$TAG" --ids "$a" --floor 96M --interval 200 \
			--min-gap 500 --hysteresis 1M --duration "$DURATION" --csv "$csv" > "$OUT/balloon_$phase.log" 2>&1
		for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
		wait 2>/dev/null; pids=()
		"$KVMON" balloon set 256M --name "$TAG" --timeout 60 >/dev/null
		# Metrics (docs/cages.md "Experiments"). u = IDS usage capped at
		# what the floor allows (base - floor: above it the VM is held at
		# the floor by design); m = moved as requested (base - target);
		# a = moved as the guest reports it (base - actual).
		# Steady-state error: |m - u| / u and |a - u| / u at samples where
		# u has not changed by more than 2 MiB for 2 s.
		# Reaction: from the first sample showing a > 4 MiB change of u to
		# the first sample whose request m is within 2% of it (+ 1 MiB);
		# the performer's sampling delay adds at most one --interval.
		# Settle: from the same change until the guest's actual a is
		# within 2% of it: TCG inflation speed, not the performer.
		# A change followed by another before it was matched counts as
		# superseded (rate limit --min-gap), not as missed.
		# (bench/balloon_metrics.awk: also usable on a saved CSV.)
		awk -F, -v ph=$phase -v room=$((160 << 20)) -v ival=0.2 -v base=$((256 << 20)) \
			-f "$(dirname "$0")/balloon_metrics.awk" "$csv" | tee "$OUT/balloon_$phase.txt"
		gnuplot <<-EOF
		set terminal png size 800,400; set output "$OUT/balloon_$phase.png"
		set datafile separator ","; set key top left
		set xlabel "time (s)"; set ylabel "MiB"
		plot "$csv" every ::1 using 1:(\$2/1048576) with lines title "IDS usage (anon + page cache)", \
		     "$csv" every ::1 using 1:(\$3/1048576) with lines title "moved (requested)", \
		     "$csv" every ::1 using 1:((268435456-\$5)/1048576) with lines title "moved (guest actual)"
		EOF
	done
}

for w in $WHAT; do
	case $w in
	cpu) exp_cpu ;;
	mem) exp_mem ;;
	balloon) exp_balloon ;;
	*) echo "unknown experiment $w" >&2; exit 2 ;;
	esac
done
echo "results in $OUT/"
