"""kiln's version: its own module so that the runtime (the compile cache's key)
reads it without importing kiln's __init__, which assembles the frontend."""

__version__ = "0.1.0"
