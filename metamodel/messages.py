"""The message and hint of every diagnostic code, in English and Simplified Chinese.

Codes are stable: tests and tools match on them. Templates take the diagnostic's
params; "found", "expected" and "suggestion" are quoted as YAML values, the rest
are inserted as they are. "{path}" is the place inside the document. The flow and
routing codes are kept in messages_flows.py and merged in here.
"""

from __future__ import annotations

from dataclasses import dataclass

from metamodel.messages_flows import FLOW_MESSAGES


@dataclass(frozen=True)
class Message:
    en: str
    zh_cn: str
    hint_en: str
    hint_zh_cn: str


def _m(en: str, zh_cn: str, hint_en: str, hint_zh_cn: str) -> Message:
    return Message(en, zh_cn, hint_en, hint_zh_cn)


MESSAGES: dict[str, Message] = {
    # Reading YAML
    "yaml.E001": _m(
        "invalid YAML: {reason}",
        "YAML 语法错误：{reason}",
        "Fix the syntax at this position: check the indentation, the colon after each key and closing quotes and brackets.",
        "请修正此处的语法：检查缩进、键后的冒号以及引号和括号是否成对。",
    ),
    "yaml.E002": _m(
        "a tab character is used for indentation",
        "缩进中使用了制表符（Tab）",
        "YAML indents with spaces only: replace the tab with spaces, two per level.",
        "YAML 只能用空格缩进：请把 Tab 换成空格，每级两个。",
    ),
    "yaml.E003": _m(
        "the file is not UTF-8 (it looks like {found})",
        "文件不是 UTF-8 编码（看起来是 {found}）",
        "Save the file as UTF-8; in Notepad use Save As and choose the encoding UTF-8.",
        "请把文件另存为 UTF-8 编码；在记事本中选择“另存为”，编码选 UTF-8。",
    ),
    "yaml.E004": _m(
        "the file is empty",
        "文件为空",
        "Write the document, or delete the file.",
        "请写入文档内容，或删除该文件。",
    ),
    "yaml.E005": _m(
        "duplicate key {found}; it was first set on line {first_line}",
        "键 {found} 重复；第 {first_line} 行已设置过",
        "Keep one of the two keys: a key may appear only once in a mapping.",
        "请只保留其中一个：同一映射中的键不能重复。",
    ),
    "yaml.E006": _m(
        "aliases expand this document to more than {expected} values",
        "别名展开后文档超过 {expected} 个值",
        "Use fewer nested aliases, or write the repeated values out.",
        "请减少嵌套别名，或直接写出重复的内容。",
    ),
    "yaml.E007": _m(
        "an alias refers to a node that contains it",
        "别名引用了包含它自身的节点",
        "Remove the alias that points back to its own parent.",
        "请删除指向自身上级节点的别名。",
    ),
    "yaml.E008": _m(
        "the file contains more than one YAML document",
        "文件中包含多个 YAML 文档",
        "Keep one document per file: remove the '---' separator and move the next document to a file of its own.",
        "每个文件只放一个文档：删除 '---' 分隔符，把后面的文档移到单独的文件。",
    ),
    "yaml.E009": _m(
        "the tag {found} is not allowed",
        "不允许使用标签 {found}",
        "Remove the tag: only plain values (text, numbers, true/false, null, lists and mappings) are accepted.",
        "请删除该标签：只接受普通值（文本、数字、true/false、null、列表和映射）。",
    ),
    "yaml.E010": _m(
        "{found} is not a finite number",
        "{found} 不是有限数值",
        "Write an ordinary number; .inf and .nan are not accepted.",
        "请填写普通数字；不接受 .inf 和 .nan。",
    ),
    "yaml.E011": _m(
        "the document nests deeper than {expected} levels",
        "文档嵌套超过 {expected} 层",
        "Flatten the structure; no document kind needs this depth.",
        "请减少嵌套层级；任何文档类型都不需要这么深的结构。",
    ),
    "yaml.E012": _m(
        "a mapping key must be plain text, not a list or mapping",
        "映射的键必须是普通文本，不能是列表或映射",
        "Write the key as plain text followed by a colon.",
        "请把键写成普通文本，后面加冒号。",
    ),
    "yaml.E013": _m(
        "'<<' must merge a mapping or a list of mappings",
        "'<<' 只能合并映射或映射列表",
        "Point '<<' at an anchored mapping, for example '<<: *defaults'.",
        "请让 '<<' 指向带锚点的映射，例如 '<<: *defaults'。",
    ),
    "yaml.E014": _m(
        "the file cannot be read: {found}",
        "无法读取文件：{found}",
        "Check that the file exists and that its permissions allow reading.",
        "请确认文件存在且有读取权限。",
    ),
    "yaml.E015": _m(
        "the file has {found} bytes, more than the limit of {expected}",
        "文件大小 {found} 字节，超过上限 {expected}",
        "Split the document into several files.",
        "请把文档拆分为多个文件。",
    ),
    "yaml.E016": _m(
        "the full-width character {found} stands where YAML needs {expected}",
        "此处使用了全角字符 {found}，YAML 需要半角的 {expected}",
        "Switch the input method to half-width (English) punctuation and type {expected} again.",
        "请把输入法切换到半角（英文）标点，重新输入 {expected}。",
    ),
    "yaml.W001": _m(
        "the file starts with a UTF-8 byte-order mark, which was ignored",
        "文件以 UTF-8 字节顺序标记（BOM）开头，已忽略",
        "Save the file as UTF-8 without BOM to remove this warning.",
        "请另存为不带 BOM 的 UTF-8 以消除此警告。",
    ),
    # Layout of the application directory
    "layout.E001": _m(
        "YAML files in the folder {found} are not read, because it is not the folder of any document kind",
        "文件夹 {found} 中的 YAML 文件不会被读取，因为它不属于任何文档类型",
        "Move the file into one of the folders {expected}.",
        "请把文件移到以下文件夹之一：{expected}。",
    ),
    "layout.E002": _m(
        "the application has no app.yaml",
        "应用缺少 app.yaml",
        "Give the folder that holds app.yaml (folders below this one that have one: {expected}), or create app.yaml with at least name and label.",
        "请指定包含 app.yaml 的文件夹（此处下层包含它的文件夹：{expected}），或创建 app.yaml 并至少写上 name 和 label。",
    ),
    "layout.E003": _m(
        "the application folder {found} does not exist or is not a folder",
        "应用文件夹 {found} 不存在或不是文件夹",
        "Give the path of a folder that contains app.yaml.",
        "请指定包含 app.yaml 的文件夹路径。",
    ),
    "layout.E004": _m(
        "the file {found} is not read, because only app.yaml and seed.yaml may sit at the top of the application folder",
        "文件 {found} 不会被读取，因为应用文件夹顶层只能放 app.yaml 和 seed.yaml",
        "Move it into the folder of its kind: {expected}.",
        "请把它移到对应类型的文件夹：{expected}。",
    ),
    # JSON Schema validation
    "schema.E001": _m(
        "{path} must be {expected}, found {found}",
        "{path} 应为 {expected}，实际为 {found}",
        "{advice}",
        "{advice}",
    ),
    "schema.E002": _m(
        "unknown key {found} in {parent}",
        "{parent} 中有未知的键 {found}",
        "Remove it or use one of the allowed keys: {expected}.",
        "请删除它，或使用允许的键：{expected}。",
    ),
    "schema.E003": _m(
        "{path} is missing the required key {expected}",
        "{path} 缺少必填的键 {expected}",
        "Add {expected}.",
        "请添加 {expected}。",
    ),
    "schema.E004": _m(
        "{path} must be one of {expected}, found {found}",
        "{path} 应为 {expected} 之一，实际为 {found}",
        "Use one of the listed values.",
        "请使用列出的值之一。",
    ),
    "schema.E005": _m(
        "{path} is {found}, which does not match the pattern {expected}",
        "{path} 的值 {found} 不符合格式 {expected}",
        "Write a value that matches the pattern; choice values use letters, digits, _ and - only, and the Chinese text goes in the label.",
        "请填写符合格式的值；选项值只能用字母、数字、_ 和 -，中文请写在 label 中。",
    ),
    "schema.E006": _m(
        "{found} is not a valid name for {path}",
        "{found} 不是有效的名称（{path}）",
        "{rule}",
        "{rule}",
    ),
    "schema.E007": _m(
        "{path} must be {expected}, found {found}",
        "{path} 应 {expected}，实际为 {found}",
        "Change the value to lie within the range.",
        "请把数值改到允许的范围内。",
    ),
    "schema.E008": _m(
        "{path} must have at least {expected} {unit_en}, found {found}",
        "{path} 至少应有 {expected} {unit_zh}，实际为 {found}",
        "Add the missing entries, or remove the key if it is optional.",
        "请补充缺少的内容；如果该键可选，也可以删除它。",
    ),
    "schema.E012": _m(
        "{path} must have at most {expected} {unit_en}, found {found}",
        "{path} 最多只能有 {expected} {unit_zh}，实际为 {found}",
        "Remove entries until the size fits.",
        "请删除多余的内容。",
    ),
    "schema.E009": _m(
        "{path} lists the same entry more than once",
        "{path} 中有重复的条目",
        "Remove the repeated entry.",
        "请删除重复的条目。",
    ),
    "schema.E010": _m(
        "{path} is invalid: {found}",
        "{path} 无效：{found}",
        "Compare the value with the schema of this document kind ({kind}).",
        "请对照此类文档（{kind}）的结构说明修改。",
    ),
    "schema.E011": _m(
        "{path} names {found}, but only one of {expected} may be given",
        "{path} 同时给出了 {found}，但 {expected} 只能选一个",
        "Keep one of them.",
        "请只保留一个。",
    ),
    "schema.E013": _m(
        "{path} may not be given {condition}",
        "{condition}不能填写 {path}",
        "{advice}",
        "{advice}",
    ),
    # Names
    "name.E001": _m(
        "the {kind} {found} is declared twice; the other declaration is at {other}",
        "{kind} {found} 重复声明；另一处在 {other}",
        "Rename one of them: names of one kind must be unique in the application.",
        "请重命名其中一个：同一类型的名称在应用中必须唯一。",
    ),
    "name.E002": _m(
        "the field name {found} is reserved for a system column",
        "字段名 {found} 是系统列的保留名",
        "Rename the field: the runtime adds the columns {expected} to every table.",
        "请重命名该字段：运行时会为每张表添加系统列 {expected}。",
    ),
    "name.E003": _m(
        "{found} is declared more than once in {path}; the first is on line {first_line}",
        "{path} 中 {found} 重复声明；第一次在第 {first_line} 行",
        "Rename or remove one of them.",
        "请重命名或删除其中一个。",
    ),
    # References between documents
    "ref.E001": _m(
        "{path} names the entity {found}, which is not declared",
        "{path} 引用的实体 {found} 未声明",
        "Declare it in entities/, or use one of the declared entities: {expected}.",
        "请在 entities/ 中声明它，或使用已声明的实体：{expected}。",
    ),
    "ref.E002": _m(
        "{path} names the field {found}, which the entity {entity} does not have",
        "{path} 引用的字段 {found} 在实体 {entity} 中不存在",
        "Use one of the fields of {entity}: {expected}.",
        "请使用实体 {entity} 的字段：{expected}。",
    ),
    "ref.E003": _m(
        "{path} names the role {found}, which is not declared",
        "{path} 引用的角色 {found} 未声明",
        "Declare the role under roles in permissions/, or use one of: {expected}.",
        "请在 permissions/ 的 roles 中声明该角色，或使用：{expected}。",
    ),
    "ref.E004": _m(
        "{path} names the state {found}, which the flow {flow} does not declare",
        "{path} 引用的状态 {found} 在流程 {flow} 中未声明",
        "Use one of the flow's states: {expected}.",
        "请使用流程中的状态：{expected}。",
    ),
    "ref.E005": _m(
        "{path} names the report {found}, which is not declared",
        "{path} 引用的报表 {found} 未声明",
        "Declare it in reports/, or use one of: {expected}.",
        "请在 reports/ 中声明它，或使用：{expected}。",
    ),
    "ref.E006": _m(
        "{path} names the action {found}, which the entity {entity} does not have",
        "{path} 引用的操作 {found} 在实体 {entity} 中不存在",
        "Use a standard action or a transition of one of the entity's flows: {expected}.",
        "请使用标准操作或该实体流程中的流转：{expected}。",
    ),
    "ref.E007": _m(
        "{path} names the transition {found}, which the flow {flow} does not declare",
        "{path} 引用的流转 {found} 在流程 {flow} 中未声明",
        "Use one of the flow's transitions: {expected}.",
        "请使用流程中的流转：{expected}。",
    ),
    "ref.E008": _m(
        "{path} names the file {found}, which does not exist",
        "{path} 引用的文件 {found} 不存在",
        "Create the file, or correct the path; it is relative to the folder of the template's YAML file.",
        "请创建该文件或修正路径；路径相对于模板 YAML 文件所在的文件夹。",
    ),
    "ref.E009": _m(
        "{path} names the measure {found}, which this report does not declare",
        "{path} 引用的度量 {found} 在本报表中未声明",
        "Use one of the report's measures: {expected}.",
        "请使用本报表的度量：{expected}。",
    ),
    "ref.E010": _m(
        "{path} names {found}, which is not a dimension of this report",
        "{path} 引用的 {found} 不是本报表的维度",
        "Use one of the report's dimensions: {expected}.",
        "请使用本报表的维度：{expected}。",
    ),
    # Field declarations
    "field.E001": _m(
        "{found} does not apply to a field of type {type}",
        "{found} 不适用于 {type} 类型的字段",
        "Remove {found}; it applies to the types {expected}.",
        "请删除 {found}；它只适用于以下类型：{expected}。",
    ),
    "field.E002": _m(
        "the pattern {found} is not a valid regular expression: {reason}",
        "格式 {found} 不是有效的正则表达式：{reason}",
        "Correct the regular expression (Python syntax, matched against the whole value).",
        "请修正正则表达式（Python 语法，匹配整个值）。",
    ),
    "field.E003": _m(
        "the default {found} is not a valid value of this field: {reason}",
        "默认值 {found} 不是该字段的有效值：{reason}",
        "Change the default so that it passes the field's own rules.",
        "请修改默认值，使其符合该字段自身的规则。",
    ),
    "field.E004": _m(
        "min {found} is greater than max {expected}",
        "最小值 {found} 大于最大值 {expected}",
        "Swap the two limits or correct one of them.",
        "请交换两个限制或修正其中一个。",
    ),
    "field.E005": _m(
        "the field {found} is both computed and {other}",
        "字段 {found} 既是计算字段又设置了 {other}",
        "A computed field takes its value from the expression: remove {other}.",
        "计算字段的值来自表达式：请删除 {other}。",
    ),
    "field.E006": _m(
        "renamed_from {found} is also the name of a current field",
        "renamed_from 的值 {found} 与现有字段重名",
        "renamed_from names the field's previous name, which no other field may still use.",
        "renamed_from 应填写该字段的旧名称，且不能与其他现有字段重名。",
    ),
    # Expressions
    "expr.E001": _m(
        "the expression does not parse: {reason}",
        "表达式无法解析：{reason}",
        "Write a single expression such as discount <= unit_price * 0.2.",
        "请写单个表达式，例如 discount <= unit_price * 0.2。",
    ),
    "expr.E002": _m(
        "the expression names {found}, which is neither a field of {entity} nor a variable",
        "表达式中的 {found} 既不是实体 {entity} 的字段，也不是变量",
        "Use a field of {entity} or one of the variables {expected}.",
        "请使用实体 {entity} 的字段，或变量 {expected}。",
    ),
    "expr.E003": _m(
        "the expression uses {found}, which is not allowed",
        "表达式中使用了不允许的 {found}",
        "Expressions may use literals, field names, arithmetic, comparisons, and/or/not, if-else, lists and the listed functions.",
        "表达式只能使用常量、字段名、算术、比较、and/or/not、if-else、列表以及列出的函数。",
    ),
    "expr.E004": _m(
        "{found} is not a function of the expression language",
        "{found} 不是表达式语言中的函数",
        "Use one of the functions {expected}.",
        "请使用以下函数之一：{expected}。",
    ),
    "expr.E005": _m(
        "the expression names {found}, which the entity {entity} does not have",
        "表达式中的 {found} 在实体 {entity} 中不存在",
        "Use one of the fields of {entity}: {expected}.",
        "请使用实体 {entity} 的字段：{expected}。",
    ),
    "expr.E006": _m(
        "the expression names user.{attribute}, but the user variable has no such attribute",
        "表达式中的 user.{attribute} 不存在：user 变量没有该属性",
        "Use one of the attributes of user: {expected}.",
        "请使用 user 的属性：{expected}。",
    ),
    "expr.E007": _m(
        "the expression reads {found} of {field}, but {field} is a {type} field, which has no fields",
        "表达式读取 {field} 的 {found}，但 {field} 是 {type} 类型的字段，没有下级字段",
        "Only a reference field leads to the fields of another entity; remove .{attribute}.",
        "只有引用字段才能访问另一个实体的字段；请删除 .{attribute}。",
    ),
    "expr.E008": _m(
        "the expression compares {name} with {found}, which is not one of its values",
        "表达式把 {name} 与 {found} 比较，但它不是可取的值",
        "Use one of the values {expected}; the choice value, not its label.",
        "请使用以下值之一：{expected}；注意是选项的值，而不是显示名称。",
    ),
    # Reports
    "report.E001": _m(
        "{path} groups {found} by {bucket}, but it is a {type} field",
        "{path} 按{bucket}对 {found} 分组，但它是 {type} 类型的字段",
        "Use bucket only with date and datetime fields, or remove it.",
        "bucket 只能用于 date 和 datetime 字段；请删除它。",
    ),
    # Dashboards
    "dashboard.E001": _m(
        "{path} shows chart number {found} of the report {report}, which declares {count} chart(s)",
        "{path} 显示报表 {report} 的第 {found} 个图表，但该报表只声明了 {count} 个图表",
        "Count charts from 0 and use one the report declares, add the chart to the report, or set show: table.",
        "图表从 0 开始编号；请使用报表已声明的图表、在报表中添加图表，或设置 show: table。",
    ),
    # Permissions
    "perm.E001": _m(
        "role inheritance forms a cycle: {found}",
        "角色继承形成了循环：{found}",
        "Remove one of the inherits entries of the cycle.",
        "请删除循环中的一个 inherits 条目。",
    ),
    "perm.E002": _m(
        "{path} names the field {found} in a field rule, but the entity {entity} has no such field",
        "字段规则 {path} 中的字段 {found} 在实体 {entity} 中不存在",
        "Use one of the fields of {entity}: {expected}.",
        "请使用实体 {entity} 的字段：{expected}。",
    ),
    "perm.W001": _m(
        "the role {found} has no grant, directly or through inherits, so it can do nothing",
        "角色 {found} 没有任何授权（包括继承的），因此什么也做不了",
        "Add grants for it under grants, let it inherit a role that has some, or remove it.",
        "请在 grants 中为它授权，或让它继承有授权的角色，或删除该角色。",
    ),
    "perm.W002": _m(
        "no role may read the entity {found}, so its records are shown to nobody",
        "没有任何角色可以读取实体 {found}，其记录对所有人都不可见",
        "Grant read on it to at least one role in {where}.",
        "请在 {where} 中至少为一个角色授予它的 read 权限。",
    ),
    # Catalogs
    "catalog.E001": _m(
        "the catalog key {found} is not a unique field of the entity {entity}",
        "目录主键 {found} 不是实体 {entity} 的唯一字段",
        "Choose a field of {entity} marked unique: true, or add unique: true to {found}.",
        "请选择实体 {entity} 中 unique: true 的字段，或为 {found} 添加 unique: true。",
    ),
    "catalog.E002": _m(
        "row {row}, field {field}: {reason}",
        "第 {row} 行，字段 {field}：{reason}",
        "Correct the value so that it passes the rules of the field in entity {entity}.",
        "请修改该值，使其符合实体 {entity} 中该字段的规则。",
    ),
    "catalog.E003": _m(
        "the key {found} is used by more than one row; the first is on line {first_line}",
        "主键 {found} 被多行使用；第一次在第 {first_line} 行",
        "Give every row its own key.",
        "请为每一行设置不同的主键。",
    ),
    "catalog.E004": _m(
        "{found} is not the key of any {entity} row declared in a catalog",
        "{found} 不是任何目录中 {entity} 行的主键",
        "Use one of the keys {expected}.",
        "请使用以下主键之一：{expected}。",
    ),
    "catalog.E005": _m(
        "row {row} breaks the rule {found}: {reason}",
        "第 {row} 行违反规则 {found}：{reason}",
        "Correct the row so that the rule holds.",
        "请修改该行使规则成立。",
    ),
    "catalog.E006": _m(
        "row {row} has the field {found}, which the entity {entity} does not have",
        "第 {row} 行的字段 {found} 在实体 {entity} 中不存在",
        "Remove it or use one of the fields of {entity}: {expected}.",
        "请删除它，或使用实体 {entity} 的字段：{expected}。",
    ),
    # Schedules
    "schedule.E001": _m(
        "the cron expression {found} is invalid: {reason}",
        "cron 表达式 {found} 无效：{reason}",
        "Write five fields separated by spaces: minute hour day month weekday, for example 0 2 * * * for 02:00 daily; names such as MON are not accepted.",
        "请写五个以空格分隔的字段：分 时 日 月 星期，例如 0 2 * * * 表示每天 02:00；不接受 MON 这类名称。",
    ),
    # Custom actions of an entity
    "action.E001": _m(
        "the action {found} of {entity} has the name of a standard action or of a flow transition",
        "{entity} 的操作 {found} 与标准操作或流程流转同名",
        "Give the action a name of its own: grants name actions, so an action's name must differ from the others.",
        "请为该操作另取名称：授权按操作名称进行，因此操作名称不能与其他操作重复。",
    ),
    "template.E001": _m(
        "the template names the state {found}, which no flow of the entity has",
        "该模板指定的状态 {found} 不存在于该实体的任何流程中",
        "Use one of the states {expected}, or remove states to allow printing in every state.",
        "请使用以下状态之一：{expected}；或删除 states，使该模板在所有状态下都可打印。",
    ),
    "action.E002": _m(
        "the action names the state {found}, which no flow of the entity has",
        "该操作指定的状态 {found} 不存在于该实体的任何流程中",
        "Use one of the states {expected}, or remove states to offer the action in every state.",
        "请使用以下状态之一：{expected}；或删除 states，使该操作在所有状态下可用。",
    ),
    # Related lists of an entity (shown on a record's detail page)
    "related.E001": _m(
        "{path} names the entity {found}, which is not declared",
        "{path} 引用的实体 {found} 未声明",
        "A related list shows records of another entity: use one of the declared entities: {expected}.",
        "关联列表展示另一实体的记录：请使用已声明的实体：{expected}。",
    ),
    "related.E002": _m(
        "{path} names {found}, which is not a reference field of {entity} pointing to {owner}",
        "{path} 指定的 {found} 不是实体 {entity} 中指向 {owner} 的引用字段",
        "Name the field of {entity} whose type is reference and whose entity is {owner}: {expected}.",
        "请填写实体 {entity} 中类型为 reference 且 entity 为 {owner} 的字段：{expected}。",
    ),
    "related.E003": _m(
        "{path} names the column {found}, which a list of {entity} cannot show",
        "{path} 指定的列 {found} 无法在 {entity} 的列表中显示",
        "Use a field of {entity} (not a child table, multi-reference, JSON or location field), a system column such as "
        "created_at, or a path through references such as owner.name; fields of {entity}: {expected}.",
        "请使用 {entity} 的字段（子表、多选引用、JSON 和位置字段除外）、系统列（如 created_at），"
        "或经引用字段的路径（如 owner.name）；{entity} 的字段：{expected}。",
    ),
    # Hooks (checked by `metadesk check` after importing the hooks folder and installed packages)
    "hook.W001": _m(
        "{where} runs the hook {found}, which no code registers, so that step fails until one does",
        "{where} 使用的钩子 {found} 没有任何代码注册，注册之前该步骤会失败",
        "Register it with @hook({found}) in a module of the hooks/ folder or of an installed package, or correct the name; registered hooks: {expected}.",
        "请在 hooks/ 目录或已安装包的模块中用 @hook({found}) 注册它，或改正名称；已注册的钩子：{expected}。",
    ),
    "hook.E002": _m(
        "importing the hooks module failed: {reason}",
        "导入钩子模块失败：{reason}",
        "Fix the Python error at this line; the application cannot start until the module imports.",
        "请修正此行的 Python 错误；该模块能够导入之前，应用无法启动。",
    ),
    "integration.E001": _m(
        "{reason}",
        "{reason}",
        "The provider reads this setting on its first call and would fail every call with it.",
        "服务实现会在第一次调用时读取该设置，设置有误时每次调用都会失败。",
    ),
    "integration.W001": _m(
        "no installed package provides the {found} provider of the interface {interface}, so hooks cannot use it",
        "没有已安装的包提供接口 {interface} 的 {found} 实现，钩子无法使用该集成",
        "Install the package that provides it (this repository's integrations package is installed by make setup), or choose a provider this interface has; installed: {expected}.",
        "请安装提供该实现的包（本仓库的 integrations 包由 make setup 安装），或改用该接口已有的实现；已安装：{expected}。",
    ),
    # The app document
    "app.E001": _m(
        "a menu item must name exactly one of entity, report or page, found {found}",
        "菜单项必须且只能指定 entity、report、page 之一，实际为 {found}",
        "Keep one of entity, report or page in the item.",
        "请在菜单项中只保留 entity、report 或 page 之一。",
    ),
    "app.E002": _m(
        "the default locale {found} is not one of the locales {expected}",
        "默认语言 {found} 不在语言列表 {expected} 中",
        "Add it to locales or choose a listed locale.",
        "请把它加入 locales，或选择列表中的语言。",
    ),
    # The seed hints (seed.yaml)
    "seed.E001": _m(
        "{path} names the org unit {found}, which is not declared",
        "{path} 引用的组织机构 {found} 未声明",
        "Use one of the org units declared in permissions/: {expected}.",
        "请使用 permissions/ 中声明的组织机构：{expected}。",
    ),
    "seed.E002": _m(
        "{path} sets both {expected} and {found}; a field hint takes one generator",
        "{path} 同时设置了 {expected} 和 {found}；一个字段提示只能用一种生成方式",
        "Keep one of value, range, choices, faker and format; probability and step may go with it.",
        "请在 value、range、choices、faker、format 中只保留一个；probability 和 step 可以一起使用。",
    ),
    "seed.E003": _m(
        "{found} does not apply to the field {field} of type {type}",
        "{found} 不适用于 {type} 类型的字段 {field}",
        "Remove {found}; it applies to the types {expected}.",
        "请删除 {found}；它只适用于以下类型：{expected}。",
    ),
    "seed.E004": _m(
        "the choice {found} is not a valid value of the field {field}: {reason}",
        "候选值 {found} 不是字段 {field} 的有效值：{reason}",
        "Change the choice so that it passes the field's own rules.",
        "请修改候选值，使其符合该字段自身的规则。",
    ),
    "seed.E005": _m(
        "the field {found} is computed, so the seeder cannot set it",
        "字段 {found} 由系统计算，生成演示数据时不能设置",
        "Remove the hint; the runtime computes the value from the other fields.",
        "请删除该提示；系统会根据其他字段计算它的值。",
    ),
    "seed.E006": _m(
        "the range starts at {found}, above its end {expected}",
        "取值范围的起点 {found} 大于终点 {expected}",
        "Write the lowest value first: [low, high].",
        "请先写较小的值：[最小值, 最大值]。",
    ),
    "seed.E007": _m(
        "the format {found} cannot be filled: {reason}",
        "格式 {found} 无法填充：{reason}",
        "Write a Python format string that uses only {{n}}, the record's number, and {{year}}, such as GA{{year}}{{n:06d}}.",
        "请写只使用 {{n}}（记录序号）和 {{year}}（年份）的 Python 格式字符串，例如 GA{{year}}{{n:06d}}。",
    ),
    "seed.E008": _m(
        "{path} sets step without range",
        "{path} 设置了 step 但没有 range",
        "Add a range, or remove step: it rounds values drawn from a range.",
        "请添加 range，或删除 step：step 只用于对 range 中取的值取整。",
    ),
    "seed.E009": _m(
        "{path} sets in_turn without choices",
        "{path} 设置了 in_turn 但没有 choices",
        "Add choices, or remove in_turn: it takes the choices in turn instead of at random.",
        "请添加 choices，或删除 in_turn：in_turn 表示按顺序而非随机选用候选值。",
    ),
    "seed.E010": _m(
        "the state {found} is not a state of any flow of {entity}",
        "状态 {found} 不属于 {entity} 的任何流程",
        "Use one of the states of its flows: {expected}.",
        "请使用其流程中的状态：{expected}。",
    ),
    "seed.E011": _m(
        "the step {found} is not a transition of any flow of {entity}",
        "步骤 {found} 不是 {entity} 任何流程的流转",
        "Name the step after one of its transitions: {expected}.",
        "请以其流程中的流转命名步骤：{expected}。",
    ),
    "seed.E012": _m(
        "{entity} has no action {found}",
        "{entity} 没有名为 {found} 的操作",
        "Use one of the actions the entity declares: {expected}.",
        "请使用该实体声明的操作：{expected}。",
    ),
    "seed.E013": _m(
        "the link {found} of {entity} is not a reference to {target}",
        "{entity} 的 link {found} 不是指向 {target} 的引用字段",
        "Name a reference field of {entity} whose entity is {target}: {expected}.",
        "请填写 {entity} 中指向 {target} 的引用字段：{expected}。",
    ),
    "seed.E014": _m(
        "the prefix {found} cannot start the field {field} of type {type}: {reason}",
        "前缀 {found} 不能作为 {type} 类型字段 {field} 的开头：{reason}",
        "Shorten the prefix or use only the characters the type allows; the seeder draws the rest and the check character.",
        "请缩短前缀，或只使用该类型允许的字符；其余字符和校验位由系统生成。",
    ),
}
MESSAGES.update((code, Message(*texts)) for code, texts in FLOW_MESSAGES.items())

#: Prefix of a hint when a close match to the value found exists.
SUGGESTION = Message("Did you mean {suggestion}? ", "是否应为 {suggestion}？", "", "")
