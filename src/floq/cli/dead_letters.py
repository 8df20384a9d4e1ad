"""``floq dead-letters list | show | requeue | purge``: the queue entries workers refused."""

from __future__ import annotations

import datetime
from typing import Any

import click
from rich.table import Table

from floq.cli.app import FloqGroup, emit, floq_cli, open_store, server_options
from floq.store.protocol import DeadLetter, DeadLetters


def _letters(url: str | None, namespace: str | None) -> DeadLetters:
    store = open_store(url, namespace)
    return DeadLetters(store.client, store.keys)


@floq_cli.group("dead-letters", cls=FloqGroup)
def dead_letters_group() -> None:
    """Queue entries a worker refused (undecodable, forged or unsigned, of a newer floq), with
    the reason: list, show, requeue (after a fix, e.g. of FLOQ_SECRET) and purge them."""


@dead_letters_group.command("list")
@click.option("--queue", help="only this queue's dead letters")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def list_command(
    queue: str | None, limit: int, as_json: bool, url: str | None, namespace: str | None
) -> None:
    """The newest dead letters, newest first: id, when, task run, reason."""
    letters = _letters(url, namespace).list(queue, count=limit)
    if not letters and not as_json:
        click.echo("no dead letters" + (f" on queue {queue}" if queue else ""))
        return
    emit([letter.to_dict() for letter in letters], as_json, _table)


@dead_letters_group.command("show")
@click.argument("letter_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@server_options
def show_command(letter_id: str, as_json: bool, url: str | None, namespace: str | None) -> None:
    """One dead letter: queue, entry, flow run, task run, reason, and what it carried."""
    letter = _letters(url, namespace).get(letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id} (requeued or purged?)")
    emit(letter.to_dict(), as_json, lambda row: _details(letter, row))


@dead_letters_group.command("requeue")
@click.argument("letter_id", metavar="ID")
@server_options
def requeue_command(letter_id: str, url: str | None, namespace: str | None) -> None:
    """Put a dead letter's entry back on its queue for a worker to try again. A letter of a
    task run runs that run again from its record, unless it has ended otherwise since, its
    record expired, or it is queued already; its flow run is not reopened (`floq retry`)."""
    done = _letters(url, namespace).requeue(letter_id)
    run = f" (task run {done.task_run_id})" if done.task_run_id else ""
    click.echo(f"{letter_id}: requeued on {done.queue} as entry {done.entry_id}{run}")


@dead_letters_group.command("purge")
@click.option("--queue", help="only this queue's dead letters")
@click.option("--yes", is_flag=True, help="do not ask")
@server_options
def purge_command(queue: str | None, yes: bool, url: str | None, namespace: str | None) -> None:
    """Delete the dead letters (of one queue, or all)."""
    letters = _letters(url, namespace)
    where = f"queue {queue}" if queue else "every queue"
    if not yes:
        click.confirm(f"delete the dead letters of {where}?", abort=True)
    click.echo(f"purged {letters.purge(queue)} dead letter(s) of {where}")


def _when(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("id", "at", "task run", "reason", box=None, header_style="bold")
    for row in rows:
        table.add_row(row["id"], _when(row["at"]), row["task_run"] or "-", row["reason"])
    return table


def _details(letter: DeadLetter, row: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    carried = (f"payload, {row['payload_bytes']} bytes" if letter.payload is not None
               else f"fields {row['raw']}")  # fmt: skip
    for name, value in (("id", row["id"]), ("at", _when(row["at"])), ("queue", row["queue"]),
                        ("entry", row["entry"]), ("flow run", row["flow_run"] or "-"),
                        ("task run", row["task_run"] or "-"), ("reason", row["reason"]),
                        ("carried", carried)):  # fmt: skip
        table.add_row(name, str(value))
    return table
