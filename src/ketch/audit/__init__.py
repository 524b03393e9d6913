"""Audit: `ketch audit`, what a package artifact would disclose before it is published (not built yet).
"""
