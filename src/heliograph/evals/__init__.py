"""Evaluators: scores computed by Heliograph itself, and quality regressions as issues.

:mod:`~heliograph.evals.definition` (what an evaluator is),
:mod:`~heliograph.evals.checks` (the deterministic kinds),
:mod:`~heliograph.evals.judge` (LLM-as-judge prompt and answer),
:mod:`~heliograph.evals.engine` (one evaluator on one sample: the plain function),
:mod:`~heliograph.evals.samples` (a stored generation as a sample),
:mod:`~heliograph.evals.regression` (a failure as an error event),
:mod:`~heliograph.evals.job` (the background job in digest worker 0).
See ``docs/evaluations.md``.
"""
