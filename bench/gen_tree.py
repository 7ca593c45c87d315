#!/usr/bin/env python3
"""Generate the benchmark tree: N distinct files totalling MB megabytes
in 200 x 7 directories (used by disk_aide.sh and fim_bench.sh)."""
import os, sys
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = mb * 1024 * 1024 // n
blob = os.urandom(1 << 20)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200), "e%02d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        off = (i * 7919) % (len(blob) - per) if per < len(blob) else 0
        f.write(blob[off:off + per] if per < len(blob) else blob * (per // len(blob)))
        f.write(i.to_bytes(8, "little"))  # every file distinct
