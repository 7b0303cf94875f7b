"""Layer 1, the model: portfolio.yaml read, validated and described.

Imports nothing of labcatalog's.
"""
