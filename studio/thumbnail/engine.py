"""The local thumbnail engine (issue 11). Registers nothing yet."""
