"""Tests for skebm.distributions (a package: test_mixture.py also exists in tests/nn)."""
