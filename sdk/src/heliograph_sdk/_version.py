"""The SDK's version, read by the build backend and sent as ``$lib_version``."""

__version__ = "0.1.0"
