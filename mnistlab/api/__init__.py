"""The Python API's implementation: what `import mnistlab` offers (see mnistlab/__init__.py
and docs/api.md), and what the commands in `commands/` call."""
