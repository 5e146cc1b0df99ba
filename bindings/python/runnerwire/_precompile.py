"""``python -m runnerwire._precompile``: compiles the component once, beside it, for this
wasmtime (`make bindings` runs it), so each process deserializes instead of compiling."""

import os

from wasmtime import component as wc

from . import _component


def main():
    compiled = wc.Component.from_file(_component.engine(), _component.WASM)
    tmp = _component.PRECOMPILED + ".tmp"
    with open(tmp, "wb") as f:
        f.write(compiled.serialize())
    os.replace(tmp, _component.PRECOMPILED)


if __name__ == "__main__":
    main()
