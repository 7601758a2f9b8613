"""The model card: a model's manifest in readable form (what it is, how good, what for)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6 import QtWidgets

from inference import ModelManifest
from viewer.model.findings import SCORE_SCALE_TEXT

NOT_FOR_CLINICAL_USE = "NOT FOR CLINICAL USE"


def _metrics_rows(metrics: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_metrics_rows(value, f"{name} / "))
        elif isinstance(value, float):
            rows.append((name, f"{value:.3f}"))
        else:
            rows.append((name, json.dumps(value) if not isinstance(value, str) else value))
    return rows


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th align='left'>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table cellspacing='0' cellpadding='3' border='1'><tr>{head}</tr>{body}</table>"


def model_card_html(manifest: ModelManifest, provider: str = "") -> str:
    """The manifest as an HTML page (name, version, data, metrics, operating points, use)."""
    warning = ""
    if manifest.not_for_clinical_use:
        warning = (
            f"<p style='background:#a01010;color:white;padding:6px'><b>{NOT_FOR_CLINICAL_USE}"
            "</b>: research and demonstration only.</p>"
        )
    points = [
        (p.name, f"{p.threshold:.3f}", f"{p.sensitivity:.1%}", f"{p.specificity:.1%}")
        for p in manifest.operating_points
    ]
    parts = [
        f"<h2>{html.escape(manifest.name)} <small>version {html.escape(manifest.version)}</small>"
        "</h2>",
        warning,
        f"<h3>Intended use</h3><p>{html.escape(manifest.intended_use or 'not stated')}</p>",
        f"<h3>Training data</h3><p>{html.escape(manifest.training_data or 'not stated')}</p>",
        "<h3>Operating points</h3>",
        _table(points, ("name", "score threshold", "sensitivity", "specificity"))
        if points
        else "<p>none declared</p>",
        f"<h3>Scores</h3><p>{html.escape(SCORE_SCALE_TEXT)}</p>",
        "<h3>Metrics (held-out data)</h3>",
        _table(_metrics_rows(manifest.metrics), ("metric", "value"))
        if manifest.metrics
        else "<p>none declared</p>",
        "<h3>Technical</h3>",
        _table(_technical_rows(manifest, provider), ("item", "value")),
    ]
    return "".join(parts)


def _technical_rows(manifest: ModelManifest, provider: str) -> list[tuple[str, str]]:
    g, p = manifest.global_model, manifest.patch_model
    rows = [
        ("global model input", f"{g.file} {list(g.input_shape)}"),
        ("patch model input", f"{p.file} {list(p.input_shape)}"),
        ("pixel spacing trained at", f"{manifest.pixel_spacing_mm} mm"),
        ("channels", ", ".join(c.kind.value for c in manifest.channels)),
        (
            "fusion",
            f"global weight {manifest.fusion.global_weight}, crops "
            f"{manifest.fusion.crop_aggregation.value}, views "
            f"{manifest.fusion.view_aggregation.value}",
        ),
        ("global sha256", g.sha256 or "(embedded manifest)"),
        ("patch sha256", p.sha256),
    ]
    if provider:
        rows.append(("running on", provider))
    return rows


class ModelCardDialog(QtWidgets.QDialog):
    """Shows `model_card_html` in a scrollable, non-modal dialog."""

    def __init__(
        self, manifest: ModelManifest, provider: str = "", parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model card: {manifest.name}")
        self.browser = QtWidgets.QTextBrowser(self)
        self.browser.setHtml(model_card_html(manifest, provider))
        close = QtWidgets.QPushButton("Close", self)
        close.clicked.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(close)
        self.resize(620, 720)
