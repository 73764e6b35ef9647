"""Datasets and experiments: curated inputs, runs over them, compared item by item.

:mod:`heliograph.datasets.definition` is what datasets, items, runs and run
items are and the checks on what users send; :mod:`~heliograph.datasets.importer`
reads JSONL and CSV files; :mod:`~heliograph.datasets.from_calls` turns recorded
LLM calls into items; :mod:`~heliograph.datasets.experiment` runs a prompt version
over a dataset in the background; :mod:`~heliograph.datasets.comparison` puts
runs side by side. Storage is the store's :class:`~heliograph.store.contract.Datasets`
role. See ``docs/evaluations.md``.
"""
