"""innoscore: credit-risk scoring of specialised tech SMEs from an indicator catalogue."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("innoscore")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
