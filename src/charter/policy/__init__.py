"""The charter: input and output screening (policy as code)."""
