"""Step functions the corpus specs under tests/data/ point at."""
