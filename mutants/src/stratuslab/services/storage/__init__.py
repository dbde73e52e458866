"""Storage use cases: persistent volumes (rules, filters, quotas, the volume service).

Imports `core` only; backends and repositories come by constructor.
"""
