"""Corner overlay text of a canvas, Qt-free, so privacy is testable without widgets.

With privacy on, nothing that identifies the patient appears: name, ID, birth date, accession
number (study date and description stay: they identify the exam, not the person).
"""

from __future__ import annotations

from enum import StrEnum

from viewer.dicomio import ImageHeader, VoiWindow

PRIVACY_PLACEHOLDER = "Patient hidden (P)"


class Corner(StrEnum):
    """The four corners of a canvas."""

    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"


def patient_lines(header: ImageHeader, privacy: bool) -> list[str]:
    """Patient identity lines, or the placeholder when privacy is on."""
    if privacy:
        return [PRIVACY_PLACEHOLDER]
    name = str(header.patient_name or "").replace("^", " ").strip() or "(no name)"
    lines = [name, f"ID {header.patient_id or '-'}"]
    born = " ".join(part for part in (_date(header.patient_birth_date), header.patient_sex) if part)
    if born:
        lines.append(born)
    return lines


def study_lines(header: ImageHeader, privacy: bool) -> list[str]:
    """Study date and description, series and instance numbers (accession hidden with privacy)."""
    lines = [line for line in (_date(header.study_date), header.study_description) if line]
    if header.accession_number and not privacy:
        lines.append(f"Acc {header.accession_number}")
    lines.append(f"Se {header.series_number or '-'}  Im {header.instance_number or '-'}")
    return lines


def view_label(header: ImageHeader) -> str:
    """Laterality and view, e.g. "R CC" ("" parts left out)."""
    return " ".join(part for part in (header.laterality, header.view_position) if part)


def geometry_lines(header: ImageHeader) -> list[str]:
    """Modality, matrix size, pixel spacing and photometric interpretation."""
    size = f"{header.columns} x {header.rows}"
    if header.pixel_spacing:
        size += f"  {header.pixel_spacing[0]:.3f} mm"
    return [line for line in (header.modality, size, header.photometric) if line]


def display_lines(
    window: VoiWindow | None, zoom: float, frame: int, frames: int, invert: bool
) -> list[str]:
    """Window, zoom and frame lines for the bottom-right corner."""
    lines = []
    if window is not None:
        name = f"  {window.explanation}" if window.explanation else ""
        lines.append(f"C {window.center:.0f}  W {window.width:.0f}{name}")
    lines.append(f"Zoom {zoom * 100:.0f}%" + ("  Inverted" if invert else ""))
    if frames > 1:
        lines.append(f"Frame {frame + 1}/{frames}")
    return lines


def overlay_text(
    header: ImageHeader,
    *,
    privacy: bool,
    window: VoiWindow | None,
    zoom: float,
    frame: int = 0,
    frames: int = 1,
    invert: bool = False,
) -> dict[Corner, list[str]]:
    """The lines of each corner: view, patient, study, display state."""
    return {
        Corner.TOP_LEFT: [view_label(header)] if view_label(header) else [],
        Corner.TOP_RIGHT: patient_lines(header, privacy) + study_lines(header, privacy),
        Corner.BOTTOM_LEFT: geometry_lines(header),
        Corner.BOTTOM_RIGHT: display_lines(window, zoom, frame, frames, invert),
    }


def warnings_for(header: ImageHeader) -> list[str]:
    """Banner warnings: lossy compression, FOR PROCESSING images."""
    warnings = []
    if header.lossy_compressed:
        warnings.append("Lossy compressed image: not for primary diagnosis")
    if header.presentation_intent.upper() == "FOR PROCESSING":
        warnings.append("FOR PROCESSING image: raw detector data, not for presentation")
    return warnings


def _date(value: str) -> str:
    value = str(value or "")
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value
