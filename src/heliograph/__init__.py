"""Heliograph: self-hosted error tracking and LLM analytics with AI-suggested fixes."""

__version__ = "0.2.0"
