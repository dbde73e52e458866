"""Operator commands of `stratus-server` (config, preflight, db, backup, restore): part of the
composition root, so they may read settings and open the database; front ends never import them."""
