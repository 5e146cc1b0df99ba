"""The native CLI's arguments for ``inspect``, ``validate`` and ``process``."""

import re

LIMITS = {
    "--max-line-bytes": "max_line_bytes",
    "--max-archive-bytes": "max_archive_bytes",
    "--max-entries": "max_entries",
    "--max-unpacked-bytes": "max_unpacked_bytes",
    "--max-compression-ratio": "max_compression_ratio",
    "--max-json-depth": "max_json_depth",
}
SANDBOX = {"--max-memory-bytes": "max_memory_bytes", "--step-timeout": "step_timeout"}

COMMANDS = {
    "inspect": {"flags": {"--json": "json"}, "values": {}, "positional": ["file"], "required": []},
    "validate": {"flags": {}, "values": {}, "positional": ["file"], "required": []},
    "process": {
        "flags": {"-q": "quiet", "--quiet": "quiet", "-j": "json_mode", "--json": "json_mode", "--debug": "debug",
                  "--resume": "resume"},
        "values": {"-i": "ident", "--ident": "ident", "--artifact-dir": "artifact_dir"},
        "positional": ["private_data_dir"],
        "required": ["private_data_dir"],
    },
}


class UsageError(Exception):
    pass


def parse(argv):
    if not argv or argv[0] not in COMMANDS:
        raise UsageError(f"unrecognized subcommand '{argv[0]}'" if argv else "a subcommand is required: inspect, validate or process")
    command, rest = argv[0], argv[1:]
    spec = COMMANDS[command]
    args = {"command": command, "limits": {}, "sandbox": {}}
    positional = []
    only_positional = False
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if only_positional or arg == "-" or not arg.startswith("-"):
            positional.append(arg)
            continue
        if arg == "--":
            only_positional = True
            continue
        inline = None
        if arg.startswith("--") and "=" in arg:
            arg, inline = arg.split("=", 1)

        def value():
            nonlocal i
            if inline is not None:
                return inline
            if i >= len(rest):
                raise UsageError(f"a value is required for '{arg}' but none was supplied")
            i += 1
            return rest[i - 1]

        if arg in spec["flags"] and inline is None:
            args[spec["flags"][arg]] = True
        elif arg in spec["values"]:
            args[spec["values"][arg]] = value()
        elif arg in LIMITS:
            text = value()
            if not re.fullmatch(r"[0-9]+", text):
                raise UsageError(f"invalid value '{text}' for '{arg}': not an unsigned number")
            args["limits"][LIMITS[arg]] = int(text)
        elif arg in SANDBOX:
            text = value()
            try:
                number = float(text)
            except ValueError:
                number = -1.0
            if not number > 0 or (arg == "--step-timeout" and number > 1e9):
                raise UsageError(f"invalid value '{text}' for '{arg}'")
            args["sandbox"][SANDBOX[arg]] = number
        else:
            raise UsageError(f"unexpected argument '{arg}' found")
    if len(positional) > len(spec["positional"]):
        raise UsageError(f"unexpected argument '{positional[len(spec['positional'])]}' found")
    for name, text in zip(spec["positional"], positional):
        args[name] = text
    for name in spec["required"]:
        if name not in args:
            raise UsageError(f"the required argument <{name.upper()}> was not provided")
    return args
