"""Which resources import, and how each matches its rows (API.md section 7)."""

from __future__ import annotations

from enum import StrEnum

from app.imports.engine import ImportSpec


class ImportResource(StrEnum):
    UNITS = "units"
    UNIT_PLANS = "unit-plans"
    BROADCASTS = "broadcasts"
    FORUMS = "forums"
    TRAININGS = "trainings"
    SATISFACTION_SURVEYS = "satisfaction-surveys"
    CONTEST_ENTRIES = "contest-entries"


def import_spec(resource: ImportResource) -> ImportSpec:
    """The resource's import spec (imported lazily so that every domain package stays independent)."""
    match resource:
        case ImportResource.UNITS:
            from app.units.service import spec

            codes = {"parent_code": "parent_id", "merged_into_code": "merged_into_id"}
            return ImportSpec(spec, match_on=("code",), unit_code=False, code_columns=codes)
        case ImportResource.UNIT_PLANS:
            from app.unit_plans.service import spec
        case ImportResource.BROADCASTS:
            from app.broadcasts.service import spec
        case ImportResource.FORUMS:
            from app.forums.service import spec
        case ImportResource.TRAININGS:
            from app.trainings.service import spec
        case ImportResource.SATISFACTION_SURVEYS:
            from app.surveys.service import spec
        case ImportResource.CONTEST_ENTRIES:
            from app.contests.service import entry_spec

            return ImportSpec(entry_spec, match_on=("contest_id", "unit_id", "external_ref"))
    return ImportSpec(spec)
