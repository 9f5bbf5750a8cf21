"""The connection: reads the community over its HTTP API and writes to marketing's services."""
