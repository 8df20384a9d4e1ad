"""Settings.from_env: parsing, defaults, and errors that name the variable."""

from __future__ import annotations

import dataclasses

import pytest

from floq.errors import ConfigurationError
from floq.settings import Settings


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.redis_url is None
    assert settings.secret is None
    assert settings.log_level == "INFO"
    assert settings.thread_pool_workers == 64


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "FLOQ_REDIS_URL": "redis://example:6380/2",
            "FLOQ_SECRET": "topsecret",
            "FLOQ_LOG_LEVEL": "debug",
            "FLOQ_THREAD_POOL_WORKERS": "8",
            "UNRELATED": "ignored",
        }
    )
    assert settings.redis_url == "redis://example:6380/2"
    assert settings.secret == b"topsecret"
    assert settings.log_level == "DEBUG"
    assert settings.thread_pool_workers == 8


def test_empty_values_mean_default() -> None:
    settings = Settings.from_env({"FLOQ_REDIS_URL": "", "FLOQ_LOG_LEVEL": ""})
    assert settings.redis_url is None
    assert settings.log_level == "INFO"


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOQ_THREAD_POOL_WORKERS", "3")
    assert Settings.from_env().thread_pool_workers == 3


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FLOQ_LOG_LEVEL": "LOUD"}, "FLOQ_LOG_LEVEL"),
        ({"FLOQ_THREAD_POOL_WORKERS": "abc"}, "FLOQ_THREAD_POOL_WORKERS"),
        ({"FLOQ_THREAD_POOL_WORKERS": "0"}, "FLOQ_THREAD_POOL_WORKERS"),
        ({"FLOQ_THREAD_POOL_WORKERS": "-4"}, "FLOQ_THREAD_POOL_WORKERS"),
        ({"FLOQ_THREAD_POOL_WORKERS": "2.5"}, "FLOQ_THREAD_POOL_WORKERS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable) as info:
        Settings.from_env(env)
    assert isinstance(info.value, ValueError)
    assert next(iter(env.values())) in str(info.value)  # and the value it got


def test_settings_are_frozen_and_replace_keeps_unset() -> None:
    settings = Settings.from_env({"FLOQ_LOG_LEVEL": "WARNING"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    changed = settings.replace(thread_pool_workers=2, redis_url=None)
    assert changed.thread_pool_workers == 2
    assert changed.log_level == "WARNING"
    assert settings.thread_pool_workers == 64


def test_replace_validates() -> None:
    with pytest.raises(ConfigurationError, match="FLOQ_LOG_LEVEL"):
        Settings().replace(log_level="NOISY")


def test_a_bad_value_is_named_as_the_user_gave_it() -> None:
    with pytest.raises(ConfigurationError, match=r"^FLOQ_LOG_LEVEL .* got 'loud'$"):
        Settings.from_env({"FLOQ_LOG_LEVEL": "loud"})
    flagged = {"redis_url": "--redis", "namespace": "--namespace"}
    with pytest.raises(ConfigurationError, match=r"^--redis .* got 'notaurl'$"):
        Settings().replace(given_as=flagged, redis_url="notaurl")
    with pytest.raises(ConfigurationError, match=r"^FLOQ_NAMESPACE .* got 'a b'$"):
        Settings().replace(given_as=flagged, redis_url="redis://x", namespace=None).replace(
            namespace="a b"
        )
    ok = Settings().replace(given_as=flagged, namespace="mine")
    assert (ok.label("namespace"), ok.label("redis_url")) == ("--namespace", "FLOQ_REDIS_URL")
