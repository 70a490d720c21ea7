"""The churn example: plain Python steps that specs/churn.yaml turns into jobs."""
