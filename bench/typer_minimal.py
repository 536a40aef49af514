"""A two-command typer app: the start-up floor of `--help` for any typer CLI (bench/startup.py)."""

import typer

app = typer.Typer()


@app.command()
def first(count: int = 1) -> None:
    """First command."""


@app.command()
def second() -> None:
    """Second command."""


if __name__ == "__main__":
    app()
