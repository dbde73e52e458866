"""The domain: entities, value objects, the VM state machine, commands, ports and errors.

Imports only the standard library (enforced by import-linter).
"""
