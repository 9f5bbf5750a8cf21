"""Bounces and complaints: VERP return paths, the intake, reading each message, what follows."""
