"""StratusLab: an IaaS cloud distribution for research communities."""

__version__ = "0.1.0"
