"""Problems in Vietnamese (`Accept-Language: vi`, API.md section 1), from one catalog.

Code raises and validates in English, as before; the rendering layer (app/errors.py for problems, the import
result for row errors) says each text in the caller's language with `say()`:
- a pydantic error becomes a `Message` that keeps its `type` and `ctx`, and is said from `PYDANTIC`;
- our own messages are looked up in `MESSAGES`, keyed by the English text, where `{name}` stands for a part
  that varies (an id, a field, a status): the part is kept, and said in turn if it is itself a message.
A new message needs one entry in `MESSAGES`; tests/conftest.py fails any test that meets a problem whose text
has none.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import cache
from typing import Any

EN, VI = "en", "vi"
language_var: ContextVar[str] = ContextVar("language", default=EN)
# set by the tests: every text said (in any language) that has no Vietnamese entry is noted here
untranslated: set[str] | None = None


def negotiate(accept_language: str | None) -> str:
    """`vi` when the caller prefers Vietnamese to English (RFC 9110 weights), else `en`."""
    best, best_q = EN, 0.0
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in (EN, VI) and q > best_q:
            best, best_q = lang, q - i * 1e-6  # the first of equal weights wins
    return best


class Said(str):
    """A text already in the caller's language: `say()` leaves it as it is."""


class Message(str):
    """An English text that also knows how it was made: a pydantic error (`type`, `ctx`)."""

    type: str | None
    ctx: dict[str, Any]

    def __new__(cls, english: str, type: str | None = None, ctx: dict[str, Any] | None = None) -> Message:
        self = super().__new__(cls, english)
        self.type = type
        self.ctx = ctx or {}
        return self


# English wording fixed where pydantic's is misleading: a string's length is in characters, not "items"
# (a constraint written beside a validator, Annotated[Text, Field(min_length=8)], is checked as a length).
_ENGLISH = {
    "too_short": "should have at least {min_length} characters",
    "too_long": "should have at most {max_length} characters",
}

PYDANTIC: dict[str, str] = {
    "missing": "Trường này là bắt buộc",
    "extra_forbidden": "Không được có trường này",
    "string_type": "Phải là một chuỗi ký tự",
    "string_too_short": "Phải có ít nhất {min_length} ký tự",
    "string_too_long": "Chỉ được có tối đa {max_length} ký tự",
    "string_pattern_mismatch": "Không đúng định dạng (mẫu {pattern})",
    "string_unicode": "Phải là văn bản Unicode hợp lệ",
    "too_short": "Phải có ít nhất {min_length} phần tử",
    "too_long": "Chỉ được có tối đa {max_length} phần tử",
    "text_too_short": "Phải có ít nhất {min_length} ký tự",
    "text_too_long": "Chỉ được có tối đa {max_length} ký tự",
    "int_type": "Phải là một số nguyên",
    "int_parsing": "Phải là một số nguyên hợp lệ",
    "int_parsing_size": "Số nguyên quá lớn",
    "int_from_float": "Phải là một số nguyên, không có phần thập phân",
    "float_type": "Phải là một số",
    "float_parsing": "Phải là một số hợp lệ",
    "finite_number": "Phải là một số hữu hạn",
    "bool_type": "Phải là true hoặc false",
    "bool_parsing": "Phải là giá trị đúng/sai hợp lệ (true/false)",
    "greater_than": "Phải lớn hơn {gt}",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}",
    "less_than": "Phải nhỏ hơn {lt}",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}",
    "multiple_of": "Phải là bội số của {multiple_of}",
    "enum": "Phải là một trong các giá trị: {expected}",
    "literal_error": "Phải là một trong các giá trị: {expected}",
    "date_type": "Phải là một ngày hợp lệ (YYYY-MM-DD)",
    "date_parsing": "Phải là một ngày hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_parsing": "Phải là một ngày hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_inexact": "Phải là một ngày, không kèm giờ",
    "datetime_type": "Phải là một thời điểm hợp lệ (ISO 8601)",
    "datetime_parsing": "Phải là một thời điểm hợp lệ (ISO 8601)",
    "datetime_from_date_parsing": "Phải là một thời điểm hợp lệ (ISO 8601)",
    "datetime_object_invalid": "Phải là một thời điểm hợp lệ (ISO 8601)",
    "timezone_aware": "Thời điểm phải kèm múi giờ (ví dụ +07:00)",
    "timezone_naive": "Thời điểm không được kèm múi giờ",
    "dict_type": "Phải là một đối tượng JSON",
    "model_type": "Phải là một đối tượng JSON",
    "model_attributes_type": "Phải là một đối tượng JSON",
    "list_type": "Phải là một danh sách",
    "tuple_type": "Phải là một danh sách",
    "set_type": "Phải là một danh sách",
    "json_invalid": "JSON không hợp lệ: {error}",
    "json_type": "Phải là JSON hợp lệ",
    "value_error": "{error}",
    "assertion_error": "{error}",
    "union_tag_invalid": "Giá trị phân loại không hợp lệ",
    "url_parsing": "Phải là một địa chỉ URL hợp lệ",
    "uuid_parsing": "Phải là một UUID hợp lệ",
    "decimal_parsing": "Phải là một số thập phân hợp lệ",
    "none_required": "Phải để trống (null)",
    "is_instance_of": "Giá trị không đúng kiểu",
    "missing_argument": "Thiếu tham số bắt buộc",
    "unexpected_keyword_argument": "Không được có tham số này",
}

TITLES: dict[int, str] = {
    400: "Yêu cầu không hợp lệ",
    401: "Chưa xác thực",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    406: "Không có định dạng được yêu cầu",
    409: "Xung đột dữ liệu",
    412: "Điều kiện tiên quyết không đúng",
    413: "Dữ liệu gửi quá lớn",
    415: "Định dạng dữ liệu không được hỗ trợ",
    422: "Dữ liệu không hợp lệ",
    428: "Thiếu điều kiện tiên quyết",
    429: "Quá nhiều yêu cầu",
    500: "Lỗi máy chủ",
    503: "Dịch vụ tạm thời không sẵn sàng",
}

# Our own messages: English (with {parts}) -> Vietnamese. Keep the parts' names the same on both sides.
MESSAGES: dict[str, str] = {
    # errors.py, middleware, rate limits, system
    "{where}: {message}": "{where}: {message}",
    "The change conflicts with an existing record.": "Thay đổi xung đột với một bản ghi đã có.",
    "A value is out of range or malformed for its field.": "Một giá trị nằm ngoài phạm vi hoặc sai định dạng.",
    "The database is unavailable; try again shortly.": "Cơ sở dữ liệu tạm thời không truy cập được; vui lòng thử lại sau ít phút.",
    "The change ran into a concurrent one and was undone; send it again.": "Thay đổi trùng lúc với một thay đổi khác nên đã được hoàn tác; vui lòng gửi lại.",
    "An unexpected error occurred.": "Đã xảy ra lỗi không mong muốn.",
    "The service is busy; try again shortly.": "Dịch vụ đang bận; vui lòng thử lại sau ít phút.",
    "No such resource.": "Không có tài nguyên này.",
    "No such record.": "Không có bản ghi này.",
    "Method Not Allowed": "Phương thức không được hỗ trợ.",
    "Not Acceptable": "Không có định dạng được yêu cầu.",
    "Unsupported Media Type": "Định dạng dữ liệu không được hỗ trợ.",
    "Bad Request": "Yêu cầu không hợp lệ.",
    "The body could not be parsed (malformed JSON or not UTF-8).": "Không đọc được nội dung gửi lên (JSON sai cú pháp hoặc không phải UTF-8).",
    "malformed body": "nội dung sai định dạng",
    "Malformed JSON: {error}": "JSON sai cú pháp: {error}",
    "NUL bytes are not allowed in the URL.": "Địa chỉ URL không được chứa byte NUL.",
    "Content-Length is not a number.": "Content-Length không phải là một số.",
    "The body is larger than {limit} bytes.": "Nội dung gửi lên lớn hơn {limit} byte.",
    "Idempotency-Key must be at most 255 printable characters.": "Idempotency-Key chỉ được có tối đa 255 ký tự in được.",
    "This Idempotency-Key was used with a different request.": "Idempotency-Key này đã được dùng cho một yêu cầu khác.",
    "A request with this Idempotency-Key is still being processed.": "Một yêu cầu với Idempotency-Key này vẫn đang được xử lý.",
    "The first answer to this Idempotency-Key carried a secret, which is shown once and not kept; the record it made stands.": "Câu trả lời đầu tiên cho Idempotency-Key này có chứa một bí mật, chỉ hiện một lần và không được lưu lại; bản ghi đã tạo vẫn còn.",
    "Each parameter is sent once; repeated: {names}.": "Mỗi tham số chỉ được gửi một lần; bị lặp: {names}.",
    "The token's key id is malformed.": "Mã khóa (kid) của token không hợp lệ.",
    "The token's claims are malformed: {claims}.": "Các claim của token không hợp lệ: {claims}.",
    "More than {limit} requests a minute; slow down.": "Quá {limit} yêu cầu mỗi phút; vui lòng gửi chậm lại.",
    "Too many failed logins; try again later.": "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau.",
    "The database is not reachable.": "Không kết nối được cơ sở dữ liệu.",
    # tokens and roles
    "A valid bearer token is required.": "Cần một bearer token hợp lệ.",
    "The token's principal is disabled or no longer exists.": "Chủ thể của token đã bị vô hiệu hóa hoặc không còn tồn tại.",
    "The token is malformed.": "Token sai định dạng.",
    "The token's algorithm is not accepted.": "Thuật toán ký của token không được chấp nhận.",
    "The token was signed with an unknown key.": "Token được ký bằng một khóa không xác định.",
    "The token is invalid or expired.": "Token không hợp lệ hoặc đã hết hạn.",
    "The token lacks required claims: {claims}.": "Token thiếu các claim bắt buộc: {claims}.",
    "Unknown username or wrong password.": "Tên đăng nhập không tồn tại hoặc mật khẩu sai.",
    "Unknown client or wrong secret.": "Client không tồn tại hoặc secret sai.",
    "NUL characters are not allowed.": "Không được chứa ký tự NUL.",
    "username and password are required.": "Cần có username và password.",
    "client_id and client_secret are required.": "Cần có client_id và client_secret.",
    "grant_type must be 'password' or 'client_credentials'.": "grant_type phải là 'password' hoặc 'client_credentials'.",
    "The role '{role}' may not do this ({perm}).": "Vai trò '{role}' không được làm việc này ({perm}).",
    "The role '{role}' may not write {what}.": "Vai trò '{role}' không được ghi {what}.",
    "A user with this username exists.": "Đã có người dùng với tên đăng nhập này.",
    # field validators
    "Value error, {error}": "{error}",
    "must not contain NUL characters": "không được chứa ký tự NUL",
    "the year must be between 1900 and 2999": "năm phải nằm trong khoảng 1900 đến 2999",
    "must not be blank": "không được để trống",
    "may not be null": "không được để null",
    "Field required": "Trường này là bắt buộc",
    "{field} may not be null.": "{field} không được để null.",
    "{field} is required.": "Cần có {field}.",
    # shared record machinery
    "The cursor is not one this server issued.": "Con trỏ phân trang (cursor) không do máy chủ này cấp.",
    "The record has changed (now version {version}); fetch it again and retry with its ETag.": "Bản ghi đã thay đổi (nay là phiên bản {version}); hãy tải lại và thử lại với ETag mới.",
    "No {resource} record with id {id}.": "Không có bản ghi {resource} với id {id}.",
    "{field} {value} is outside your unit's scope.": "{field} {value} nằm ngoài phạm vi đơn vị của bạn.",
    "{field} {value} is not a unit.": "{field} {value} không phải là một đơn vị.",
    "{field}: {value} is not a unit.": "{field}: {value} không phải là một đơn vị.",
    "The record was changed by another request; fetch it again and retry.": "Bản ghi vừa được một yêu cầu khác thay đổi; hãy tải lại và thử lại.",
    "A {what} with this external_ref exists for this unit.": "Đơn vị này đã có một {what} với external_ref này.",
    "record": "bản ghi",
    # units, activities, plans, reports
    "parent_id is required for every unit but a city.": "Mọi đơn vị trừ cấp thành phố đều cần parent_id.",
    "parent_id would make the unit its own ancestor.": "parent_id này sẽ biến đơn vị thành cấp trên của chính nó.",
    "A unit cannot be merged into itself.": "Một đơn vị không thể sáp nhập vào chính nó.",
    "dissolved_on is before established_on.": "dissolved_on sớm hơn established_on.",
    "merged_into_id needs dissolved_on.": "merged_into_id cần có dissolved_on.",
    "A unit with this code exists.": "Đã có đơn vị với mã này.",
    "An activity with this code exists.": "Đã có hoạt động với mã này.",
    "A report with this external_ref exists for this unit.": "Đơn vị này đã có một báo cáo với external_ref này.",
    "ends_on is before starts_on.": "ends_on sớm hơn starts_on.",
    "This unit already has a plan for that year.": "Đơn vị này đã có kế hoạch cho năm đó.",
    "This unit already has an annual report for that year.": "Đơn vị này đã có báo cáo năm cho năm đó.",
    "submitted_at is in the future.": "submitted_at nằm ở tương lai.",
    "No KPI with code {code}; the codes are: {codes}.": "Không có KPI với mã {code}; các mã là: {codes}.",
    # records
    "participants[{i}].unit_id {unit} is not a unit.": "participants[{i}].unit_id {unit} không phải là một đơn vị.",
    "participants[{i}] repeats unit {unit}; give one count per unit.": "participants[{i}] lặp lại đơn vị {unit}; mỗi đơn vị chỉ ghi một số lượng.",
    "satisfied ({satisfied}) exceeds respondents ({respondents}).": "Số hài lòng ({satisfied}) vượt quá số người trả lời ({respondents}).",
    "airings[{i}] repeats an earlier airing.": "airings[{i}] lặp lại một lần phát trước đó.",
    "A {channel} broadcast belongs to a unit of kind {kinds}; unit {unit} is a {kind}.": "Tin phát kênh {channel} thuộc về đơn vị loại {kinds}; đơn vị {unit} là loại {kind}.",
    "Only the lead office or the organiser's scope (unit {unit}) may write {what}.": "Chỉ Phòng VH-TT hoặc phạm vi của đơn vị tổ chức (đơn vị {unit}) được ghi {what}.",
    "The contest has {count} entries; delete them first.": "Cuộc thi đã có {count} bài dự thi; hãy xóa chúng trước.",
    "contest_id {id} is not a contest.": "contest_id {id} không phải là một cuộc thi.",
    "unit_id {id} is not a unit.": "unit_id {id} không phải là một đơn vị.",
    "unit_id {id} was dissolved on {day}.": "unit_id {id} đã giải thể ngày {day}.",
    "This contest has an entry with this participant_ref.": "Cuộc thi này đã có bài dự thi với participant_ref này.",
    # plans (their windows, targets and activities' quotas)
    "No plan has the code {code}; {listing}.": "Không có kế hoạch nào mang mã {code}; {listing}.",
    "there is no plan": "chưa có kế hoạch nào",
    "the plans are: {plans}": "các kế hoạch là: {plans}",
    "No plan is set up for your city; the lead office creates one at /plans.": "Thành phố của bạn chưa có kế hoạch; Phòng VH-TT tạo kế hoạch tại /plans.",
    "No plan covers {year}; {listing}.": "Không có kế hoạch nào bao gồm năm {year}; {listing}.",
    "The window overlaps plan {code} ({starts} to {ends}) of the same issuing unit.": "Thời gian này trùng với kế hoạch {code} ({starts} đến {ends}) của cùng đơn vị ban hành.",
    "A plan with this code exists.": "Đã có kế hoạch với mã này.",
    "year {year} is outside the plan's window ({starts} to {ends}).": "năm {year} nằm ngoài thời gian của kế hoạch ({starts} đến {ends}).",
    "The plan already has a {which} target for {kpi}.": "Kế hoạch đã có chỉ tiêu {which} cho {kpi}.",
    "plan-wide": "cho cả kế hoạch",
    "for {year}": "cho năm {year}",
    "kpi_code {code} is not a KPI; the codes are: {codes}.": "kpi_code {code} không phải là một KPI; các mã là: {codes}.",
    "issued_by_unit_id {id} is not a unit.": "issued_by_unit_id {id} không phải là một đơn vị.",
    "plan_id {id} is not a plan.": "plan_id {id} không phải là một kế hoạch.",
    "A quota is for broadcasts or for forums, not both ({first} with {second}).": "Định mức chỉ dành cho tin phát hoặc cho diễn đàn, không cả hai ({first} với {second}).",
    "Activity {code}'s quota does not take {field}.": "Định mức của hoạt động {code} không nhận {field}.",
    "quota.max_minutes is below min_minutes.": "quota.max_minutes nhỏ hơn min_minutes.",
    "The plan has an activity with this code.": "Kế hoạch đã có hoạt động với mã này.",
    # webhooks
    "The endpoint is disabled; set active to true before sending to it.": "Điểm nhận đang bị tắt; hãy đặt active là true trước khi gửi tới nó.",
    "No delivery {delivery} of webhook {webhook}.": "Không có lần gửi {delivery} của webhook {webhook}.",
    "The URL is not valid: {error}.": "URL không hợp lệ: {error}.",
    "The URL must be an absolute https:// URL.": "URL phải là một địa chỉ https:// đầy đủ.",
    "The URL must not carry a user name or password.": "URL không được chứa tên người dùng hoặc mật khẩu.",
    "The URL must use https (http is allowed only for the hosts listed in DX_WEBHOOK_ALLOW_HOSTS; {host} is not).": "URL phải dùng https (http chỉ được phép với các máy chủ liệt kê trong DX_WEBHOOK_ALLOW_HOSTS; {host} không có trong đó).",
    "The host {host} does not resolve ({error}).": "Không phân giải được tên máy chủ {host} ({error}).",
    "The host {host} does not resolve.": "Không phân giải được tên máy chủ {host}.",
    "The host {host} resolves to {address}, a loopback, private or link-local address; such targets need the host listed in DX_WEBHOOK_ALLOW_HOSTS.": "Máy chủ {host} trỏ tới {address}, một địa chỉ loopback, nội bộ hoặc link-local; đích như vậy cần được liệt kê trong DX_WEBHOOK_ALLOW_HOSTS.",
    # budget
    "The round has submissions; it cannot be deleted.": "Đợt này đã có đề nghị kinh phí; không thể xóa.",
    "round_id {id} is not a budget round.": "round_id {id} không phải là một đợt kinh phí.",
    "activity_id {id} is not an activity.": "activity_id {id} không phải là một hoạt động.",
    "items[{i}]: quantity x unit_cost_vnd = {amount} VND is above the limit of {limit}.": "items[{i}]: số lượng x đơn giá = {amount} VND vượt giới hạn {limit}.",
    "The requested total {total} VND is above the limit of {limit}.": "Tổng đề nghị {total} VND vượt giới hạn {limit}.",
    "The {name} of {year}'s budget submissions would be {total} VND, above the limit of {limit} that round summaries and the annual report show exactly.": "{name} của các đề nghị kinh phí năm {year} sẽ là {total} VND, vượt giới hạn {limit} mà tổng hợp đợt và báo cáo năm hiển thị chính xác được.",
    "This is the last active lead_office user; make another one first.": "Đây là người dùng lead_office cuối cùng đang hoạt động; hãy tạo người khác trước.",
    "The submission was changed by another request; fetch it again and retry.": "Đề nghị vừa được một yêu cầu khác thay đổi; hãy tải lại và thử lại.",
    "No budget-rounds record with id {id}.": "Không có đợt kinh phí với id {id}.",
    "approved_total_vnd {approved} is above the appraised total {appraised}.": "approved_total_vnd {approved} vượt tổng đã thẩm định {appraised}.",
    "The role '{role}' may not {action} a budget submission.": "Vai trò '{role}' không được {action} một đề nghị kinh phí.",
    "Only the submission's own unit ({unit}) may {action} it.": "Chỉ chính đơn vị của đề nghị ({unit}) mới được {action} nó.",
    "The submission is '{status}'; {action} is allowed only from: {allowed}.": "Đề nghị đang ở trạng thái '{status}'; chỉ được {action} từ: {allowed}.",
    "Only the submission's own unit ({unit}) may edit it.": "Chỉ chính đơn vị của đề nghị ({unit}) mới được sửa nó.",
    "The submission is '{status}'; it can be edited only in draft or returned.": "Đề nghị đang ở trạng thái '{status}'; chỉ sửa được khi là bản nháp hoặc bị trả lại.",
    "A submission with this external_ref exists for this unit.": "Đơn vị này đã có một đề nghị với external_ref này.",
    # imports
    "An import takes at most {max} rows; this one has {count}. Split it into chunks.": "Mỗi lần nhập tối đa {max} dòng; lần này có {count}. Hãy chia thành nhiều phần.",
    'The body must be {"rows": [...]}.': 'Nội dung phải có dạng {"rows": [...]}.',
    "Unknown top-level field {field}.": "Trường cấp ngoài cùng không xác định: {field}.",
    "Row {row} is not an object.": "Dòng {row} không phải là một đối tượng.",
    "The CSV is not UTF-8 (byte {byte}); save it as 'CSV UTF-8'.": "Tệp CSV không phải UTF-8 (byte {byte}); hãy lưu dưới dạng 'CSV UTF-8'.",
    "The CSV contains NUL bytes.": "Tệp CSV chứa byte NUL.",
    "The file is empty: a header row is required.": "Tệp trống: cần có dòng tiêu đề.",
    "The CSV is malformed: {error}": "Tệp CSV sai định dạng: {error}",
    "The header row is empty.": "Dòng tiêu đề trống.",
    "Column {column} appears twice in the header.": "Cột {column} xuất hiện hai lần trong dòng tiêu đề.",
    "The file is not a readable .xlsx workbook.": "Tệp không phải là một bảng tính .xlsx đọc được.",
    "The sheet is empty: a header row is required.": "Trang tính trống: cần có dòng tiêu đề.",
    "The body is empty.": "Nội dung gửi lên trống.",
    "Send application/json, text/csv or an .xlsx workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).": "Hãy gửi application/json, text/csv hoặc một bảng tính .xlsx (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet).",
    "Only the lead office imports units.": "Chỉ Phòng VH-TT được nhập danh sách đơn vị.",
    "unknown field": "trường không xác định",
    "unknown column (row 0 is the header)": "cột không xác định (dòng 0 là dòng tiêu đề)",
    "no unit has code {code}": "không có đơn vị nào mang mã {code}",
    "unit_code and unit_id name different units": "unit_code và unit_id chỉ hai đơn vị khác nhau",
    "no record with id {id} that you may change": "không có bản ghi id {id} mà bạn được sửa",
    "repeats row {row} of this import": "lặp lại dòng {row} của lần nhập này",
    "must be an integer id": "phải là một id số nguyên",
    "a record cannot move to another parent": "bản ghi không thể chuyển sang bản ghi cha khác",
    "unit {unit} is outside your scope": "đơn vị {unit} nằm ngoài phạm vi của bạn",
    "{unit} is not a unit": "{unit} không phải là một đơn vị",
    "{message} (row {row} of this import)": "{message} (dòng {row} của lần nhập này)",
    "{message} (row {row} of this batch)": "{message} (dòng {row} của lần nhập này)",
    "{message} (item {row} of this batch)": "{message} (mục {row} của lô này)",
    "formulas are not accepted; paste the values": "không chấp nhận công thức; hãy dán giá trị",
    "the cell must hold a JSON list, e.g. [1, 2]": "ô phải chứa một danh sách JSON, ví dụ [1, 2]",
    "the row has more cells than the header has columns": "dòng có nhiều ô hơn số cột của dòng tiêu đề",
    # office files (app/office, app/imports/parsers.py)
    "unknown column": "cột không xác định",
    "Column {column} appears twice in the header (line {line}).": "Cột {column} xuất hiện hai lần trong dòng tiêu đề (dòng {line}).",
    "The CSV is malformed at line {line}: {error}": "Tệp CSV sai định dạng ở dòng {line}: {error}",
    "this is a total row ({value}), not a record: delete it; the system adds up the records itself": "đây là dòng tổng ({value}), không phải một bản ghi: hãy xóa dòng này; hệ thống tự cộng các bản ghi",
    "this cell has a value but its column has no header": "ô này có giá trị nhưng cột của nó không có tiêu đề",
    "the cell holds {count} characters; at most {max}": "ô chứa {count} ký tự; tối đa {max}",
    "{text} is not a date (dd/mm/yyyy)": "{text} không phải là ngày (dd/mm/yyyy)",
    "choose one of: {choices}": "chọn một trong các giá trị: {choices}",
    "{code} and {id} name different units": "{code} và {id} chỉ hai đơn vị khác nhau",
    "The workbook would inflate to {size} MiB; at most {limit} MiB is read. Save it again without unused sheets, images or formatted empty rows, or send it as CSV.": "Bảng tính khi giải nén sẽ chiếm {size} MiB; chỉ đọc tối đa {limit} MiB. Hãy lưu lại không kèm các trang tính, hình ảnh hay dòng trống đã định dạng không dùng đến, hoặc gửi dưới dạng CSV.",
    "The workbook's {what} would inflate to {size} MiB; at most {limit} MiB is read.": "Phần {what} của bảng tính khi giải nén sẽ chiếm {size} MiB; chỉ đọc tối đa {limit} MiB.",
    "The workbook has no {what} ({name}).": "Bảng tính không có phần {what} ({name}).",
    "The workbook's {what} is damaged.": "Phần {what} của bảng tính bị hỏng.",
    "The workbook's {what} is not well-formed XML.": "Phần {what} của bảng tính không phải XML hợp lệ.",
    "The workbook has no sheet.": "Bảng tính không có trang tính nào.",
    "The file is an OpenDocument spreadsheet (.ods), not an .xlsx: save it as Excel 2007-365 (.xlsx) or as CSV (UTF-8) and send that.": "Tệp là bảng tính OpenDocument (.ods), không phải .xlsx: hãy lưu dưới dạng Excel 2007-365 (.xlsx) hoặc CSV (UTF-8) rồi gửi tệp đó.",
    "The workbook holds more than {count} distinct texts.": "Bảng tính chứa hơn {count} đoạn văn bản khác nhau.",
    "The sheet spans more than {count} cells; an import reads at most that many.": "Trang tính trải trên hơn {count} ô; mỗi lần nhập chỉ đọc tối đa chừng ấy ô.",
    "Cell {cell} lies beyond the last column a sheet may have.": "Ô {cell} nằm ngoài cột cuối cùng mà một trang tính có thể có.",
    "Cell {cell} points to a text the workbook does not hold.": "Ô {cell} trỏ tới một đoạn văn bản không có trong bảng tính.",
    "Cell {cell} holds {text}, which is not a number.": "Ô {cell} chứa {text}, không phải là số.",
}

_PART = re.compile(r"\{([a-z_]+)\}")


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """MESSAGES as patterns, the most literal text first (so "No such record." beats "{field} ...")."""
    out = []
    for english, vietnamese in MESSAGES.items():
        pieces = _PART.split(english)
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(pieces))
        out.append((re.compile(f"^{pattern}$", re.S), vietnamese, len(_PART.sub("", english))))
    out.sort(key=lambda t: -t[2])
    return [(p, v) for p, v, _ in out]


def _fill(template: str, parts: dict[str, Any]) -> str:
    """`{name}` replaced by its part; other braces (`{"rows": [...]}`) left as they are."""
    return _PART.sub(lambda m: str(parts[m[1]]) if m[1] in parts else m[0], template)


def _from_catalog(text: str) -> str | None:
    for pattern, vietnamese in _templates():
        if m := pattern.match(text):
            parts = {k: _say_vi(v) if _from_catalog(v) is not None else v for k, v in m.groupdict().items()}
            return _fill(vietnamese, parts)
    return None


def _say_vi(text: str) -> str:
    if isinstance(text, Message) and text.type is not None:
        template = PYDANTIC.get(text.type)
        if template is None:
            return "Giá trị không hợp lệ"
        ctx = {k: _say_vi(str(v)) if k == "error" else v for k, v in text.ctx.items()}
        if isinstance(ctx.get("expected"), str):  # "'a', 'b' or 'c'"
            ctx["expected"] = ctx["expected"].replace("' or '", "' hoặc '")
        return _fill(template, ctx)
    found = _from_catalog(str(text))
    return str(text) if found is None else found


def _note_if_untranslated(text: str) -> None:
    if untranslated is None:
        return
    if isinstance(text, Message) and text.type is not None:
        if text.type not in PYDANTIC:
            untranslated.add(f"pydantic error type {text.type!r}")
        return
    if _from_catalog(str(text)) is None:
        untranslated.add(str(text))


def say(text: str, language: str | None = None) -> Said:
    """The text in the caller's language (the request's `Accept-Language`, or `language`)."""
    if isinstance(text, Said):
        return text
    _note_if_untranslated(text)
    if (language or language_var.get()) == VI:
        return Said(_say_vi(text))
    return Said(text)


def title(status: int, english: str) -> str:
    return TITLES.get(status, "Lỗi") if language_var.get() == VI else english


def content_language() -> dict[str, str]:
    """The Content-Language header of a problem (API.md: `vi` when it speaks Vietnamese)."""
    return {"Content-Language": language_var.get()}


def pydantic_message(err: dict[str, Any]) -> Message:
    """A pydantic error's message, in English with `_ENGLISH`'s fixes, remembering its type and context."""
    kind, ctx = err.get("type"), dict(err.get("ctx") or {})
    english = err.get("msg", "invalid")
    if kind in _ENGLISH and isinstance(err.get("input"), str):
        english = "Value " + _ENGLISH[kind].format(**ctx)
        kind = "text_" + kind
    if kind == "json_invalid":
        english = f"Malformed JSON: {ctx.get('error', english)}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        ctx["error"] = str(ctx["error"])
    return Message(english, kind, ctx)
