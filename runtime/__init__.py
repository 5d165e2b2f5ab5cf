"""kiln.runtime (see DESIGN.md)."""
