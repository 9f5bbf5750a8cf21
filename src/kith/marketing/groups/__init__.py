"""Target groups: static, community, compound (grade groups are kept by scoring)."""
