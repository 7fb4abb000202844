"""miniplaces assignment package."""
