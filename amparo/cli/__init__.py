"""The `amparo` command line."""
