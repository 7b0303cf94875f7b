"""Layer 3, the engine: build (owns build/), publish, cost. Iterates the product registry."""
