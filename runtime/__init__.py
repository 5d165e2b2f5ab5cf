"""kiln.runtime: executables, the compile cache, AOT libraries (docs/architecture.md)."""
