"""The message and hint of every flow and approval-routing diagnostic code, in English and Simplified Chinese.

metamodel/messages.py merges these into MESSAGES. Each entry contains the four texts of a
`Message` in its order (message, Chinese message, hint, Chinese hint), and its templates
follow the rules described in that module.
"""

from __future__ import annotations

FLOW_MESSAGES: dict[str, tuple[str, str, str, str]] = {
    # Flows
    "flow.E001": (
        "the flow has no initial state",
        "流程没有初始状态",
        "Mark exactly one state with initial: true.",
        "请把其中一个状态标记为 initial: true。",
    ),
    "flow.E002": (
        "the flow has more than one initial state: {found}",
        "流程有多个初始状态：{found}",
        "Keep initial: true on one state only.",
        "只保留一个状态的 initial: true。",
    ),
    "flow.E003": (
        "the transition {found} leaves the final state {state}",
        "流转 {found} 从终态 {state} 出发",
        "Remove the final state from the transition's from, or drop final: true from the state.",
        "请从该流转的 from 中删除终态，或去掉该状态的 final: true。",
    ),
    "flow.E004": (
        "the entity {found} has {count} flows, so each of them needs applies_when",
        "实体 {found} 有 {count} 个流程，每个流程都需要 applies_when",
        "Add applies_when to each flow of the entity, for example category.flow == 'standard'.",
        "请为该实体的每个流程添加 applies_when，例如 category.flow == 'standard'。",
    ),
    "flow.E005": (
        "the transition {found} is a rejection, but its target state {state} is not final",
        "流转 {found} 的类型是 reject（拒绝），但目标状态 {state} 不是终态",
        "A rejection ends the record: change its target (to) to a final state, or mark {state} with final: true.",
        "拒绝会结束记录：请把目标状态（to）改为终态，或为 {state} 设置 final: true。",
    ),
    "flow.E006": (
        "the transition {found} is a withdrawal, which whoever submitted the record fires alone, so it cannot have an approval",
        "流转 {found} 的类型是 withdraw（撤回），由提交记录的人自行执行，不能设置 approval",
        "Remove approval, or change kind if others must decide.",
        "请删除 approval；如果需要他人审批，请修改 kind。",
    ),
    "flow.E007": (
        "the SLA of \"{transition}\" fires {found} when it runs out, but {found} {problem}",
        "流转 \"{transition}\" 的时限到期后会执行 {found}，但 {found}{problem_zh}",
        "Name a transition without an approval that starts where {transition} starts.",
        "请改为一个没有 approval、且与 {transition} 起点相同的流转。",
    ),
    "flow.E008": (
        "the SLA of {found} has neither hours nor working_days, so it never runs out and its reminder, escalation and expiry never happen",
        "流转 {found} 的时限（sla）既没有 hours 也没有 working_days，因此永远不会到期，提醒、升级和到期流转都不会发生",
        "Add hours (a number of hours) or working_days (a number of working days), or remove sla.",
        "请添加 hours（小时数）或 working_days（工作日数），或删除 sla。",
    ),
    "flow.E009": (
        "the SLA of \"{transition}\" reminds {before} hours before it runs out, but it lasts only {hours} hours, "
        "so the reminder would be sent as soon as the step starts",
        "流转 \"{transition}\" 的时限在到期前 {before} 小时提醒，但时限只有 {hours} 小时，提醒会在进入该步骤时立即发出",
        "Make remind_before_hours smaller than hours ({hours}), or remove it.",
        "请把 remind_before_hours 改为小于 hours（{hours}）的值，或删除它。",
    ),
    "flow.W001": (
        "no path of transitions leads from the initial state {initial} to the state {found}",
        "从初始状态 {initial} 出发，没有任何流转路径能到达状态 {found}",
        "Add a transition whose to is {found}, or remove the state.",
        "请添加 to 为 {found} 的流转，或删除该状态。",
    ),
    "flow.W002": (
        "no transition leaves the state {found}, which is not final, so records that reach it stay there",
        "没有流转离开状态 {found}，而它不是终态，进入该状态的记录将停留在此",
        "Add a transition from {found}, or mark it final: true if records end there (a final state locks their fields).",
        "请添加从 {found} 出发的流转；如果记录在此结束，请设置 final: true（终态下字段不可修改）。",
    ),
    "flow.W003": (
        "no role is granted the action {found} on {entity}, so nobody can fire this transition",
        "没有任何角色被授予实体 {entity} 的操作 {found}，因此无人能执行该流转",
        "Add {found} to the actions of a grant on {entity} in permissions/.",
        "请在 permissions/ 中为 {entity} 的某条授权的 actions 添加 {found}。",
    ),
    "flow.W004": (
        "{path} names the role {found}, which is not granted the action {action} on {entity}, directly or through inherits",
        "{path} 中的角色 {found} 没有实体 {entity} 的操作 {action} 的授权（包括继承的）",
        "Grant {action} on {entity} to {found} in permissions/, or remove the role here.",
        "请在 permissions/ 中把 {entity} 的 {action} 授予 {found}，或从此处删除该角色。",
    ),
    "flow.W005": (
        "the transition {found} returns to {state}, which does not come before {sources} in the flow",
        "流转 {found} 退回到 {state}，但在流程中该状态并不在 {sources} 之前",
        "A return goes back to a state the record has already passed through, and no forward path leads from {state} "
        "to {sources}: change its target (to) to an earlier state, or use kind: normal.",
        "退回只能回到记录已经过的状态，而从 {state} 出发没有正向流转能到达 {sources}：请把目标状态（to）改为更早的状态，或改用 kind: normal。",
    ),
    "flow.W006": (
        "the SLA of \"{transition}\" reminds {before} hours before it runs out, but working_days: {days} can last as little as "
        "{hours} hours, so the reminder may be sent as soon as the step starts",
        "流转 \"{transition}\" 的时限在到期前 {before} 小时提醒，但 {days} 个工作日最短只有 {hours} 小时，提醒可能在进入该步骤时立即发出",
        "Make remind_before_hours smaller than {hours} (working_days × 24); a step that spans a weekend or a holiday lasts longer.",
        "请把 remind_before_hours 改为小于 {hours}（working_days × 24）的值；跨越周末或节假日的步骤会更长。",
    ),
    # Approval routing tables
    "routing.E001": (
        "no rule of the routing table matches {cell}{more}",
        "路由表中没有规则匹配 {cell}{more}",
        "Exactly one rule must match every record: add a rule for these values, or widen a neighbouring one "
        "(min and max include their bound, above and below exclude it).",
        "每条记录必须恰好匹配一条规则：请为这些取值添加规则，或放宽相邻规则的范围（min 和 max 包含边界，above 和 below 不包含）。",
    ),
    "routing.E002": (
        "{rules} of the routing table all match {cell}{more}",
        "路由表的规则 {rules} 同时匹配 {cell}{more}",
        "Exactly one rule must match every record: narrow these rules so that they share no values; "
        "use above or below to leave out a bound that another rule includes.",
        "每条记录必须恰好匹配一条规则：请收窄这些规则，使它们没有共同的取值；可用 above 或 below 排除另一条规则已包含的边界。",
    ),
    "routing.E003": (
        "{path} names the input {found}, which the routing table does not declare",
        "{path} 引用的输入 {found} 未在路由表的 inputs 中声明",
        "Declare it under inputs with an expression, or use one of: {expected}.",
        "请在 inputs 中用表达式声明它，或使用：{expected}。",
    ),
    "routing.E004": (
        "{path} names the level {found}, which the approval does not declare",
        "{path} 引用的审批级别 {found} 未在该审批的 levels 中声明",
        "Use one of the levels: {expected}.",
        "请使用已声明的级别：{expected}。",
    ),
    "routing.E005": (
        "the range {range} of the input {found} contains no value",
        "输入 {found} 的范围 {range} 不包含任何值",
        "min and max include their bound, above and below exclude it: make the lower bound smaller than the upper one.",
        "min 和 max 包含边界，above 和 below 不包含：请让下限小于上限。",
    ),
    "routing.E006": (
        "{path} gives the input {found} {kind}, but {other} gives it {other_kind}",
        "{path} 为输入 {found} 设置了{kind}，但 {other} 设置的是{other_kind}",
        "An input is compared either by ranges or by lists of values: write it the same way in every rule.",
        "同一输入只能按范围或按取值列表比较：请在所有规则中使用同一种写法。",
    ),
    "routing.E007": (
        "{path} lists {found}, which is not a value of {field}",
        "{path} 中的 {found} 不是 {field} 的可取值",
        "Use the choice values of {field}: {expected}.",
        "请使用 {field} 的选项值：{expected}。",
    ),
    "routing.E008": (
        "{path} gives the input {found} a range, but {field} is a {type} field, which holds no numbers",
        "{path} 为输入 {found} 设置了范围，但 {field} 是 {type} 类型的字段，不是数值",
        "Ranges compare numbers: list the values that match instead, as in [a, b].",
        "范围只能比较数值：请改为列出匹配的取值，例如 [a, b]。",
    ),
    "routing.W002": (
        "{field} is not required, so the routing input {found} may be empty, and no rule matches a record whose {found} is empty{cell}",
        "{field} 不是必填字段，路由输入 {found} 可能为空，而没有规则匹配 {found} 为空{cell}的记录",
        "Such a record cannot be approved. Mark {field} required: true, or route these values only by rules that do not name "
        "{found}: a rule matches an input it does not name even when that input is empty.",
        "这样的记录无法审批。请为 {field} 设置 required: true；或让这些取值只由不含 {found} 的规则路由：规则未列出的输入即使为空也能匹配。",
    ),
    "routing.W001": (
        "the inputs of the routing table combine into {found} cells, more than {expected}, so its coverage was not checked",
        "路由表的输入组合成 {found} 个单元，超过 {expected}，因此未检查其覆盖情况",
        "Use fewer distinct bounds, values or inputs; until then make sure yourself that exactly one rule matches every record.",
        "请减少不同的边界、取值或输入；在此之前请自行确认每条记录恰好匹配一条规则。",
    ),
}
