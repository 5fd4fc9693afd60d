"""The HTTP face of Amparo (FastAPI): auth, access, commands to workflows, projection reads."""
