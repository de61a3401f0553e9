"""The commons ledger: an append-only, verifiable record of machine-hours and contributions.

The pure parts (``merkle``, ``note``, ``entries``, ``audit``, ``offline``) use only the
standard library and ``cryptography``, so a member can verify an export without a
hub; storage, receipts, checkpoints and reports work on the hub's SQLite database.
"""
