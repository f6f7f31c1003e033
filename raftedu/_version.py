"""The one place raftedu's version is written (pyproject.toml reads it; ``raftedu --version`` prints it)."""

__version__ = "0.1.0"
