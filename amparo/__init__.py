"""Amparo's composition layer: settings, logging, Temporal wiring, services and the CLI."""
