"""Prompt management: versioned prompts with labels, served to SDKs.

:mod:`heliograph.prompts.definition` is what a prompt version is and the
checks on what users send; :mod:`heliograph.prompts.comparison` puts each
version's LLM calls side by side. Storage is the store's
:class:`~heliograph.store.contract.Prompts` role. See ``docs/prompts.md``.
"""
