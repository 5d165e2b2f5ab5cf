"""kiln.examples (see DESIGN.md)."""
