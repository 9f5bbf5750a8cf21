"""Reports: community activity, syncs and mailings, each as JSON, CSV and an HTML page."""
