"""The million-event job the size test (test_million_events.py) and the side-by-side
benchmark (bench/million_events.py) both run: the program that makes its events, and how
to count and remove a million event files without the measuring process growing."""

import os
import subprocess

# The job's program (the worker's `binary` kwarg): one verbose event per line, %d lines.
GENERATOR = """#!/usr/bin/env python3
import sys
w = sys.stdout.write
for i in range(%d):
    w("generated event %%d of a long job\\n" %% i)
"""


def count_files(directory):
    """Entries of `directory`, counted without holding their names: the measuring process
    stays small, because Linux carries a process's peak RSS through fork and exec into the
    next stage it starts, and a list of a million names would read as that stage's."""
    with os.scandir(directory) as entries:
        return sum(1 for _ in entries)


def remove_tree(path):
    """`rm -rf` in a child, for the same reason (shutil.rmtree lists each directory)."""
    subprocess.run(["rm", "-rf", str(path)], check=False)
