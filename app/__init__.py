"""Tam Kỳ DX communication plan API."""
