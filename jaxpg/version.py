"""jaxpg's version, below everything that records it (run folders, ``jaxpg``)."""

__version__ = "0.1.0"
