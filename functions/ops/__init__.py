"""Operator tools run from a workstation or CI (not deployed as functions)."""
