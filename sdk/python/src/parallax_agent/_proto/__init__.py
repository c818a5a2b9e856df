"""Generated from proto/confidence.proto by tools/generate_stubs.py; do not edit (a test fails on drift)."""
