#!/usr/bin/env python3
"""Keeps README.md, SECURITY.md and docs/*.md honest (`make test-docs`).

1. Runs every fenced example marked runnable (info string ```sh runnable), each with
   `bash -e -o pipefail` from the repository's root, with the built CLI first on PATH
   (target/release/runnerwire, or the binary RUNNERWIRE_BIN names) and TMPDIR and HOME in a
   fresh scratch directory that is removed afterwards. An example fails when it exits
   non-zero or runs longer than its time limit. When a ```text expected block follows it
   (nothing but blank lines between), its stdout and stderr together must equal that block
   (trailing spaces of each line and trailing blank lines aside).
2. Checks that every relative link resolves: the file exists, and a `#fragment` into a
   Markdown file names one of its headings (GitHub's anchors).
3. Checks that every `make TARGET` written in code (code spans and fenced blocks) names a
   target the Makefile has.
4. Checks that README.md stays a front door (at most README_LIMIT bytes).

Standard library only. The convention is described at the top of docs/testing.md.
"""

import argparse
import difflib
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 10 * 1024
TIME_LIMIT_SECONDS = 30
RUNNABLE = ("sh", "runnable")
EXPECTED = ("text", "expected")


@dataclass
class Block:
    path: Path
    line: int  # line number of the opening fence, 1-based
    end: int  # line number of the closing fence
    info: tuple
    body: str

    def where(self):
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Example:
    code: Block
    expected: Block | None


FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


def split_markdown(path):
    """The fenced blocks of a Markdown file, and its text outside them (fences blanked, so
    line numbers stay)."""
    blocks, prose = [], []
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or (m.group(2)[0] == "`" and "`" in m.group(3)):
            prose.append(lines[i])
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3)
        start, body = i, []
        i += 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if close and close.group(2)[0] == fence[0] and len(close.group(2)) >= len(fence) and not close.group(3).strip():
                break
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        blocks.append(Block(path, start + 1, i + 1, tuple(info.split()), "\n".join(body) + "\n" if body else ""))
        prose.extend([""] * (i + 1 - start))
        i += 1
    return blocks, "\n".join(prose), lines


def examples_of(path, problems):
    """The runnable examples of one file, each with its expected output when it has one."""
    blocks, _, lines = split_markdown(path)
    found = []
    for n, block in enumerate(blocks):
        if block.info == EXPECTED:
            before = blocks[n - 1] if n else None
            if before is None or before.info != RUNNABLE or not only_blank(lines, before, block):
                problems.append(f"{block.where()}: a ```text expected block must follow a ```sh runnable block directly")
            continue
        if "runnable" in block.info and block.info != RUNNABLE:
            problems.append(f"{block.where()}: write the info string as `sh runnable` (found `{' '.join(block.info)}`)")
            continue
        if block.info == RUNNABLE:
            after = blocks[n + 1] if n + 1 < len(blocks) else None
            expected = after if after is not None and after.info == EXPECTED and only_blank(lines, block, after) else None
            found.append(Example(block, expected))
    return found


def only_blank(lines, first, second):
    """Nothing but blank lines between the end of `first` and the start of `second`."""
    return all(not line.strip() for line in lines[first.end:second.line - 1])


def normalized(text):
    rows = [row.rstrip() for row in text.replace("\r\n", "\n").split("\n")]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def run_example(example, binary, verbose):
    """None when the example passes, else why it failed."""
    scratch = Path(tempfile.mkdtemp(prefix="check-docs-"))
    try:
        home = scratch / "home"
        home.mkdir()
        env = dict(os.environ)
        env.update(
            PATH=f"{binary.parent}{os.pathsep}{env.get('PATH', '')}",
            TMPDIR=str(scratch),
            HOME=str(home),
            LANG="C.UTF-8",
        )
        started = time.monotonic()
        try:
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", example.code.body],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=TIME_LIMIT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return f"ran longer than {TIME_LIMIT_SECONDS} s"
        took = time.monotonic() - started
        output = done.stdout.decode("utf-8", errors="replace")
        if verbose:
            print(f"  {example.code.where()}: exit {done.returncode} in {took:.2f} s")
        if done.returncode != 0:
            return f"exit {done.returncode}; its output:\n" + indent(output)
        if example.expected is not None:
            want, got = normalized(example.expected.body), normalized(output)
            if want != got:
                diff = difflib.unified_diff(want, got, "expected (the docs)", "actual", lineterm="")
                return "output differs from the ```text expected block:\n" + indent("\n".join(diff))
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def indent(text):
    return "\n".join("    " + row for row in text.rstrip("\n").split("\n"))


# --- links ---------------------------------------------------------------------------

INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


@functools.cache
def anchors(path):
    """The anchors GitHub gives the headings of a Markdown file."""
    _, prose, _ = split_markdown(path)
    seen, result = {}, set()
    for line in prose.split("\n"):
        m = HEADING.match(line)
        if not m:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))  # links: their text
        text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(result)


def check_links(path, problems):
    _, prose, _ = split_markdown(path)
    prose = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), prose)
    targets = [(m.start(), m.group(1)) for m in INLINE_LINK.finditer(prose)]
    targets += [(m.start(), m.group(1)) for m in REFERENCE_DEF.finditer(prose)]
    count = 0
    for at, target in targets:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        count += 1
        line = prose.count("\n", 0, at) + 1
        where = f"{path.relative_to(ROOT)}:{line}"
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{where}: link to {target}: no such file")
            continue
        if fragment and dest.suffix == ".md" and fragment.lower() not in anchors(dest):
            problems.append(f"{where}: link to {target}: {dest.relative_to(ROOT)} has no heading with the anchor #{fragment}")
    return count


# --- make targets ----------------------------------------------------------------------

TARGET = re.compile(r"^[A-Za-z0-9][\w.-]*$")


def makefile_targets():
    targets = set()
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").split("\n"):
        m = re.match(r"^([^\s#:=][^:=]*?)\s*::?(?!=)", line)
        if m and not line.startswith("\t"):
            targets.update(name for name in m.group(1).split() if "$" not in name)
    return targets


def named_make_targets(path):
    """(line, target) for every `make TARGET` in the file's code spans and fenced blocks."""
    blocks, prose, _ = split_markdown(path)
    code = [(block.line + 1, block.body) for block in blocks]
    code += [(prose.count("\n", 0, m.start()) + 1, m.group(2)) for m in CODE_SPAN.finditer(prose)]
    found = []
    for first_line, text in code:
        for offset, row in enumerate(text.split("\n")):
            words = row.split()
            for i, word in enumerate(words):
                if word != "make" or (i and words[i - 1] not in ("&&", "||", ";", "|", "$", "sudo") and "=" not in words[i - 1]):
                    continue
                for arg in words[i + 1:]:
                    if arg.startswith("#") or arg in ("&&", "||", ";", "|"):
                        break
                    if arg.startswith("-") or "=" in arg:
                        continue
                    if not TARGET.match(arg):
                        break
                    found.append((first_line + offset, arg))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md, SECURITY.md and docs/*.md)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each example as it runs")
    args = parser.parse_args()
    files = [f.resolve() for f in args.files] or [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
    binary = Path(os.environ.get("RUNNERWIRE_BIN", ROOT / "target/release/runnerwire")).resolve()
    problems = []

    readme = ROOT / "README.md"
    if readme in files and readme.stat().st_size > README_LIMIT:
        problems.append(f"README.md: {readme.stat().st_size} bytes, over {README_LIMIT}: move reference material to docs/")

    links = 0
    for path in files:
        links += check_links(path, problems)

    targets = makefile_targets()
    named = 0
    for path in files:
        for line, target in named_make_targets(path):
            named += 1
            if target not in targets:
                problems.append(f"{path.relative_to(ROOT)}:{line}: `make {target}`: the Makefile has no such target")

    examples = [example for path in files for example in examples_of(path, problems)]
    if examples and not (binary.is_file() and os.access(binary, os.X_OK)):
        problems.append(f"{binary}: no runnerwire binary to run the examples with (make build, or set RUNNERWIRE_BIN)")
        examples = []
    failed = 0
    for example in examples:
        why = run_example(example, binary, args.verbose)
        if why is not None:
            failed += 1
            problems.append(f"{example.code.where()}: the example failed: {why}")

    for problem in problems:
        print(f"FAIL {problem}")
    print(f"{len(examples)} runnable examples ({failed} failed), {links} relative links, "
          f"{named} make targets named, in {len(files)} files: "
          + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
