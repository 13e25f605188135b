"""The local film engine (issue 12). Registers nothing yet."""
