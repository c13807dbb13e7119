"""Bundled sample data: the default county (demo-liannan) and the Qingyuan reference data.

Shipped inside the ruralnet wheel as the package ``ruralnet.geodata`` (see setup.cfg); read it
with :mod:`ruralnet.sources.datasets`, never by a path relative to the checkout.
"""
