"""The SQLite backend's own tests: what only it has (tables, files on disk, batches).

What every backend must do is in ``tests/contract``, run once per backend.
"""
