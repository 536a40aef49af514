"""The typer layer: parse, call one core function, render, map errors to exit codes.

Modules here import nothing that imports boto3 at module level (so `drctl --help` stays fast):
core modules are imported inside command bodies.
"""
