"""Jinja2 templates (HLS C++, test-bench scaffolds) shipped as package data."""
