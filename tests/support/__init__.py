"""Helpers the tests share: servers on loopback sockets, Kubernetes objects, datasets.

Fixtures live in the ``conftest.py`` files; everything a test imports lives here.
"""
