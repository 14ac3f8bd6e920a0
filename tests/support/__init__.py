"""Helpers for the integration tests: real servers on loopback, cached tool venvs.

Everything here is bounded in time and starts processes only on 127.0.0.1;
each server helper stops what it started.
"""
