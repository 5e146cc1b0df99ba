"""``python -m runnerwire inspect|validate|process ...``: the native CLI's arguments,
output and exit codes, from the same component. The arguments are parsed by the grammar the
native CLI is built from (``_native.parse_cli``)."""

import sys

from . import EXIT, CodecError, StreamError, _native, inspect, process


class _EarlyExit(Exception):
    """Help, the version or a usage error: the text as the native CLI prints it."""

    def __init__(self, text, exit_code, to_stdout):
        super().__init__(text)
        self.text, self.exit_code, self.to_stdout = text, exit_code, to_stdout


def parse(argv):
    """The command's arguments as a dict with ``command`` set; raises _EarlyExit."""
    parsed = _native.parse_cli(list(argv))
    if parsed[0] == "exit":
        raise _EarlyExit(*parsed[1:])
    return {"command": parsed[1], **parsed[2]}


def _source(file):
    # The component reads stdin itself (nothing buffered here yet).
    return "/dev/stdin" if file in (None, "-") else file


def run(argv):
    args = parse(argv)
    out = sys.stdout.buffer
    if args["command"] == "inspect":
        json_mode = args.get("json", False)
        result = inspect(_source(args.get("file")), limits=args["limits"], sandbox=args["sandbox"],
                         json_lines=out.write if json_mode else (lambda _: None))
        if not json_mode:
            out.write(result.report.encode())
        out.flush()
        return EXIT.SUCCESS if result.first_problem is None else EXIT.BAD_STREAM
    if args["command"] == "validate":
        result = inspect(_source(args.get("file")), limits=args["limits"], sandbox=args["sandbox"], json_lines=lambda _: None)
        if result.first_problem is not None:
            print(f"runnerwire: {result.first_problem}", file=sys.stderr)
            return EXIT.BAD_STREAM
        return EXIT.SUCCESS
    try:
        outcome = process("/dev/stdin", args["private_data_dir"], ident=args.get("ident"), artifact_dir=args.get("artifact_dir"),
                          quiet=args.get("quiet", False), limits=args["limits"], sandbox=args["sandbox"], output=out,
                          resume=args.get("resume", False))
    finally:
        out.flush()
    return outcome.exit_code


def main(argv=None):
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except _EarlyExit as e:
        (sys.stdout if e.to_stdout else sys.stderr).write(e.text)
        return e.exit_code
    except BrokenPipeError:
        return EXIT.SUCCESS
    except (StreamError, CodecError) as e:
        print(f"runnerwire: {e}", file=sys.stderr)
        return e.exit_code
    except FileNotFoundError as e:
        print(f"runnerwire: cannot open {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT.IO_ERROR
    except OSError as e:
        print(f"runnerwire: {e}", file=sys.stderr)
        return EXIT.IO_ERROR


if __name__ == "__main__":
    sys.exit(main())
