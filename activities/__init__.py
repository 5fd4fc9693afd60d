"""All I/O a workflow needs, as idempotent Temporal activities (wired in `worker.py`)."""
