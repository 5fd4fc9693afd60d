"""Temporal workflows: thin durable shells around the pure decider in `domain`."""
