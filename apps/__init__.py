"""The Panel app and the command line."""
