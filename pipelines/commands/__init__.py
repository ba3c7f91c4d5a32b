"""The commands that work on a finished run: evaluate, predict, export."""
