"""Memberships, teams and who may see what (PostgreSQL)."""

from __future__ import annotations


class AccessMixin:
    pass
