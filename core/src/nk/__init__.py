"""nk: machine-learning experiments on speaker characteristics from audio."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nk")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

from nk.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
