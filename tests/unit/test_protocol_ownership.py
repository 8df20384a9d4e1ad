"""The task-run protocol has one owner: no module outside ``floq/store/protocol`` (and the key
layout, ``floq/store/keys.py``) calls a script, builds a key, names a hash or entry field, or
sends a command on the protocol's streams, sets and hashes."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "floq"
OWNERS = ("store/protocol/", "store/keys.py")
_KEYS = "queue|queue_prefix|flow_prefix|task|run|task_index|events|runs|code|results|retries"
_KEYS += "|cancelled|dead|worker|workers|served|kept|state_index|state_index_prefix|flow_index"
_KEYS += "|queue_index|flow_names|queue_names|index_scratch"
_FIELDS = "r|i|p|q|u|w|n|c|e|nm|st|s|f|k|m|a|z|x|rc|t"
FORBIDDEN = {
    "a script call": r"\bevalsha\b|\bScripts\b|scripts\.call\b|store\.protocol\.scripts",
    "a key builder": rf"\bkeys\.({_KEYS})\b|\bGROUP\b",
    "a hash command": r"\.h(get|mget|set|incrby|getall|del)\(",
    "a field literal": rf"\bb[\"']({_FIELDS})[\"']|[\"']({_FIELDS})[\"']\s*:",
    "a stream command": r"\.x(add|readgroup|read|ack|del|claim|pending|pending_range|len"
    r"|info_consumers|group_create)\(",
    "a set command": r"\.(z(add|range|rangebyscore|rem|card|revrange)|smembers|sadd|srem"
    r"|lrange|rpush)\(",
}


def violations(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(OWNERS):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for what, pattern in FORBIDDEN.items():
                if re.search(pattern, line):
                    found.append(f"src/floq/{relative}:{number}: {what}: {line.strip()}")
    return found


def test_only_the_protocol_knows_keys_fields_and_scripts() -> None:
    found = violations()
    assert not found, "outside floq.store.protocol:\n" + "\n".join(found)


def test_the_check_finds_what_it_forbids(tmp_path: Path) -> None:
    (tmp_path / "store" / "protocol").mkdir(parents=True)
    (tmp_path / "store" / "protocol" / "owner.py").write_text('client.hget(key, "s")\n')
    (tmp_path / "caller.py").write_text(
        'ok = 1\nscripts.call(pipe, "submit", [], [])\nclient.hget(keys.task(a, b), "s")\n'
        'fields[b"t"]\nclient.xadd(stream, {"t": b"stop"})\n'
    )
    found = violations(tmp_path)
    assert [line.split(":")[1] for line in found] == ["2", "3", "3", "4", "5", "5"], found
    assert found[0].startswith("src/floq/caller.py:2: a script call")
