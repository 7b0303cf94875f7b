"""What the hub image adds to JupyterHub: settings from the environment, tier-gated login,
sized servers in the hub or as ECS Fargate tasks."""
