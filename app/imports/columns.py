"""One column declaration per importable resource: the Vietnamese label, whether it is required, its kind and
its enumerated values (with their labels). The template, the import's normalisation of office habits and the
error messages all read it, so a label or an enum value is written once.

The columns come from the resource's create schema (the fields a client may set, in the schema's order), with
`unit_code` in place of the unit column; the labels and notes below only name them.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from app.imports.engine import ImportSpec
from app.imports.registry import ImportResource, import_spec
from app.office.tables import label_key

LABELS: dict[str, str] = {
    "unit_code": "Mã đơn vị",
    "external_ref": "Mã tham chiếu",
    "topics": "Nội dung truyền thông",
    "year": "Năm",
    "title": "Tiêu đề",
    "document_number": "Số văn bản",
    "issued_on": "Ngày ban hành",
    "url": "Đường dẫn",
    "channel": "Kênh",
    "duration_minutes": "Thời lượng (phút)",
    "produced_on": "Ngày sản xuất",
    "airings": "Các lần phát sóng",
    "kind": "Loại",
    "held_on": "Ngày tổ chức",
    "attendees": "Số người dự",
    "questions_answered": "Số câu hỏi được giải đáp",
    "audience": "Đối tượng",
    "participants": "Số người tham gia theo đơn vị",
    "month": "Tháng",
    "source": "Nguồn",
    "respondents": "Số người được khảo sát",
    "satisfied": "Số người hài lòng",
    "contest_id": "Mã cuộc thi (id)",
    "participant_ref": "Mã thí sinh",
    "participant_name": "Họ và tên thí sinh",
    "score": "Điểm",
    "submitted_at": "Thời điểm nộp bài",
    # units
    "code": "Mã đơn vị",
    "name": "Tên đơn vị",
    "parent_id": "Đơn vị cấp trên (id)",
    "parent_code": "Mã đơn vị cấp trên",
    "merged_into_code": "Sáp nhập vào (mã đơn vị)",
    "is_pilot": "Thí điểm",
    "staff_count": "Số CBCCVC",
    "established_on": "Ngày thành lập",
    "dissolved_on": "Ngày giải thể",
    "merged_into_id": "Sáp nhập vào đơn vị (id)",
}
LABEL_OVERRIDES: dict[tuple[str, str], str] = {
    ("units", "kind"): "Loại đơn vị",
    ("forums", "kind"): "Loại diễn đàn",
    ("forums", "title"): "Tên diễn đàn",
    ("unit-plans", "title"): "Tên kế hoạch",
    ("trainings", "title"): "Tên lớp tập huấn",
    ("broadcasts", "title"): "Tên chương trình",
}
VALUE_LABELS: dict[str, str] = {
    # units
    "city": "Thành phố",
    "department": "Phòng, ban",
    "media_center": "Trung tâm truyền thông",
    "association": "Hội, đoàn thể",
    "ward": "Phường",
    "commune": "Xã",
    "quarter": "Khối phố",
    "village": "Thôn",
    "school": "Trường học",
    # broadcasts
    "city_radio_tv": "Đài Truyền thanh - Truyền hình thành phố",
    "ward_radio": "Đài truyền thanh phường, xã",
    "web_portal": "Cổng thông tin điện tử",
    # forums
    "village_forum": "Diễn đàn thôn, khối phố",
    "business_dialogue": "Đối thoại với doanh nghiệp",
    # trainings and contests
    "officials": "Cán bộ, công chức, viên chức",
    "residents": "Người dân",
    "businesses": "Doanh nghiệp",
    "students": "Học sinh",
    "youth": "Đoàn viên, thanh niên",
    # surveys
    "one_stop": "Bộ phận một cửa",
    "survey": "Phiếu khảo sát",
    "hotline": "Đường dây nóng",
    # topics (content items a-h)
    "concepts": "Khái niệm chuyển đổi số",
    "roles": "Vai trò của chuyển đổi số",
    "legal_documents": "Văn bản pháp luật",
    "success_stories": "Mô hình, điển hình thành công",
    "programmes": "Chương trình, đề án",
    "commune_dx": "Chuyển đổi số cấp xã",
    "shared_apps": "Ứng dụng dùng chung",
    "experience_sharing": "Chia sẻ kinh nghiệm",
}
NOTES: dict[str, str] = {
    "unit_code": "Mã của đơn vị sở hữu bản ghi (chọn trong danh sách); phải thuộc phạm vi của bạn.",
    "parent_code": "Mã của đơn vị cấp trên (ví dụ PH-TANTHANH cho một khối phố của phường Tân Thạnh).",
    "merged_into_code": "Mã của đơn vị tiếp nhận khi đơn vị này đã sáp nhập (không bắt buộc).",
    "external_ref": "Mã riêng của hệ thống/đơn vị bạn; nhập lại cùng mã sẽ cập nhật bản ghi thay vì tạo mới.",
    "topics": "Một hoặc nhiều nội dung, cách nhau bởi dấu chấm phẩy (;).",
    "airings": 'Danh sách thời điểm phát sóng dạng JSON, ví dụ ["2024-03-12T19:00:00+07:00"].',
    "participants": 'Danh sách JSON, ví dụ [{"unit_id": 12, "count": 30}].',
    "month": "Tháng dạng YYYY-MM hoặc MM/YYYY.",
    "submitted_at": "Ngày giờ nộp bài (giờ Việt Nam) dạng dd/mm/yyyy hh:mm.",
    "url": "Địa chỉ trang web (không bắt buộc).",
}
KIND_NOTES = {
    "date": "Ngày dạng dd/mm/yyyy.",
    "int": "Số nguyên không âm.",
    "float": "Số.",
    "bool": "Có hoặc Không.",
    "enum": "Chọn một giá trị trong danh sách.",
}
TITLES = {
    "units": "DANH SÁCH ĐƠN VỊ",
    "unit-plans": "KẾ HOẠCH TRUYỀN THÔNG CỦA ĐƠN VỊ",
    "broadcasts": "CHƯƠNG TRÌNH PHÁT THANH, TRUYỀN HÌNH VỀ CHUYỂN ĐỔI SỐ",
    "forums": "DIỄN ĐÀN, ĐỐI THOẠI VỀ CHUYỂN ĐỔI SỐ",
    "trainings": "LỚP TẬP HUẤN, BỒI DƯỠNG VỀ CHUYỂN ĐỔI SỐ",
    "satisfaction-surveys": "KẾT QUẢ KHẢO SÁT MỨC ĐỘ HÀI LÒNG",
    "contest-entries": "BÀI DỰ THI TRỰC TUYẾN",
}


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    required: bool
    kind: str  # text | unit_code | int | float | bool | date | instant | month | enum | enum_list | list
    values: tuple[tuple[str, str], ...] = ()  # (value, label) of an enumerated field

    @property
    def note(self) -> str:
        return NOTES.get(self.field) or KIND_NOTES.get(self.kind, "")


@dataclass(frozen=True)
class ResourceColumns:
    resource: str
    title: str
    columns: tuple[Column, ...]

    @property
    def by_field(self) -> dict[str, Column]:
        return {c.field: c for c in self.columns}

    def header_names(self) -> dict[str, str]:
        """label_key of every name a header cell may carry (field name or label) -> field."""
        names = {}
        for c in self.columns:
            names[label_key(c.label)] = c.field
        for c in self.columns:
            names[label_key(c.field)] = c.field
        return names


def _unwrap(annotation: Any) -> Any:
    """The type under Annotated/Optional."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else str
        else:
            return annotation


def _kind(field: str, annotation: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    base = _unwrap(annotation)
    if get_origin(base) is list:
        item = _unwrap(get_args(base)[0])
        if isinstance(item, type) and issubclass(item, Enum):
            return "enum_list", tuple((m.value, VALUE_LABELS.get(m.value, m.value)) for m in item)
        return "list", ()
    if isinstance(base, type) and issubclass(base, Enum):
        return "enum", tuple((m.value, VALUE_LABELS.get(m.value, m.value)) for m in base)
    if base is bool:
        return "bool", ()
    if base is int:
        return "int", ()
    if base is float:
        return "float", ()
    if base is datetime:
        return "instant", ()
    if base is date:
        return "date", ()
    if field == "month":
        return "month", ()
    if isinstance(base, type) and issubclass(base, datetime):  # pydantic's AwareDatetime
        return "instant", ()
    return "text", ()


def _columns(resource: str, ispec: ImportSpec) -> ResourceColumns:
    spec = ispec.spec
    fields = dict(spec.create.model_fields)
    out: list[Column] = []
    by_code = {id_col: code_col for code_col, id_col in ispec.code_columns.items()}
    if spec.parent is not None:
        out.append(Column(spec.parent[0], LABELS.get(spec.parent[0], spec.parent[0]), True, "int"))
    for name, info in fields.items():
        if name == spec.unit_column and ispec.unit_code:
            out.append(Column("unit_code", LABELS["unit_code"], info.is_required(), "unit_code"))
            continue
        if name in by_code:  # units name their parent by code, as the clerk knows it
            out.append(Column(by_code[name], LABELS[by_code[name]], info.is_required(), "unit_code"))
            continue
        kind, values = _kind(name, info.annotation)
        if kind == "text" and "AwareDatetime" in repr(info.annotation):
            kind = "instant"
        label = LABEL_OVERRIDES.get((resource, name)) or LABELS.get(name, name)
        out.append(Column(name, label, info.is_required(), kind, values))
    # the unit first, then what is required, then the rest, each in the schema's order
    order = {c.field: i for i, c in enumerate(out)}
    first = {"unit_code", "code", *(spec.parent[:1] if spec.parent else ())}
    out.sort(key=lambda c: (c.field not in first, not c.required, order[c.field]))
    return ResourceColumns(resource, TITLES.get(resource, resource.upper()), tuple(out))


@cache
def resource_columns(resource: ImportResource) -> ResourceColumns:
    return _columns(resource.value, import_spec(resource))
