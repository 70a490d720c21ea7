"""Step functions for the compile test specs in tests/specs/."""
