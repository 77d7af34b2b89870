"""Learning: the built-in baseline model (and, later, predictions and selection strategies)."""
