#!/usr/bin/env python3
"""Pick a small replay set from a fuzz corpus: the inputs (at most 8 KiB each) that together
cover the most coverage edges, chosen greedily.

    ./target/x86_64-unknown-linux-gnu/release/<target> -merge=1 \
        -merge_control_file=/tmp/<target>.ctl /tmp/min-<target> corpus/<target>
    python3 pick.py /tmp/<target>.ctl replays/<target> [COUNT]   # COUNT defaults to 25

Run both from this directory (the control file names corpus files relative to it).

Copies the picks to replays/<target>/corpus-<sha1 prefix>; crash-* files there are kept.
"""
import hashlib
import os
import shutil
import sys

MAX_SIZE = 8 << 10


def main():
    control, out = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    lines = open(control).read().splitlines()
    n = int(lines[0])
    files = lines[2:2 + n]
    features = {}
    for line in lines[2 + n:]:
        # A feature is an edge times 8 plus a hit-count bucket: count edges, not buckets, so
        # that a few inputs reach most of what the corpus reaches. (The COV lines only list
        # edges first seen in that file.)
        if line.startswith("FT "):
            _, i, *ft = line.split()
            features[int(i)] = {int(f) >> 3 for f in ft}
    candidates = {i: f for i, f in features.items() if os.path.getsize(files[i]) <= MAX_SIZE}
    covered, picked = set(), []
    while candidates and len(picked) < count:
        best = max(candidates, key=lambda i: (len(candidates[i] - covered), -os.path.getsize(files[i])))
        if not candidates[best] - covered:
            break
        covered |= candidates.pop(best)
        picked.append(files[best])
    for old in os.listdir(out):
        if old.startswith("corpus-"):
            os.remove(os.path.join(out, old))
    for path in picked:
        data = open(path, "rb").read()
        shutil.copy(path, os.path.join(out, "corpus-" + hashlib.sha1(data).hexdigest()[:12]))
    total = set().union(*features.values()) if features else set()
    print(f"{len(picked)} inputs cover {len(covered)} of {len(total)} edges")


if __name__ == "__main__":
    main()
