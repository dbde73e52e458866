"""Use cases: compute, images, identity, jobs, reconciler...

Services import `core` only; drivers, repositories and clocks come by constructor.
"""
