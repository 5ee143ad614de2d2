"""Tests of the pure torch core."""
