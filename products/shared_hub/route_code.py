"""Placeholder until the route function lands."""


def inline_source() -> str:
    return "def handler(event, context):\n    pass\n"
