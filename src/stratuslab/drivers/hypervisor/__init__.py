"""Hypervisor drivers.  Each is selected by the name of its factory in the
`stratuslab.hypervisors` entry-point group (drivers/registry.py, bootstrap/nodes.py)."""
