"""The demo: sample collections and a sample repository, run through every verb."""
