"""Backup, restore and verify: the library functions behind those commands."""
