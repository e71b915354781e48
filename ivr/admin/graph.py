"""`flask --app ivr ivr graph LINE`: draw a line's menu tree (Mermaid or DOT, and an SVG)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ivr.admin.diagrams import to_dot, to_mermaid
from ivr.core.lines import Directory, Line
from ivr.web import live_menus

DOT_SECONDS = 60  # the longest dot may take to lay out one line's diagram


@click.command("graph")
@click.argument("line_id", metavar="LINE")
@click.option("--format", "output_format", type=click.Choice(["mermaid", "dot"]),
              default="mermaid", show_default=True, help="Text printed to standard output.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the diagram as SVG into this file (needs Graphviz's dot).")
@with_appcontext
def graph_command(line_id: str, output_format: str, svg_path: Path | None) -> None:
    """Draw a line's menu tree: Mermaid text (GitHub renders it), DOT, or an SVG."""
    line = _line(line_id)
    if svg_path is not None:
        write_svg(to_dot(line), svg_path)
        click.echo(f"SVG written to {svg_path}", err=True)
    click.echo(to_mermaid(line) if output_format == "mermaid" else to_dot(line), nl=False)


def _line(line_id: str) -> Line:
    """The loaded line `line_id`, or a usage error naming the lines there are."""
    live_menus.require_menus(current_app)
    lines: Directory = current_app.extensions["ivr.lines"]
    line = lines.get(line_id)
    if line is None:
        raise click.BadParameter(f"no line {line_id!r}; lines: {', '.join(sorted(lines.lines))}",
                                 param_hint="LINE")
    return line


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
