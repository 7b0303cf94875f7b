"""Layer 3, the engine: build (build_folder owns build/), publish, cost; iterates the product
registry and never imports a product by name."""
