"""``python -m runnerwire inspect|validate|process ...``: the native CLI's arguments,
output and exit codes, from the same component."""

import sys

from . import EXIT, CodecError, StreamError, inspect, process
from ._args import UsageError, parse


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
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT.USAGE
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
