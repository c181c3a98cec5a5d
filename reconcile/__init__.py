"""Reconcile: visits from observations, identity per visit, and the rules that raise flags."""
