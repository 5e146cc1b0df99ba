"""The ``runnerwire`` command the wheel installs: the CLI binary the wheel carries, run in
this process's place (no Python stays between AWX or Receptor and the worker)."""

import os
import sys

from .streaming import _cli


def main():
    binary = _cli()
    os.execv(binary, ["runnerwire", *sys.argv[1:]])
