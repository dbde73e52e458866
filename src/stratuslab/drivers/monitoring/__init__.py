"""Monitoring drivers: facts a node reads about its own host."""
