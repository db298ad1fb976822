"""`Accept-Language: vi` makes problems speak Vietnamese (title, detail, every errors[].msg, import row errors)
with `Content-Language: vi`; English stays the default. (tests/conftest.py also fails any test that meets a
problem with no Vietnamese in app/i18n.py.)"""

from __future__ import annotations

import pytest

from app.i18n import negotiate

VI = {"Accept-Language": "vi"}
U = "/api/v1/units"


def user_body(**over):
    return {"username": "thu.ky.anmy", "password": "short", "role": "unit", "unit_id": 1, **over}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", "vi"),
        ("en-US,en;q=0.9,vi;q=0.8", "en"),
        ("fr, vi;q=0.5", "vi"),
        ("en;q=0.2, vi;q=0.9", "vi"),
        ("de", "en"),
        ("vi;q=0", "en"),
        ("vi;q=abc", "en"),
    ],
)
def test_the_language_is_negotiated_by_weight(header, language):
    assert negotiate(header) == language


def test_a_short_password_says_characters_in_english_by_default(lead):
    r = lead.post("/api/v1/users", json=user_body())
    assert r.status_code == 422, r.text
    assert r.headers["content-language"] == "en"
    body = r.json()
    assert body["title"] == "Unprocessable Content"
    assert body["errors"] == [{"loc": ["body", "password"], "msg": "Value should have at least 8 characters"}]
    assert "items" not in r.text


def test_a_short_password_says_characters_in_vietnamese(lead):
    r = lead.post("/api/v1/users", json=user_body(), headers=VI)
    assert r.status_code == 422, r.text
    assert r.headers["content-language"] == "vi"
    body = r.json()
    assert body["title"] == "Dữ liệu không hợp lệ"
    assert body["errors"] == [{"loc": ["body", "password"], "msg": "Phải có ít nhất 8 ký tự"}]
    assert body["detail"] == "body.password: Phải có ít nhất 8 ký tự"


def test_every_pydantic_message_of_a_bad_body_is_vietnamese(lead, world):
    body = {
        "unit_id": world.unit_id("PH-TANTHANH"),
        "kind": "nope",
        "held_on": "2024-02-30",
        "title": "",
        "attendees": -1,
        "questions_answered": "x",
        "extra": 1,
    }
    r = lead.post("/api/v1/forums", json=body, headers=VI)
    assert r.status_code == 422, r.text
    by_field = {e["loc"][-1]: e["msg"] for e in r.json()["errors"]}
    assert by_field == {
        "kind": "Phải là một trong các giá trị: 'village_forum' hoặc 'business_dialogue'",
        "held_on": "Phải là một ngày hợp lệ (YYYY-MM-DD)",
        "title": "Phải có ít nhất 1 ký tự",
        "attendees": "Phải lớn hơn hoặc bằng 0",
        "questions_answered": "Phải là một số nguyên hợp lệ",
        "extra": "Không được có trường này",
    }


def test_our_own_messages_speak_vietnamese_with_their_parts_kept(lead, ward, anonymous):
    r = lead.get(f"{U}/987654321", headers=VI)
    assert r.status_code == 404 and r.headers["content-language"] == "vi"
    assert r.json()["title"] == "Không tìm thấy"
    assert r.json()["detail"] == "Không có bản ghi units với id 987654321."
    r = anonymous.get(U, headers=VI)
    assert r.status_code == 401
    assert (r.json()["title"], r.json()["detail"]) == ("Chưa xác thực", "Cần một bearer token hợp lệ.")
    r = ward.post(U, json={"code": "X-VI-1", "name": "Thôn", "kind": "village", "parent_id": 1}, headers=VI)
    assert r.status_code == 403, r.text
    assert r.json()["title"] == "Không có quyền" and r.json()["detail"].startswith("Vai trò 'unit' không được")
    r = lead.get(U, params={"cursor": "garbage"}, headers=VI)
    assert r.json()["errors"] == [
        {"loc": ["query", "cursor"], "msg": "Con trỏ phân trang (cursor) không do máy chủ này cấp."}
    ]


def test_english_stays_the_default_for_the_same_problems(lead):
    r = lead.get(f"{U}/987654321")
    assert r.headers["content-language"] == "en"
    assert (r.json()["title"], r.json()["detail"]) == ("Not Found", "No units record with id 987654321.")


def test_import_row_errors_speak_vietnamese(ward, world):
    csv_text = (
        "unit_code,kind,held_on,title,attendees,questions_answered\n"
        "PH-TANTHANH,village_forum,2024-03-12,Diễn đàn thôn,-5,1\n"
        "KHONG-CO,village_forum,2024-03-12,Diễn đàn thôn,5,1\n"
    )
    r = ward.post("/api/v1/imports/forums", content=csv_text.encode(), headers={"Content-Type": "text/csv", **VI})
    assert r.status_code == 422, r.text
    assert r.headers["content-language"] == "vi"
    messages = [(e["row"], e["field"], e["message"]) for e in r.json()["errors"]]
    assert (1, "attendees", "Phải lớn hơn hoặc bằng 0") in messages, messages
    assert (2, "unit_code", "không có đơn vị nào mang mã 'KHONG-CO'") in messages, messages
    english = ward.post("/api/v1/imports/forums", content=csv_text.encode(), headers={"Content-Type": "text/csv"})
    assert (1, "attendees", "Input should be greater than or equal to 0") in [
        (e["row"], e["field"], e["message"]) for e in english.json()["errors"]
    ]


def test_problems_sent_by_the_middleware_speak_vietnamese(lead):
    r = lead.post(U, content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json", **VI})
    assert r.status_code == 413
    assert r.json()["title"] == "Dữ liệu gửi quá lớn" and r.json()["detail"].startswith("Nội dung gửi lên lớn hơn")
    assert r.headers["content-language"] == "vi"
