"""The local photo styling engine (issue 11, seed 002). Registers nothing yet."""
