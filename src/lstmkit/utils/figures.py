"""Writing matplotlib figures: rendered in memory, then renamed into place, so no half-written image."""

from __future__ import annotations

import io
import os
from pathlib import Path

from matplotlib.figure import Figure

from lstmkit.utils.serialization import atomic_write_bytes


def save_figure(figure: Figure, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Write ``figure`` to ``path`` atomically, in the format its suffix names (PNG without one)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=Path(path).suffix.lstrip(".").lower() or "png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
