"""Benchmarks of lifecircle against networkx, osmnx, pandana and spopt."""
