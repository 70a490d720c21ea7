"""yamlpipe: Amazon SageMaker pipelines from a YAML spec and plain Python functions."""

from __future__ import annotations

__version__ = "0.1.0"
