"""Schema, declaration and cross-document errors: each case pins code, position and message."""

from __future__ import annotations

from typing import Callable

import pytest

from metamodel import CheckResult

ITEM = "entities/item.yaml"
ITEM_HEAD = "name: item\nlabel: {zh-CN: 商品, en: Item}\nfields:\n"
TITLE = "  - name: title\n    type: string\n    label: {zh-CN: 名称, en: Title}\n"
PRICE = "  - name: price\n    type: money\n    label: {zh-CN: 价格, en: Price}\n    min: 0\n"
GOOD_ITEM = ITEM_HEAD + TITLE + PRICE


def with_field(text: str) -> str:
    """Return the item entity with one more field, given as the lines after `- name:`."""
    return GOOD_ITEM + "  - " + text.strip().replace("\n", "\n    ") + "\n"


FORM_HEAD = "name: item_form\nentity: item\nlabel: {zh-CN: 表单, en: Form}\nsections:\n  - name: main\n    label: {zh-CN: 主要, en: Main}\n"
FLOW_HEAD = (
    "name: item_flow\nentity: item\nlabel: {zh-CN: 流程, en: Flow}\nstates:\n"
    "  - {name: draft, label: {zh-CN: 草稿, en: Draft}, initial: true}\n"
    "  - {name: done, label: {zh-CN: 完成, en: Done}, final: true}\n"
)
ROLES = "roles:\n  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}\n"

# (case, files, code, file, line, column, English message)
CASES: list[tuple[str, dict[str, str | None], str, str, int, int, str]] = [
    (
        "missing key",
        {ITEM: "name: item\nfields:\n" + TITLE},
        "schema.E003", ITEM, 1, 1, '(document) is missing the required key "label"',
    ),
    (
        "label without english",
        {ITEM: ITEM_HEAD + TITLE.replace("{zh-CN: 名称, en: Title}", "{zh-CN: 名称}")},
        "schema.E003", ITEM, 6, 12, 'fields[0].label is missing the required key "en"',
    ),
    (
        "unknown key with suggestion",
        {ITEM: GOOD_ITEM + "    requird: true\n"},
        "schema.E002", ITEM, 11, 5, 'unknown key "requird" in fields[1]',
    ),
    (
        "wrong type",
        {ITEM: GOOD_ITEM + "    unique: 1\n"},
        "schema.E001", ITEM, 11, 13, 'fields[1].unique must be true or false, found "1"',
    ),
    (
        "wrong type of list",
        {ITEM: ITEM_HEAD.replace("fields:\n", "fields: {title: x}\n")},
        "schema.E001", ITEM, 3, 9, "fields must be a list, found a mapping",
    ),
    (
        "unknown field type",
        {ITEM: GOOD_ITEM.replace("type: string", "type: strng")},
        "schema.E004", ITEM, 5, 11,
        'fields[0].type must be one of "string", "text", "integer", "decimal", "money", "percent", "boolean", '
        '"date", "datetime", "enum", "reference", "multi_reference", "child", "attachment", "attachments", "json", '
        '"geo_point", "resident_id", "uscc", "vin", "plate", "mobile", "bank_card", found "strng"',
    ),
    (
        "invalid name",
        {ITEM: GOOD_ITEM.replace("name: title", "name: Title")},
        "schema.E006", ITEM, 4, 11, '"Title" is not a valid name for fields[0].name',
    ),
    (
        "number out of range",
        {"forms/item.yaml": FORM_HEAD + "    columns: 9\n    fields: [title]\n"},
        "schema.E007", "forms/item.yaml", 7, 14, 'sections[0].columns must be <= 4, found "9"',
    ),
    (
        "empty list",
        {ITEM: ITEM_HEAD.replace("fields:\n", "fields: []\n")},
        "schema.E008", ITEM, 3, 9, "fields must have at least 1 entry, found 0",
    ),
    (
        "enum without choices",
        {ITEM: with_field("name: colour\ntype: enum\nlabel: {zh-CN: 颜色, en: Colour}")},
        "schema.E003", ITEM, 11, 5, 'fields[2] is missing the required key "choices"',
    ),
    (
        "repeated list entry",
        {"forms/item.yaml": FORM_HEAD + "    fields: [title]\n", "flows/item.yaml": FLOW_HEAD + "transitions: []\n",
         "permissions/roles.yaml": ROLES + "grants:\n  - {role: clerk, entity: item, actions: [read, read]}\n"},
        "schema.E009", "permissions/roles.yaml", 4, 42, "grants[0].actions lists the same entry more than once",
    ),
    (
        "scope and filter together",
        {"permissions/roles.yaml": ROLES + "grants:\n  - {role: clerk, entity: item, actions: [read], scope: own, filter: 'price > 0'}\n"},
        "schema.E011", "permissions/roles.yaml", 4, 5,
        'grants[0] names "filter", "scope", but only one of "filter", "scope" may be given',
    ),
    (
        "folder of no kind",
        {"entity/other.yaml": "name: other\n"},
        "layout.E001", "entity/other.yaml", 1, 1,
        'YAML files in the folder "entity/" are not read, because it is not the folder of any document kind',
    ),
    ("no app.yaml", {"app.yaml": None}, "layout.E002", "app.yaml", 1, 1, "the application has no app.yaml"),
    (
        "entity declared twice",
        {"entities/item_copy.yaml": GOOD_ITEM},
        "name.E001", "entities/item_copy.yaml", 1, 7, "the entity \"item\" is declared twice; the other declaration is at {root}/entities/item.yaml:1:7",
    ),
    (
        "reserved field name",
        {ITEM: with_field("name: state\ntype: string\nlabel: {zh-CN: 状态, en: State}")},
        "name.E002", ITEM, 11, 11, 'the field name "state" is reserved for a system column',
    ),
    (
        "field declared twice",
        {ITEM: with_field("name: title\ntype: text\nlabel: {zh-CN: 名称, en: Title}")},
        "name.E003", ITEM, 11, 11, '"title" is declared more than once in fields[2].name; the first is on line 4',
    ),
    (
        "unknown referenced entity",
        {ITEM: with_field("name: shop\ntype: reference\nentity: shopp\nlabel: {zh-CN: 店, en: Shop}")},
        "ref.E001", ITEM, 13, 13, 'fields[2].entity names the entity "shopp", which is not declared',
    ),
    (
        "form field not in entity",
        {"forms/item.yaml": FORM_HEAD + "    fields:\n      - title\n      - field: prise\n"},
        "ref.E002", "forms/item.yaml", 9, 16, 'sections[0].fields[1].field names the field "prise", which the entity item does not have',
    ),
    (
        "option of another type",
        {ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    places: 2")},
        "field.E001", ITEM, 7, 5, '"places" does not apply to a field of type string',
    ),
    (
        "invalid regular expression",
        {ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    pattern: '[a-'")},
        "field.E002", ITEM, 7, 14, 'the pattern "[a-" is not a valid regular expression: unterminated character set at position 0',
    ),
    (
        "min above max",
        {ITEM: GOOD_ITEM + "    max: -1\n"},
        "field.E004", ITEM, 10, 10, "min 0 is greater than max -1",
    ),
    (
        "computed and required",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\nrequired: true\ncomputed: price * 2")},
        "field.E005", ITEM, 14, 5, 'the field "total" is both computed and required',
    ),
    (
        "expression syntax",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\ncomputed: price *")},
        "expr.E001", ITEM, 14, 22, "the expression does not parse: invalid syntax",
    ),
    (
        "expression unknown name",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\ncomputed: \"price * qty\"")},
        "expr.E002", ITEM, 14, 24, 'the expression names "qty", which is neither a field of item nor a variable',
    ),
    (
        "expression unknown function",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\ncomputed: open(price)")},
        "expr.E004", ITEM, 14, 15, '"open" is not a function of the expression language',
    ),
    (
        "expression forbidden construct",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\ncomputed: '[p for p in price]'")},
        "expr.E003", ITEM, 14, 16, "the expression uses a comprehension, which is not allowed",
    ),
    (
        "expression private attribute",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\ncomputed: price.__class__")},
        "expr.E003", ITEM, 14, 15, 'the expression uses ".__class__", which is not allowed',
    ),
    (
        "flow unknown state",
        {"flows/item.yaml": FLOW_HEAD + "transitions:\n  - {name: finish, label: {zh-CN: 完成, en: Finish}, from: draft, to: dne}\n"},
        "ref.E004", "flows/item.yaml", 8, 69, 'transitions[0].to names the state "dne", which the flow item_flow does not declare',
    ),
    (
        "flow unknown role",
        {"flows/item.yaml": FLOW_HEAD + "transitions:\n  - {name: finish, label: {zh-CN: 完成, en: Finish}, from: draft, to: done, roles: [clerc]}\n",
         "permissions/roles.yaml": ROLES},
        "ref.E003", "flows/item.yaml", 8, 83, 'transitions[0].roles[0] names the role "clerc", which is not declared',
    ),
    (
        "flow without initial state",
        {"flows/item.yaml": FLOW_HEAD.replace(", initial: true", "") + "transitions: []\n"},
        "flow.E001", "flows/item.yaml", 5, 3, "the flow has no initial state",
    ),
    (
        "transition from final state",
        {"flows/item.yaml": FLOW_HEAD + "transitions:\n  - {name: reopen, label: {zh-CN: 重开, en: Reopen}, from: done, to: draft}\n"},
        "flow.E003", "flows/item.yaml", 8, 58, 'the transition "reopen" leaves the final state done',
    ),
    (
        "grant of unknown action",
        {"permissions/roles.yaml": ROLES + "grants:\n  - {role: clerk, entity: item, actions: [raed]}\n"},
        "ref.E006", "permissions/roles.yaml", 4, 43, 'grants[0].actions[0] names the action "raed", which the entity item does not have',
    ),
    (
        "role inheritance cycle",
        {"permissions/roles.yaml": "roles:\n  - {name: a, label: {zh-CN: 甲, en: A}, inherits: [b]}\n  - {name: b, label: {zh-CN: 乙, en: B}, inherits: [a]}\n"},
        "perm.E001", "permissions/roles.yaml", 2, 51, 'role inheritance forms a cycle: "a → b → a"',
    ),
    (
        "menu of unknown report",
        {"app.yaml": "name: shop\nlabel: {zh-CN: 小店, en: Shop}\nmenus:\n  - name: main\n    label: {zh-CN: 主菜单, en: Main}\n    items:\n      - report: sales\n"},
        "ref.E005", "app.yaml", 7, 17, 'menus[0].items[0].report names the report "sales", which is not declared',
    ),
    (
        "invalid cron",
        {"schedules/nightly.yaml": "name: nightly\nlabel: {zh-CN: 夜间, en: Nightly}\ncron: '61 2 * * *'\nhook: shop.nightly\n"},
        "schedule.E001", "schedules/nightly.yaml", 3, 7,
        'the cron expression "61 2 * * *" is invalid: the minute field must be * or numbers from 0 to 59 '
        "(ranges a-b, lists a,b, steps */n), not '61'",
    ),
    (
        "template file missing",
        {"templates/receipt.yaml": "name: receipt\nlabel: {zh-CN: 收据, en: Receipt}\nentity: item\nkind: document\nfile: receipt.html\n"},
        "ref.E008", "templates/receipt.yaml", 5, 7, 'file names the file "receipt.html", which does not exist',
    ),
    (
        "template reveals an unknown field",
        {"templates/slip.yaml": "name: slip\nlabel: {zh-CN: 单据, en: Slip}\nentity: item\nkind: overlay\n"
                                "positions:\n  - {field: title, x_mm: 10, y_mm: 10}\nreveal: [titel]\n"},
        "ref.E002", "templates/slip.yaml", 7, 10, 'reveal[0] names the field "titel", which the entity item does not have',
    ),
    (
        "template prints in an unknown state",
        {"templates/slip.yaml": "name: slip\nlabel: {zh-CN: 单据, en: Slip}\nentity: item\nkind: overlay\n"
                                "positions:\n  - {field: title, x_mm: 10, y_mm: 10}\nstates: [approved]\n"},
        "template.E001", "templates/slip.yaml", 7, 10, 'the template names the state "approved", which no flow of the entity has',
    ),
    (
        "catalog key not unique",
        {"catalogs/items.yaml": "name: items\nentity: item\nkey: title\nrows:\n  - {title: pen, price: 2}\n"},
        "catalog.E001", "catalogs/items.yaml", 3, 6, 'the catalog key "title" is not a unique field of the entity item',
    ),
    (
        "catalog row breaks a field rule",
        {ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    unique: true"),
         "catalogs/items.yaml": "name: items\nentity: item\nkey: title\nrows:\n  - {title: pen, price: 2}\n  - {title: ink, price: -3}\n"},
        "catalog.E002", "catalogs/items.yaml", 6, 25, "row 2, field price: The value is less than the minimum 0.",
    ),
    (
        "catalog row with unknown field",
        {ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    unique: true"),
         "catalogs/items.yaml": "name: items\nentity: item\nkey: title\nrows:\n  - {title: pen, prise: 2}\n"},
        "catalog.E006", "catalogs/items.yaml", 5, 18, 'row 1 has the field "prise", which the entity item does not have',
    ),
    (
        "catalog key repeated",
        {ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    unique: true"),
         "catalogs/items.yaml": "name: items\nentity: item\nkey: title\nrows:\n  - {title: pen, price: 2}\n  - {title: pen, price: 3}\n"},
        "catalog.E003", "catalogs/items.yaml", 6, 13, 'the key "pen" is used by more than one row; the first is on line 5',
    ),
]

REPORT = (
    "name: sales\nlabel: {zh-CN: 销售, en: Sales}\nsource: item\ndimensions:\n  - field: title\nmeasures:\n"
    "  - {name: count, label: {zh-CN: 数量, en: Count}, aggregate: count}\n"
)
UNIQUE_TITLE_ITEM = GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    unique: true")

CASES += [
    (
        "value off its pattern",
        {ITEM: with_field("name: colour\ntype: enum\nlabel: {zh-CN: 颜色, en: Colour}\nchoices:\n  - {value: 'dark red', label: {zh-CN: 深红, en: Dark red}}")},
        "schema.E005", ITEM, 15, 17,
        'fields[2].choices[0].value is "dark red", which does not match the pattern "^[A-Za-z0-9_\\\\-]{1,63}$"',
    ),
    (
        "too many entries",
        {"reports/sales.yaml": REPORT + "  - {name: c2, label: {zh-CN: 比, en: R}, aggregate: ratio, ratio: [count, count, count]}\n"},
        "schema.E012", "reports/sales.yaml", 8, 67, "measures[1].ratio must have at most 2 entries, found 3",
    ),
    (
        "sla expiry of unknown transition",
        {"flows/item.yaml": FLOW_HEAD + "transitions:\n  - {name: finish, label: {zh-CN: 完成, en: Finish}, from: draft, to: done, sla: {hours: 24, on_expiry: finsh}}\n"},
        "ref.E007", "flows/item.yaml", 8, 103,
        'transitions[0].sla.on_expiry names the transition "finsh", which the flow item_flow does not declare',
    ),
    (
        "ratio of unknown measure",
        {"reports/sales.yaml": REPORT + "  - {name: share, label: {zh-CN: 占比, en: Share}, aggregate: ratio, ratio: [count, total]}\n"},
        "ref.E009", "reports/sales.yaml", 8, 83, 'measures[1].ratio[1] names the measure "total", which this report does not declare',
    ),
    (
        "chart axis not a dimension",
        {"reports/sales.yaml": REPORT + "charts:\n  - {type: bar, x: price, y: [count]}\n"},
        "ref.E010", "reports/sales.yaml", 9, 20, 'charts[0].x names "price", which is not a dimension of this report',
    ),
    (
        "default not a choice",
        {ITEM: with_field("name: colour\ntype: enum\nlabel: {zh-CN: 颜色, en: Colour}\ndefault: blue\nchoices:\n  - {value: red, label: {zh-CN: 红, en: Red}}")},
        "field.E003", ITEM, 14, 14,
        'the default "blue" is not a valid value of this field: This is not one of the allowed values; choose one of: Red (red).',
    ),
    (
        "renamed from a current field",
        {ITEM: with_field("name: cost\ntype: money\nlabel: {zh-CN: 成本, en: Cost}\nrenamed_from: price")},
        "field.E006", ITEM, 14, 19, 'renamed_from "price" is also the name of a current field',
    ),
    (
        "expression unknown referenced field",
        {ITEM: with_field("name: shop\ntype: reference\nentity: item\nlabel: {zh-CN: 店, en: Shop}")
         + "rules:\n  - name: cheaper\n    check: price <= shop.prise\n    message: {zh-CN: 太贵, en: Too dear}\n"},
        "expr.E005", ITEM, 17, 21, 'the expression names "prise", which the entity item does not have',
    ),
    (
        "expression unknown user attribute",
        {ITEM: GOOD_ITEM + "rules:\n  - name: mine\n    check: user.nam == title\n    message: {zh-CN: 不对, en: Wrong}\n"},
        "expr.E006", ITEM, 13, 12, "the expression names user.nam, but the user variable has no such attribute",
    ),
    (
        "expression attribute of a number",
        {ITEM: GOOD_ITEM + "rules:\n  - name: odd\n    check: price.amount > 0\n    message: {zh-CN: 不对, en: Wrong}\n"},
        "expr.E007", ITEM, 13, 12, 'the expression reads "amount" of price, but price is a money field, which has no fields',
    ),
    (
        "expression chain beyond a reference",
        {ITEM: with_field("name: shop\ntype: reference\nentity: item\nlabel: {zh-CN: 店, en: Shop}")
         + "rules:\n  - name: deep\n    check: shop.shop.prise > 0\n    message: {zh-CN: 不对, en: Wrong}\n"},
        "expr.E005", ITEM, 17, 12, 'the expression names "prise", which the entity item does not have',
    ),
    (
        "date bucket on a number",
        {"reports/sales.yaml": REPORT.replace("  - field: title\n", "  - field: price\n    bucket: month\n")},
        "report.E001", "reports/sales.yaml", 6, 13, 'dimensions[0].bucket groups "price" by month, but it is a money field',
    ),
    (
        "stray file at the top",
        {"product.yaml": GOOD_ITEM},
        "layout.E004", "product.yaml", 1, 1,
        'the file "product.yaml" is not read, because only app.yaml and seed.yaml may sit at the top of the application folder',
    ),
    (
        "computed with zero default",
        {ITEM: with_field("name: total\ntype: money\nlabel: {zh-CN: 合计, en: Total}\ndefault: 0\ncomputed: price * 2")},
        "field.E005", ITEM, 14, 5, 'the field "total" is both computed and default',
    ),
    (
        "length limits reversed",
        {ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    length: {min: 10, max: 5}")},
        "field.E004", ITEM, 7, 19, "min 10 is greater than max 5",
    ),
    (
        "bad value inside a form field mapping",
        {"forms/item.yaml": FORM_HEAD + "    fields:\n      - title\n      - {field: price, widget: mony}\n"},
        "schema.E004", "forms/item.yaml", 9, 32,
        'sections[0].fields[1].widget must be one of "input", "textarea", "number", "money", "percent", "checkbox", '
        '"date", "datetime", "select", "radio", "reference", "multi_reference", "table", "upload", "json", "map", '
        '"id_number", "phone", found "mony"',
    ),
    (
        "bad name inside a list of sources",
        {"flows/item.yaml": FLOW_HEAD + "transitions:\n  - {name: finish, label: {zh-CN: 完成, en: Finish}, from: [Draft, done], to: done}\n"},
        "schema.E006", "flows/item.yaml", 8, 59, '"Draft" is not a valid name for transitions[0].from[0]',
    ),
    (
        "neither text nor true or false",
        {"forms/item.yaml": FORM_HEAD + "    fields:\n      - field: price\n        visible: 5\n"},
        "schema.E001", "forms/item.yaml", 9, 18, 'sections[0].fields[0].visible must be true or false or text, found "5"',
    ),
    (
        "expression position after chinese text",
        {ITEM: GOOD_ITEM + "rules:\n  - name: r\n    message: {zh-CN: 错, en: Wrong}\n    check: \"title == '名称' or prise > 0\"\n"},
        "expr.E002", ITEM, 14, 30, 'the expression names "prise", which is neither a field of item nor a variable',
    ),
    (
        "expression position in a folded block",
        {ITEM: GOOD_ITEM + "rules:\n  - name: r\n    message: {zh-CN: 错, en: Wrong}\n    check: >\n      title == 'x'\n      or prise > 0\n"},
        "expr.E002", ITEM, 16, 10, 'the expression names "prise", which is neither a field of item nor a variable',
    ),
    (
        "cron with four fields",
        {"schedules/nightly.yaml": "name: nightly\nlabel: {zh-CN: 夜间, en: Nightly}\ncron: '0 2 * *'\nhook: shop.nightly\n"},
        "schedule.E001", "schedules/nightly.yaml", 3, 7, 'the cron expression "0 2 * *" is invalid: it has 4 field(s) instead of 5',
    ),
    (
        "expression compares enum with unknown value",
        {ITEM: with_field("name: colour\ntype: enum\nlabel: {zh-CN: 颜色, en: Colour}\nchoices:\n  - {value: red, label: {zh-CN: 红, en: Red}}")
         + "rules:\n  - name: r\n    message: {zh-CN: 错, en: Wrong}\n    check: colour in ['red', 'rde'] or price > 0\n"},
        "expr.E008", ITEM, 19, 30, 'the expression compares colour with "rde", which is not one of its values',
    ),
    (
        "expression compares state with unknown state",
        {"flows/item.yaml": FLOW_HEAD + "transitions: []\n",
         ITEM: GOOD_ITEM + "rules:\n  - name: r\n    message: {zh-CN: 错, en: Wrong}\n    check: state != 'dnoe'\n"},
        "expr.E008", ITEM, 14, 21, 'the expression compares state with "dnoe", which is not one of its values',
    ),
    (
        "two initial states",
        {"flows/item.yaml": FLOW_HEAD.replace("final: true", "initial: true") + "transitions: []\n"},
        "flow.E002", "flows/item.yaml", 5, 3, 'the flow has more than one initial state: "draft", "done"',
    ),
    (
        "field rule of unknown field",
        {"permissions/roles.yaml": ROLES + "field_rules:\n  - {role: clerk, entity: item, hidden: [prise]}\n"},
        "perm.E002", "permissions/roles.yaml", 4, 42,
        'field_rules[0].hidden[0] names the field "prise" in a field rule, but the entity item has no such field',
    ),
    (
        "catalog reference to unknown key",
        {ITEM: UNIQUE_TITLE_ITEM + "  - {name: parent, type: reference, entity: item, label: {zh-CN: 上级, en: Parent}}\n",
         "catalogs/items.yaml": "name: items\nentity: item\nkey: title\nrows:\n  - {title: pen, price: 2}\n  - {title: ink, price: 3, parent: pn}\n"},
        "catalog.E004", "catalogs/items.yaml", 6, 36, '"pn" is not the key of any item row declared in a catalog',
    ),
    (
        "catalog row breaks a rule",
        {ITEM: UNIQUE_TITLE_ITEM + "  - {name: cost, type: money, label: {zh-CN: 成本, en: Cost}}\n"
         + "rules:\n  - name: margin\n    check: price >= cost\n    message: {zh-CN: 售价低于成本, en: The price is below the cost}\n",
         "catalogs/items.yaml": "name: items\nentity: item\nkey: title\nrows:\n  - {title: pen, price: 2, cost: 1}\n  - {title: ink, price: 3, cost: 4}\n"},
        "catalog.E005", "catalogs/items.yaml", 6, 5, 'row 2 breaks the rule "margin": The price is below the cost',
    ),
    (
        "menu item with two targets",
        {"app.yaml": "name: shop\nlabel: {zh-CN: 小店, en: Shop}\nmenus:\n  - name: main\n    label: {zh-CN: 主菜单, en: Main}\n    items:\n      - {entity: item, page: home}\n"},
        "app.E001", "app.yaml", 7, 9, 'a menu item must name exactly one of entity, report or page, found "entity", "page"',
    ),
    (
        "default locale not listed",
        {"app.yaml": "name: shop\nlabel: {zh-CN: 小店, en: Shop}\nlocales: [zh-CN]\ndefault_locale: en\n"},
        "app.E002", "app.yaml", 4, 17, 'the default locale "en" is not one of the locales "zh-CN"',
    ),
]


@pytest.mark.parametrize(
    ("case", "files", "code", "file", "line", "column", "message"), CASES, ids=[case[0] for case in CASES]
)
def test_document_diagnostic(
    check: Callable[..., CheckResult],
    case: str,
    files: dict[str, str | None],
    code: str,
    file: str,
    line: int,
    column: int,
    message: str,
) -> None:
    result = check(files)

    assert result.model is None
    assert [item.code for item in result.errors] == [code]
    diagnostic = result.errors[0]
    root = diagnostic.file[: -len(file) - 1]
    assert diagnostic.file == f"{root}/{file}"
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert diagnostic.message("en") == message.replace("{root}", root)
    assert diagnostic.hint("en")
    assert diagnostic.message("zh-CN") != diagnostic.message("en")


def test_each_flow_of_shared_entity_reported(check: Callable[..., CheckResult]) -> None:
    result = check(
        {
            "flows/item.yaml": FLOW_HEAD + "transitions: []\n",
            "flows/item2.yaml": FLOW_HEAD.replace("item_flow", "item_flow2") + "transitions: []\n",
        }
    )

    assert [item.code for item in result.diagnostics] == ["flow.E004", "flow.E004"]
    assert [item.file.rsplit("/", 1)[1] for item in result.diagnostics] == ["item.yaml", "item2.yaml"]
    assert result.diagnostics[0].message("en") == 'the entity "item" has 2 flows, so each of them needs applies_when'


def test_quoted_boolean_hint_says_unquote(check: Callable[..., CheckResult]) -> None:
    result = check({ITEM: GOOD_ITEM.replace("label: {zh-CN: 名称, en: Title}", "label: {zh-CN: 名称, en: Title}\n    required: 'true'")})

    assert [item.code for item in result.diagnostics] == ["schema.E001"]
    assert result.diagnostics[0].hint("en") == "Remove the quotes around the value."
    assert result.diagnostics[0].hint("zh-CN") == "请去掉值两边的引号。"


def test_multiline_expression_parses(check: Callable[..., CheckResult]) -> None:
    rule = "rules:\n  - name: r\n    message: {zh-CN: 错, en: Wrong}\n    check: |\n      title == 'x' or\n      price > 0\n"
    result = check({ITEM: GOOD_ITEM + rule})

    assert result.diagnostics == []


def test_upper_case_suffix_read(check: Callable[..., CheckResult]) -> None:
    result = check({ITEM: None, "entities/Item.YAML": GOOD_ITEM})

    assert result.diagnostics == []


def test_broken_flow_hides_action_cascade(check: Callable[..., CheckResult]) -> None:
    flow = FLOW_HEAD + "transitions:\n  - {name: finish, label: {zh-CN: 完成, en: Finish}, from: draft, to: done, comment: maybe}\n"
    grants = ROLES + "grants:\n  - {role: clerk, entity: item, actions: [read, finish]}\n"

    result = check({"flows/item.yaml": flow, "permissions/roles.yaml": grants})

    assert [item.code for item in result.diagnostics] == ["schema.E004"]


def test_misspelt_dimension_reported_once(check: Callable[..., CheckResult]) -> None:
    report = REPORT.replace("field: title", "field: titel") + "charts:\n  - {type: bar, x: title, y: [count]}\nsort: [title]\n"

    result = check({"reports/sales.yaml": report})

    assert [item.code for item in result.diagnostics] == ["ref.E002"]


def test_unknown_field_hint_lists_system_fields(check: Callable[..., CheckResult]) -> None:
    entity = GOOD_ITEM + "list:\n  sort: [-created]\n"

    result = check({ITEM: entity})

    assert [item.code for item in result.diagnostics] == ["ref.E002"]
    assert "created_at" in result.diagnostics[0].params["expected"]
    assert result.diagnostics[0].params["suggestion"].startswith("created_")


def test_unused_role_and_unreadable_entity_warned(check: Callable[..., CheckResult]) -> None:
    permissions = (
        "roles:\n  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}\n  - {name: idle, label: {zh-CN: 闲置, en: Idle}}\n"
        "grants:\n  - {role: clerk, entity: item, actions: [create]}\n"
    )

    result = check({"permissions/roles.yaml": permissions})

    assert result.model is not None
    assert sorted(item.code for item in result.warnings) == ["perm.W001", "perm.W002"]
    idle = next(item for item in result.warnings if item.code == "perm.W001")
    assert idle.message("en") == 'the role "idle" has no grant, directly or through inherits, so it can do nothing'
    assert (idle.line, idle.column) == (3, 12)
