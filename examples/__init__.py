"""kiln.examples: runnable examples (README.md, docs/aot.md)."""
