"""`flask --app ivr ivr graph LINE`: draw a line's menu tree (Mermaid or DOT, and an SVG)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from ivr.admin.cli import ivr_group, line_or_fail
from ivr.admin.diagrams import to_dot, to_mermaid

DOT_SECONDS = 60  # the longest dot may take to lay out one line's diagram


def init_app(app: Flask) -> None:
    """Register `graph`."""
    ivr_group(app).add_command(graph_command)


@click.command("graph")
@click.argument("line_id", metavar="LINE")
@click.option("--format", "output_format", type=click.Choice(["mermaid", "dot"]),
              default="mermaid", show_default=True, help="Text printed to standard output.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the diagram as SVG into this file (needs Graphviz's dot).")
@with_appcontext
def graph_command(line_id: str, output_format: str, svg_path: Path | None) -> None:
    """Draw a line's menu tree: Mermaid text (GitHub renders it), DOT, or an SVG."""
    line = line_or_fail(line_id)
    if svg_path is not None:
        write_svg(to_dot(line), svg_path)
        click.echo(f"SVG written to {svg_path}", err=True)
    click.echo(to_mermaid(line) if output_format == "mermaid" else to_dot(line), nl=False)


def write_svg(dot_source: str, path: Path) -> None:
    """Run Graphviz's `dot` (no shell) to write `dot_source` as SVG; fail with a clear message."""
    dot = shutil.which("dot")
    if dot is None:
        raise click.ClickException(
            "Graphviz's 'dot' is not installed, so no SVG can be drawn: install it "
            "(Debian/Ubuntu: apt-get install graphviz), or leave out --svg")
    try:
        done = subprocess.run([dot, "-Tsvg", "-o", str(path)], input=dot_source.encode(),
                              capture_output=True, timeout=DOT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise click.ClickException(f"could not run {dot}: {e}") from e
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        raise click.ClickException(f"dot could not draw {path}: {message}")
