"""Data tools: `inspect`, the demo data, `schema export`."""
