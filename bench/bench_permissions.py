"""Time permission decisions over 10,000 policy lines, and show the plan of a scoped list.

Run with `.venv/bin/python bench/bench_permissions.py [--database sqlite|postgresql]`.
The benchmark writes an application to a temporary folder. It has 50 entities and 40 roles,
of which three in four inherit the one before. Its org tree has 86 units (head office, 5
regions, 20 branches, 60 departments), and its YAML grants 4 actions to every role on every
entity (8,000 lines). The benchmark then writes 2,000 admin lines straight into Casbin's
table (1,800 allows limited to a region or a branch, 200 denies) and 200 users in the tree
with one to three roles each, and loads the PermissionStore once. It then measures:

1. `PermissionStore.allows` over a request mix in which each user works on a few entities
   (popular entities more often) with mostly reads: the first pass, which fills the
   decision memo, and then passes served from the memo;
2. `store.enforcer.enforce`, the Casbin decision the memo saves, for a few seconds;
3. one list page of `RecordService.list` through `PolicyAccess` for a user whose read
   scope is "unit_and_below", seated in a region and then in a department, over `--rows`
   records spread over the tree, with the query plan of its SQL.

SQLite uses a file in the temporary folder. PostgreSQL uses a database created through
the `postgres` database on 127.0.0.1:5432 and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from bench_records import StatementCounter, bench_database, percentile, print_machine, print_plan
from sqlalchemy import Engine, insert

from metamodel import load_app
from metamodel.model import STANDARD_ACTIONS, AppModel
from runtime.access import Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.database import make_engine
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.record_query import ListQuery
from runtime.records import RecordService
from runtime.schema import Schema, build_schema

DECISIONS_TARGET_PER_SECOND = 200_000
ENTITIES = 50
ROLES = 40
YAML_ACTIONS_PER_GRANT = 4
ADMIN_DENIES = 200
USERS = 200
SCOPES = ("own", "unit", "unit_and_below", "all")
SYSTEM = Actor(id="bench", roles=("system",))

#: Weight of each action in the request mix: mostly reads, as list and detail pages send.
ACTION_WEIGHTS = {"read": 70, "update": 10, "create": 8, "print": 5, "export": 4, "delete": 2, "import": 1}


# The application -----------------------------------------------------------------


def entity_name(number: int) -> str:
    return f"entity_{number:02d}"


def role_name(number: int) -> str:
    return f"role_{number:02d}"


def org_tree() -> dict[str, str | None]:
    """Head office, 5 regions, 4 branches each, 3 departments each: 86 units."""
    parents: dict[str, str | None] = {"hq": None}
    for region in range(5):
        region_name = f"region_{region}"
        parents[region_name] = "hq"
        for branch in range(4):
            branch_name = f"{region_name}_branch_{branch}"
            parents[branch_name] = region_name
            for department in range(3):
                parents[f"{branch_name}_dept_{department}"] = branch_name
    return parents


def yaml_actions(role: int, entity: int) -> list[str]:
    return [STANDARD_ACTIONS[(role + entity + index) % len(STANDARD_ACTIONS)] for index in range(YAML_ACTIONS_PER_GRANT)]


def yaml_scope(role: int, entity: int) -> str:
    return SCOPES[(role * 7 + entity) % len(SCOPES)]


def write_app(root: Path, tree: dict[str, str | None]) -> Path:
    (root / "entities").mkdir(parents=True)
    (root / "permissions").mkdir()
    (root / "app.yaml").write_text("name: bench_permissions\nlabel: {zh-CN: 权限基准, en: Permission benchmark}\n", encoding="utf-8")
    for number in range(ENTITIES):
        (root / "entities" / f"{entity_name(number)}.yaml").write_text(textwrap.dedent(f"""\
            name: {entity_name(number)}
            label: {{zh-CN: 实体{number}, en: Entity {number}}}
            fields:
              - {{name: title, type: string, label: {{zh-CN: 标题, en: Title}}, required: true, length: {{max: 100}}}}
              - {{name: amount, type: money, label: {{zh-CN: 金额, en: Amount}}, min: 0}}
            """), encoding="utf-8")

    roles = []
    for number in range(ROLES):
        inherits = f", inherits: [{role_name(number - 1)}]" if number % 4 else ""
        roles.append(f"  - {{name: {role_name(number)}, label: {{zh-CN: 角色{number}, en: Role {number}}}{inherits}}}")

    def unit_yaml(name: str, depth: int) -> list[str]:
        pad = "  " * depth
        kind = "company" if name == "hq" else "department" if "_dept_" in name else "branch"
        lines = [f"{pad}- name: {name}", f"{pad}  label: {{zh-CN: {name}, en: {name}}}", f"{pad}  kind: {kind}"]
        children = [child for child, parent in tree.items() if parent == name]
        if children:
            lines.append(f"{pad}  children:")
            for child in children:
                lines.extend(unit_yaml(child, depth + 2))
        return lines

    grants = [
        f"  - {{role: {role_name(role)}, entity: {entity_name(entity)}, actions: [{', '.join(yaml_actions(role, entity))}], "
        f"scope: {yaml_scope(role, entity)}}}"
        for role in range(ROLES) for entity in range(ENTITIES)
    ]
    text = "roles:\n" + "\n".join(roles) + "\norg_units:\n" + "\n".join(unit_yaml("hq", 1)) + "\ngrants:\n" + "\n".join(grants) + "\n"
    (root / "permissions" / "access.yaml").write_text(text, encoding="utf-8")
    return root


# Admin lines and users, written straight into their tables --------------------------


def admin_lines(tree: dict[str, str | None], generator: random.Random) -> list[dict[str, str]]:
    """One admin line per role and entity: allows of an action the YAML leaves out, in a region or branch,
    and ADMIN_DENIES denies of an action the YAML grants, in a region."""
    regions = [unit for unit, parent in tree.items() if parent == "hq"]
    branches = [unit for unit, parent in tree.items() if parent in regions]
    pairs = [(role, entity) for role in range(ROLES) for entity in range(ENTITIES)]
    denied = set(generator.sample(pairs, ADMIN_DENIES))
    rows = []
    for role, entity in pairs:
        granted = yaml_actions(role, entity)
        if (role, entity) in denied:
            values = (role_name(role), generator.choice(regions), entity_name(entity), generator.choice(granted), "all", "deny")
        else:
            action = generator.choice([action for action in STANDARD_ACTIONS if action not in granted])
            unit = generator.choice(regions + branches)
            values = (role_name(role), unit, entity_name(entity), action, generator.choice(SCOPES), "allow")
        rows.append({"ptype": "p", **{f"v{index}": value for index, value in enumerate(values)}})
    return rows


def add_users(engine: Engine, schema: Schema, tree: dict[str, str | None], generator: random.Random) -> dict[str, Actor]:
    """Place USERS users in the tree (most in departments), each with one to three roles in their unit or its parent."""
    departments = [unit for unit in tree if "_dept_" in unit]
    branches = [unit for unit in tree if unit.endswith(tuple(f"_branch_{number}" for number in range(4)))]
    regions = [unit for unit, parent in tree.items() if parent == "hq"]
    now = datetime.datetime.now(datetime.timezone.utc)
    users, assignments, actors = [], [], {}
    for number in range(USERS):
        pool = generator.choices([departments, branches, regions], weights=[70, 20, 10])[0]
        unit = generator.choice(pool)
        user = f"user_{number:03d}"
        roles = generator.sample(range(ROLES), generator.choice([1, 1, 2, 3]))
        granted: set[tuple[str, str]] = set()
        for role in roles:
            where = tree[unit] if generator.random() < 0.2 and tree[unit] else unit
            granted.add((role_name(role), where))
        users.append({"id": user, "username": user, "display_name": f"用户{number}", "org_unit": unit, "active": True, "created_at": now})
        assignments.extend({"user_id": user, "role": role, "org_unit": where} for role, where in sorted(granted))
        actors[user] = Actor(id=user, name=user, roles=tuple(sorted(role for role, _ in granted)), org_unit=unit)
    with engine.begin() as connection:
        connection.execute(insert(schema.access.users), users)
        connection.execute(insert(schema.access.user_roles), assignments)
    return actors


# 1 and 2. Decisions ---------------------------------------------------------------------


def request_mix(actors: dict[str, Actor], count: int, working_set: int, generator: random.Random) -> list[tuple[Actor, str, str]]:
    """Return `count` requests: a user, then one of the user's few entities (popular ones more often), then an action."""
    entity_weights = [1 / (rank + 1) for rank in range(ENTITIES)]
    entities = [entity_name(number) for number in range(ENTITIES)]
    worked_on = {}
    for user in actors:
        chosen: set[str] = set()
        while len(chosen) < working_set:
            chosen.add(generator.choices(entities, weights=entity_weights)[0])
        worked_on[user] = sorted(chosen)
    users = list(actors)
    actions = list(ACTION_WEIGHTS)
    picked_actions = generator.choices(actions, weights=list(ACTION_WEIGHTS.values()), k=count)
    requests = []
    for index in range(count):
        user = generator.choice(users)
        requests.append((actors[user], picked_actions[index], generator.choice(worked_on[user])))
    return requests


def time_allows(store: PermissionStore, requests: list[tuple[Actor, str, str]]) -> tuple[float, int]:
    allows = store.allows
    granted = 0
    started = time.perf_counter()
    for actor, action, entity in requests:
        granted += allows(actor, action, entity)
    return time.perf_counter() - started, granted


def time_enforce(store: PermissionStore, requests: list[tuple[Actor, str, str]], seconds: float) -> tuple[int, float]:
    """Call Casbin directly, without the memo, until `seconds` pass; return the count and the seconds taken."""
    enforce = store.enforcer.enforce
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while done < len(requests) and time.perf_counter() < deadline:
        actor, action, entity = requests[done]
        enforce(actor.id, actor.org_unit, entity, action)
        done += 1
    return done, time.perf_counter() - started


# 3. A scoped list ------------------------------------------------------------------------


def unit_and_below_role(store: PermissionStore, model: AppModel) -> tuple[str, str]:
    """Find a role without parents whose only read line on some entity is a YAML line with the scope unit_and_below."""
    lines = store.lines()
    for role in (role_name(number) for number in range(0, ROLES, 4)):
        for entity in model.entities:
            reads = [line for line in lines if line.role == role and line.entity == entity and line.action == "read"]
            if reads and all(line.scope == "unit_and_below" and line.effect == "allow" and line.unit == "*" for line in reads):
                return role, entity
    raise RuntimeError("no role reads an entity with the scope unit_and_below only")


def seat(store: PermissionStore, user: str, role: str, unit: str) -> Actor:
    admin = PermissionAdmin(store)
    admin.add_user(SYSTEM, user, user, user, unit)
    admin.assign(SYSTEM, user, role, unit)
    return Actor(id=user, name=user, roles=(role,), org_unit=unit)


def load_rows(engine: Engine, schema: Schema, entity: str, rows: int, tree: dict[str, str | None], generator: random.Random) -> None:
    table = schema.entities[entity].table
    units = list(tree)
    now = datetime.datetime.now(datetime.timezone.utc)
    loaded = 0
    while loaded < rows:
        chunk = []
        for number in range(loaded, min(rows, loaded + 10_000)):
            created = now - datetime.timedelta(seconds=generator.uniform(0, 365 * 24 * 3600))
            chunk.append({"created_at": created, "created_by": f"user_{number % USERS:03d}", "updated_at": created,
                          "updated_by": "loader", "org_unit": generator.choice(units), "version": 1, "deleted_at": None,
                          "title": f"row {number}", "amount": number % 10_000})
        with engine.begin() as connection:
            connection.execute(insert(table), chunk)
        loaded += len(chunk)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


# Main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=500_000, help="requests in the mix (default: 500,000)")
    parser.add_argument("--working-set", type=int, default=2, help="entities each user works on (default: 2)")
    parser.add_argument("--passes", type=int, default=5, help="timed passes over the mix after the first (default: 5)")
    parser.add_argument("--enforce-seconds", type=float, default=5.0, help="time limit of the direct Casbin calls (default: 5)")
    parser.add_argument("--rows", type=int, default=200_000, help="records for the scoped list (default: 200,000)")
    arguments = parser.parse_args()
    if arguments.requests < 1 or arguments.passes < 1 or not 1 <= arguments.working_set <= ENTITIES or arguments.rows < 1:
        parser.error(f"--requests, --passes and --rows must be at least 1, --working-set between 1 and {ENTITIES}")

    with tempfile.TemporaryDirectory(prefix="md_bench_") as folder, bench_database(arguments.database, Path(folder)) as url:
        engine = make_engine(url)
        try:
            run(engine, Path(folder), arguments)
        finally:
            engine.dispose()


def run(engine: Engine, folder: Path, arguments: argparse.Namespace) -> None:
    print_machine(engine)
    generator = random.Random(2026)
    tree = org_tree()
    started = time.perf_counter()
    model = load_app(write_app(folder / "app", tree))
    schema = build_schema(model)
    migrate(engine, schema, model, backup_root=folder / "backups")
    store = PermissionStore(model, schema, engine)
    admin = PermissionAdmin(store)
    with engine.begin() as connection:
        connection.execute(insert(admin.rules), admin_lines(tree, generator))
    actors = add_users(engine, schema, tree, generator)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    store.load()
    loading = time.perf_counter() - started
    lines = store.lines()
    origins = {origin: sum(1 for line in lines if line.origin == origin) for origin in ("yaml", "admin")}
    denies = sum(1 for line in lines if line.effect == "deny")
    print(f"\n{len(lines):,} policy lines ({origins['yaml']:,} from YAML, {origins['admin']:,} admin, {denies} of them deny), "
          f"{len(model.permissions.roles)} roles, {len(tree)} org units, {len(actors)} users; "
          f"setup {setup:.1f} s, PermissionStore.load() {loading:.2f} s")

    requests = request_mix(actors, arguments.requests, arguments.working_set, generator)
    distinct = len({(actor.id, actor.org_unit, entity, action) for actor, action, entity in requests})
    first, granted = time_allows(store, requests)
    print(f"\nrequest mix: {len(requests):,} requests, {len(actors)} users x {arguments.working_set} entities each, "
          f"{distinct:,} distinct (user, unit, entity, action); {granted / len(requests):.0%} allowed")
    print(f"first pass (fills the memo: {distinct:,} Casbin decisions): {first:.1f} s = {len(requests) / first:,.0f} decisions/s")
    durations = []
    for _ in range(arguments.passes):
        elapsed, again = time_allows(store, requests)
        if again != granted:
            raise RuntimeError("a memoized pass returned other decisions than the first pass")
        durations.append(elapsed)
    rate = len(requests) / statistics.median(durations)
    print(f"memoized passes: median {statistics.median(durations) * 1000:.0f} ms per {len(requests):,} = {rate:,.0f} decisions/s, "
          f"best {len(requests) / min(durations):,.0f}/s (target: {DECISIONS_TARGET_PER_SECOND:,}/s)")

    done, elapsed = time_enforce(store, requests, arguments.enforce_seconds)
    print(f"Casbin enforce without the memo: {done:,} in {elapsed:.2f} s = {done / elapsed:,.1f} decisions/s, "
          f"{elapsed / done * 1000:.1f} ms each")

    role, entity = unit_and_below_role(store, model)
    print(f"\nloading {arguments.rows:,} {entity} records over {len(tree)} units (setup, not measured)")
    load_rows(engine, schema, entity, arguments.rows, tree, generator)
    records = RecordService(model, schema, engine, access=PolicyAccess(store, schema), keys=KeyRing.generate())
    counter = StatementCounter(engine)
    for user, unit in (("region_reader", "region_0"), ("department_reader", "region_0_branch_0_dept_0")):
        reader = seat(store, user, role, unit)
        visible = len(store.tree.and_below(unit))
        page = records.list(reader, entity, ListQuery(limit=20))
        if counter.last_select is None:
            raise RuntimeError("the list sent no SELECT")
        statement, parameters = counter.last_select
        print(f"\nscoped list of {entity}: {user} ({role}, read scope unit_and_below) in {unit}, "
              f"{visible} of {len(tree)} units; first page {len(page.rows)} rows")
        print("list SQL:")
        print(textwrap.indent(statement.strip(), "  "))
        print(f"  parameters: {parameters!r}")
        print_plan(engine, statement, parameters, "query plan")
        print_list_timing(records, reader, entity)
    unscoped = RecordService(model, schema, engine, access=SystemAccess(), keys=records.keys)
    print_list_timing(unscoped, SYSTEM, entity, label="\nthe same page without a scope (system actor)")


def print_list_timing(records: RecordService, actor: Actor, entity: str, label: str = "scoped list page") -> None:
    for _ in range(20):
        records.list(actor, entity, ListQuery(limit=20))
    durations: list[float] = []
    for _ in range(200):
        started = time.perf_counter()
        records.list(actor, entity, ListQuery(limit=20))
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    print(f"{label}, 200 calls: p50 {percentile(durations, 0.5):.2f} ms, p99 {percentile(durations, 0.99):.2f} ms")


if __name__ == "__main__":
    main()
