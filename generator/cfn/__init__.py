"""Layer 2, the CloudFormation library: contract names, IAM policy builders, parameters, checks.

Imports the model's types at most; never the engine, never a product.
"""
