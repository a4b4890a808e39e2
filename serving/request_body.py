"""Reading an endpoint's JSON body: strict JSON, the firms' values, the request model.

The endpoints call `read_firms` on the body the guard has let through (its size and deadline
checked), so that every refusal is a 4xx JSON reply naming the firm and field, never a traceback:

- strict JSON (400): one object, no duplicate keys, no NaN/Infinity literals;
- `firms` a list (400) of 1 to `max_firms` firms (422, 413);
- firm fields (422, naming the firm and field): no `true`/`false` as a value, no number beyond the
  range of a float (1e400 parses as infinity), no text longer than `max_string_length`; then the
  request model built from the catalogue (`schemas.firm_problems`).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Callable

from starlette.responses import JSONResponse

MAX_FLOAT = sys.float_info.max


class Refusal(Exception):
    """A request refused: status, message and optional problems, as a JSON reply."""

    def __init__(self, status: int, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems

    def response(self) -> JSONResponse:
        body = {"error": self.message}
        if self.problems is not None:
            body["problems"] = self.problems
        return JSONResponse(body, status_code=self.status)


def _pairs_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    built = dict(pairs)
    if len(built) < len(pairs):             # some key repeats: find the first, to name it
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise Refusal(400, f"duplicate key '{key[:64]}' in the JSON body / JSON中存在重复的键")
            seen.add(key)
    return built


def _no_constant(name: str):
    raise Refusal(400, f"'{name}' is not valid JSON / 非法的JSON数值")


def parse_strict_json(body: bytes) -> dict:
    """The body as a JSON object, or Refusal(400) naming what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the body is not UTF-8 text / 请求体不是UTF-8文本") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_pairs_without_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Refusal(400, f"the body is not valid JSON: {exc.msg} at position {exc.pos} / 请求体不是合法JSON") from None
    except RecursionError:
        raise Refusal(400, "the JSON body is nested too deeply / JSON嵌套过深") from None
    if not isinstance(parsed, dict):
        raise Refusal(400, "the body must be a JSON object / 请求体必须是JSON对象")
    return parsed


def _field_problem(index: int, firm_id, field: str, code: str, message: str, message_zh: str) -> dict:
    return {"firm_id": None if firm_id is None else str(firm_id)[:64], "index": index, "field": field[:64],
            "code": code, "message": message, "message_zh": message_zh}


def firm_value_problems(firms: list, id_column: str, max_string_length: int) -> list[dict]:
    """What no catalogue rule can read in the firms' values: booleans, integers beyond float range,
    over-long text (values are never echoed back)."""
    problems = []
    for i, firm in enumerate(firms):
        if not isinstance(firm, dict):
            continue
        firm_id = firm.get(id_column)
        firm_id = firm_id if isinstance(firm_id, (str, int)) and not isinstance(firm_id, bool) else None
        for field, value in firm.items():
            kind = type(value)
            if ((kind is float and value - value == 0.0) or value is None   # finite: inf - inf is NaN
                    or (kind is int and -MAX_FLOAT <= value <= MAX_FLOAT)) and len(field) <= max_string_length:
                continue                    # the usual value, at the price of one test
            if len(field) > max_string_length:
                problems.append(_field_problem(i, firm_id, field, "unknown_field", "field name too long",
                                               "字段名过长"))
            elif isinstance(value, bool):
                problems.append(_field_problem(i, firm_id, field, "not_a_number",
                                               "true/false is not a value of this field", "不接受布尔值"))
            elif (isinstance(value, int) and abs(value) > MAX_FLOAT) or (isinstance(value, float)
                                                                         and not math.isfinite(value)):
                problems.append(_field_problem(i, firm_id, field, "out_of_range",
                                               "number beyond the range of a float", "数值超出浮点数范围"))
            elif isinstance(value, str) and len(value) > max_string_length:
                problems.append(_field_problem(i, firm_id if field != id_column else None, field, "too_long",
                                               f"text longer than {max_string_length} characters",
                                               f"文本长度超过{max_string_length}个字符"))
            elif isinstance(value, (list, dict)):
                problems.append(_field_problem(i, firm_id, field, "not_a_number", "a list or object is not a value",
                                               "不接受列表或对象"))
    return problems


@dataclass(frozen=True)
class FirmsReader:
    """How an endpoint reads its body: `firm_check` is the request model's verdict on a list of firms
    (`schemas.firm_problems`)."""
    max_firms: int
    max_string_length: int
    id_column: str
    firm_check: Callable[[list], list[dict]]

    def read(self, body: bytes) -> dict:
        """The body as a JSON object whose `firms` meet the catalogue, or a Refusal naming what does not."""
        parsed = parse_strict_json(body)
        firms = parsed.get("firms")
        if not isinstance(firms, list):
            raise Refusal(400, "'firms' must be a list of firms / 'firms'须为企业列表", [
                {"firm_id": None, "index": None, "field": "firms", "code": "wrong_type",
                 "message": "a list of firm objects is required", "message_zh": "须为企业对象列表"}])
        if not firms:
            raise Refusal(422, "no firms in the request / 请求中没有企业")
        if len(firms) > self.max_firms:
            raise Refusal(413, f"{len(firms)} firms in one request; the maximum is {self.max_firms} "
                               f"/ 单次请求企业数超过上限")
        problems = firm_value_problems(firms, self.id_column, self.max_string_length) or self.firm_check(firms)
        if problems:
            raise Refusal(422, "invalid firm data / 企业数据无效", problems)
        return parsed
