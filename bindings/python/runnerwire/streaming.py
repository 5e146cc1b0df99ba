"""Drop-ins for ``ansible_runner.streaming``: the same class names, constructors and
``run()``. ``Processor`` reads a result stream in the native host (see ``runnerwire``)."""

from . import Processor

__all__ = ["Processor"]
