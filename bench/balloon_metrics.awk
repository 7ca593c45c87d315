# SPDX-License-Identifier: GPL-2.0-or-later
# Balloon tracking metrics from `kvmon balloon follow --csv` output
# (t_s,ids_usage,moved,target,actual); definitions in docs/cages.md.
#   awk -F, -v ph=NAME -v room=BYTES -v ival=SEC -v base=BYTES -f this CSV
# room = base - floor (usage is capped there: the floor holds by design),
# ival = --interval in seconds (sampling delay bound added to reaction).
function ab(x) { return x < 0 ? -x : x }
function near(v, want) { return ab(v - want) <= 0.02 * want + 1048576 }
NR > 1 {
	t[n] = $1; u[n] = ($2 < room ? $2 : room); m[n] = $3; a[n] = base - $5; n++
}
END {
	for (i = 0; i < n; i++) {
		st = 1
		for (j = i; j >= 0 && t[i] - t[j] <= 2; j--)
			if (ab(u[j] - u[i]) > 2097152) st = 0
		if (st && t[i] > 2 && u[i] > 4194304) {
			e = ab(m[i] - u[i]) / u[i]; es += e; if (e > em) em = e
			e = ab(a[i] - u[i]) / u[i]; ea += e; if (e > eam) eam = e
			ns++
		}
	}
	for (i = 1; i < n; i++) if (ab(u[i] - u[i-1]) > 4194304) {
		nc++
		# first sample whose request (m) / guest size (a) matches u[i],
		# unless a newer change comes first (superseded)
		for (k = 0; k < 2; k++) {
			for (j = i; j < n; j++) {
				v = k ? a[j] : m[j]
				if (near(v, u[i])) break
				if (j > i && ab(u[j] - u[j-1]) > 4194304) { j = -1; break }
			}
			if (j < 0) { sup[k]++; continue }
			if (j >= n) { miss[k]++; continue }
			r = t[j] - t[i]; rs[k] += r; nr[k]++; if (r > rm[k]) rm[k] = r
		}
	}
	printf "balloon %s: %d samples, %d steady; steady-state error (requested) mean %.2f%% max %.2f%%, (guest actual) mean %.2f%% max %.2f%%\n",
	       ph, n, ns, ns ? 100*es/ns : 0, 100*em, ns ? 100*ea/ns : 0, 100*eam
	printf "balloon %s: %d usage changes; reaction (request) mean %.2f s max %.2f s, + sampling <= %.1f s: max %.2f s (%d requested, %d superseded, %d not requested)\n",
	       ph, nc, nr[0] ? rs[0]/nr[0] : 0, rm[0], ival, rm[0] + ival, nr[0], sup[0], miss[0]
	printf "balloon %s: settle (guest actual) mean %.2f s max %.2f s (%d reached, %d superseded, %d not reached)\n",
	       ph, nr[1] ? rs[1]/nr[1] : 0, rm[1], nr[1], sup[1], miss[1]
}
