"""Step functions that the run tests execute in worker processes."""
