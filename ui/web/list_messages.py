"""Messages about a bad list address: each names the filter and gives the form its value should take.

The list screens and the JSON API report the same problems: a parameter that is no filter
of the list, a suffix the field does not take, a value that does not fit the field, a bad
sort, page size or page cursor. Every message comes in English and Simplified Chinese,
names the filter by its label from the YAML (the parameter as typed only when it names no
field the user may see), and ends with the form the value should take.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from metamodel import model as m
from runtime.errors import FieldError
from ui.web import i18n
from ui.web.lists_columns import SYSTEM_COLUMNS

#: Choices listed in a message at most; more are shown as "…".
SHOWN_CHOICES = 10
_SUFFIX_WORDS = {
    "min": ("minimum", "最小值"),
    "max": ("maximum", "最大值"),
    "from": ("from", "起"),
    "to": ("to", "止"),
    "empty": ("empty", "为空"),
}
_DATE_KINDS = frozenset({"date", "datetime"})


@dataclass(frozen=True)
class ListProblem:
    #: The parameter at fault, such as "amount.min", "sort", "after" or "limit".
    key: str
    code: str
    message_en: str
    message_zh: str

    def message(self, lang: str) -> str:
        return i18n.pick(lang, self.message_en, self.message_zh)


@dataclass(frozen=True)
class Wording:
    """The names that messages about one entity's list may use for one user."""

    entity: m.Entity
    #: The filters of the list's filter panel, in order.
    offered: tuple[str, ...] = ()
    #: Every field and system column the user may filter on, for "did you mean".
    known: tuple[str, ...] = ()
    #: Fields the user may not see: a filter on one is reported like an unknown one.
    hidden: frozenset[str] = frozenset()
    #: The states of the entity's flows and the org units, with their labels.
    states: Mapping[str, m.Label] = field(default_factory=dict)
    units: Mapping[str, m.Label] = field(default_factory=dict)

    def label(self, name: str) -> m.Label | None:
        spec = self.entity.fields.get(name)
        if spec is not None:
            return spec.label
        if name in SYSTEM_COLUMNS:
            return SYSTEM_COLUMNS[name][0]
        return None


def filter_label(entity: m.Entity, key: str, lang: str) -> str:
    """Return a filter parameter's name for people, such as "单价（元）最小值"; the parameter itself for no field."""
    name, _, suffix = key.partition(".")
    spec = entity.fields.get(name)
    if spec is not None:
        text = i18n.label(spec.label, lang)
    elif name in SYSTEM_COLUMNS:
        text = i18n.label(SYSTEM_COLUMNS[name][0], lang)
    else:
        return key
    if suffix in _SUFFIX_WORDS:
        en, zh = _SUFFIX_WORDS[suffix]
        text += i18n.pick(lang, f", {en}", zh)
    return text


def _named(wording: Wording, key: str) -> tuple[str, str]:
    return filter_label(wording.entity, key, "en"), filter_label(wording.entity, key, "zh-CN")


def _listed(wording: Wording, names: Sequence[str]) -> tuple[str, str]:
    """Return names as "State (state), Owner (owner)" and "状态（state）、负责人（owner）"."""
    en, zh = [], []
    for name in names:
        label = wording.label(name)
        en.append(f"{label.en} ({name})" if label is not None else name)
        zh.append(f"{label.zh_cn}（{name}）" if label is not None else name)
    return ", ".join(en), "、".join(zh)


def _closest(wording: Wording, name: str) -> tuple[str, str] | None:
    """Return the filter the user probably meant, as "Amount (amount)" and "“金额”（amount）"."""
    close = difflib.get_close_matches(name, wording.known, n=1)
    if not close:
        return None
    label = wording.label(close[0])
    if label is None:
        return close[0], close[0]
    return f"{label.en} ({close[0]})", f"“{label.zh_cn}”（{close[0]}）"


def unknown_filter(wording: Wording, key: str) -> ListProblem:
    """Return the problem of a parameter that names no field the user may filter on."""
    close = _closest(wording, key.partition(".")[0])
    if close:
        en = f"{key} is not a filter of this list; did you mean {close[0]}?"
        zh = f"{key} 不是此列表的筛选条件；您是否要筛选{close[1]}？"
    elif wording.offered:
        en_hint, zh_hint = _listed(wording, wording.offered)
        en = f"{key} is not a filter of this list; remove it, or use one of its filters: {en_hint}."
        zh = f"{key} 不是此列表的筛选条件；请删除它，或使用此列表的筛选条件：{zh_hint}。"
    else:
        en = f"{key} is not a filter of this list; remove it from the address."
        zh = f"{key} 不是此列表的筛选条件；请从地址中删除它。"
    return ListProblem(key, "unknown_filter", en, zh)


def unknown_suffix(wording: Wording, key: str, kind: str) -> ListProblem:
    """Return the problem of a suffix the field's type does not take, such as amount.foo or customer.name."""
    name, _, suffix = key.partition(".")
    label_en, label_zh = _named(wording, name)
    value_en, value_zh = ("record number", "记录编号") if kind == "reference" else ("date", "日期") if kind in _DATE_KINDS else ("value", "值")
    forms_en, forms_zh = [f"{name}={value_en}"], [f"{name}={value_zh}"]
    if kind in m.NUMERIC_TYPES:
        forms_en += [f"{name}.min=lowest", f"{name}.max=highest"]
        forms_zh += [f"{name}.min=最小值", f"{name}.max=最大值"]
    if kind in _DATE_KINDS:
        forms_en += [f"{name}.from=first day", f"{name}.to=last day"]
        forms_zh += [f"{name}.from=起始日期", f"{name}.to=截止日期"]
    forms_en.append(f"{name}.empty=1 (empty) or 0 (not empty)")
    forms_zh.append(f"{name}.empty=1（为空）或 0（不为空）")
    return ListProblem(key, "unknown_suffix",
                       f"{label_en}: .{suffix} is not a way to filter it; write {', '.join(forms_en)}.",
                       f"{label_zh}：不能用 .{suffix} 筛选；请写成 {'、'.join(forms_zh)}。")


def empty_flag(wording: Wording, key: str, value: str) -> ListProblem:
    label_en, label_zh = _named(wording, key)
    return ListProblem(key, "empty_flag", f"{label_en}: write 1 (empty) or 0 (not empty), not {value!r}.",
                       f"{label_zh}：请填写 1（为空）或 0（不为空），而不是 {value!r}。")


def page_size(value: str, largest: int) -> ListProblem:
    return ListProblem("limit", "limit", f"Rows per page: enter a whole number from 1 to {largest}, not {value!r}.",
                       f"每页条数：请输入 1 到 {largest} 之间的整数，而不是 {value!r}。")


def choice(wording: Wording, key: str, value: str, options: Mapping[str, m.Label]) -> ListProblem:
    """Return the problem of a value outside a filter's choices, listing the choices by label and value."""
    label_en, label_zh = _named(wording, key)
    first_choices = list(options.items())[:SHOWN_CHOICES]
    more = len(options) > SHOWN_CHOICES
    choices_en = ", ".join(f"{text.en} ({name})" for name, text in first_choices) + (" and more" if more else "")
    choices_zh = "、".join(f"{text.zh_cn}（{name}）" for name, text in first_choices) + ("等" if more else "")
    return ListProblem(key, "choice", f"{label_en}: {value!r} is not one of its choices; choose one of: {choices_en}.",
                       f"{label_zh}：{value!r} 不是可选的值；请从以下选项中选择：{choices_zh}。")


def value_problem(wording: Wording, key: str, error: FieldError, value: str | None = None) -> ListProblem:
    """Return the problem of a value the runtime rejected for a filter, prefixed with the filter's label."""
    name = key.partition(".")[0]
    if error.code == "unknown_field" or wording.label(name) is None:
        return unknown_filter(wording, key)
    spec = wording.entity.fields.get(name)
    if error.code == "choice" and spec is not None and spec.type == "enum" and value is not None:
        return choice(wording, key, value, {item.value: item.label for item in spec.choices})
    label_en, label_zh = _named(wording, key)
    return ListProblem(key, error.code, f"{label_en}: {error.message_en}", f"{label_zh}：{error.message_zh}")


def sort_problem(wording: Wording, name: str, error: FieldError) -> ListProblem:
    """Return the problem of a sort column the runtime rejected: unknown to the user, encrypted, or in its own table."""
    label = wording.label(name)
    if error.code != "unknown_field" and label is not None and name not in wording.hidden:
        return ListProblem("sort", error.code, f"Sort by {label.en}: {error.message_en}", f"按{label.zh_cn}排序：{error.message_zh}")
    close = _closest(wording, name)
    hint_en, hint_zh = (f"Did you mean {close[0]}? ", f"您是否要按{close[1]}排序？") if close else ("", "")
    return ListProblem(
        "sort", "unknown_field",
        f"Sort: {name} is not a column this list can be sorted by. {hint_en}Click a column heading to sort, or write "
        "field names separated by commas, each with a leading - for descending (such as sort=-created_at).",
        f"排序：{name} 不是此列表可排序的列；{hint_zh}请点击列标题排序，或写字段名，多个用逗号分隔，"
        "降序时在前面加 -（如 sort=-created_at）。",
    )


def cursor_problem(dropped: bool) -> ListProblem:
    """Return the problem of a page cursor this list did not give or that no longer fits its sort.

    With `dropped`, the message says that the first page is shown instead, as the screens do.
    """
    if dropped:
        return ListProblem("after", "cursor", "The page address is out of date; showing the first page.",
                           "分页地址已失效，已显示第一页。")
    return ListProblem("after", "cursor",
                       "after is not a page cursor of this list, or it no longer fits its sort; send the \"next\" value "
                       "of the previous page unchanged, or leave after out to start from the first page.",
                       "after 不是此列表的翻页游标，或与排序不符；请原样发送上一页返回的 \"next\" 值，"
                       "或去掉 after 从第一页开始。")


def query_problems(wording: Wording, errors: Mapping[str, list[FieldError]], *, cursor_dropped: bool) -> list[ListProblem]:
    """Word the problems the runtime found in a whole list query, keyed by its paths such as where.0.price."""
    problems = []
    for path, items in errors.items():
        for error in items:
            if path == "after":
                problems.append(cursor_problem(cursor_dropped))
            elif path.startswith("sort."):
                problems.append(sort_problem(wording, path.removeprefix("sort."), error))
            elif path.startswith("where"):
                problems.append(value_problem(wording, path.rsplit(".", 1)[-1], error))
            else:
                problems.append(ListProblem(path, error.code, f"{path}: {error.message_en}", f"{path}：{error.message_zh}"))
    return problems
