"""kiln.passes (see DESIGN.md)."""
