"""The one shared helper package of the test suite.

Tests and conftest files import helpers from here (`tests.helpers.cloud`, `.net`, `.waits`,
`.servers`, `.pki`), never from another test module or from a conftest file: a test module is a
list of tests, not a library (tests/test_suite_rules.py fails on such an import).

- `cloud`   settings for a throw-away cloud, the migrated template database, `drain`
- `net`     free ports, a loopback HTTP server, a directory served over HTTP
- `waits`   `wait_until`: poll for a state with a deadline and a message (never sleep for one)
- `servers` a real `stratus-server` on loopback driven by the real CLI
- `pki`     certificate factories (CA, intermediates, end entities, endorsers; small EC chains)
- `onexsd`  OpenNebula's XML schemas per line, and the namespacing objects need to validate
"""
