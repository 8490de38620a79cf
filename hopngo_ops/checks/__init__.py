"""Diagnostic steps: each a `@check` function taking the notebook's Runbook, returning a Step."""
