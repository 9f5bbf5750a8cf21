"""Mailings: personalized messages sent to target groups, delivered once each."""
