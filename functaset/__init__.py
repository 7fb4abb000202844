"""functaset assignment package."""
