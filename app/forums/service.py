"""Forums: the monthly village and quarter DX forums (C4) and leaders-business dialogues (C2)."""

from __future__ import annotations

from app.common.records import external_ref_key, not_null
from app.common.spec import ResourceSpec
from app.forums.schemas import ForumCreate, ForumRead, ForumUpdate
from app.models import Forum

forums = Forum.__table__

spec = ResourceSpec(
    name="forums",
    table=forums,
    create=ForumCreate,
    update=ForumUpdate,
    read=ForumRead,
    date_column="held_on",
    filters={"kind": lambda v: forums.c.kind == str(v)},
    natural_keys=[external_ref_key(what="forum")],
    rules=[not_null("unit_id", "kind", "held_on", "title", "attendees", "questions_answered")],
)
