"""CSV imports on either side: the header, numbered batches, bulk writes and the report."""
