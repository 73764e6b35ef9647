"""The PostgreSQL backend's own tests: what only it has (N nodes on one database).

What every backend must do is in ``tests/contract``, run once per backend.
"""
