"""Secure electronic-delivery mailbox: domain and service.

Run from the repository root (``python -m mailbox ...``): ``mailbox`` is also the name of a
standard-library module, and only the current directory coming first on ``sys.path`` makes ours
win.
"""
