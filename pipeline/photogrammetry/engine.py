"""The local photogrammetry engine (issue 14). Registers nothing yet."""
