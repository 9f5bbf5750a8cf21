"""The online community: members, communities, activity, List Builder and its API."""
