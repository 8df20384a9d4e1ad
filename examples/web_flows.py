"""The flow that examples/web_app.py enqueues. It lives in a module of its own so that
flow-workers can import it: start them with examples/ on their PYTHONPATH.
"""

from floq import flow, task


@task
def count_words(line: str) -> int:
    return len(line.split())


@task
def count_characters(text: str) -> int:
    return len(text)


@flow
def word_stats(text: str) -> dict[str, int]:
    """Lines, words (one task run per line) and characters of ``text``."""
    lines = text.splitlines()
    words = count_words.map(lines)
    characters = count_characters.submit(text)
    return {
        "lines": len(lines),
        "words": sum(future.result() for future in words),
        "characters": characters.result(),
    }
