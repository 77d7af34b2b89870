"""Plain data types and pure rules. Imports nothing of labelloop."""
