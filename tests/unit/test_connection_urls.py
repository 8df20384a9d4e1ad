"""Redis URLs: one server, a cluster, a Sentinel set; bad ones named, passwords never shown."""

from __future__ import annotations

import pytest
from redis.cluster import RedisCluster
from redis.exceptions import AuthenticationError
from redis.sentinel import MasterNotFoundError

from floq.errors import ConfigurationError, FloqError
from floq.settings import Settings
from floq.store import embedded
from floq.store.connection import connect, is_cluster, redacted, refused
from floq.store.outage import OutageRetry, _reached, described


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+cluster://", "host:port"),
        ("redis+cluster://127.0.0.1:notaport", "bad port"),
        ("redis+cluster://127.0.0.1:7000/3", "database 0 only"),
        ("redis+sentinel://127.0.0.1:26379", "/service"),
        ("redis+sentinel://127.0.0.1:26379/svc/x", "database number"),
        ("redis://127.0.0.1:6379/abc", "bad database number 'abc'"),  # redis-py ignored it
        ("rediss://127.0.0.1:6379/0/1", "bad database number"),
    ],
)
def test_a_bad_url_is_named_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        connect(url)
    assert url in str(raised.value) and reason in str(raised.value)


def test_an_unreachable_cluster_names_its_url() -> None:
    closed_port = embedded.free_port()  # bound and released: nothing listens
    url = f"redis+cluster://u:secret@127.0.0.1:{closed_port}"
    with pytest.raises(FloqError) as raised:
        connect(url, connect_timeout=0.5)
    assert f"127.0.0.1:{closed_port}" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_a_sentinel_client_is_built_without_asking_the_sentinels() -> None:
    client = connect("redis+sentinel://u:pw@127.0.0.1:1,127.0.0.1:2/mymaster/2")
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["db"], kwargs["username"], kwargs["password"]) == (2, "u", "pw")
    assert client.connection_pool.service_name == "mymaster"


def test_passwords_are_redacted_in_every_scheme() -> None:
    for scheme in ("redis", "rediss", "redis+cluster", "redis+sentinel"):
        shown = redacted(f"{scheme}://user:hunter2@h1:1,h2:2/x")
        assert shown == f"{scheme}://user:***@h1:1,h2:2/x"


def test_settings_take_cluster_and_sentinel_urls_but_rq_needs_one_server() -> None:
    env = {"FLOQ_REDIS_URL": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"}
    assert is_cluster(Settings.from_env(env).redis_url or "")
    env["FLOQ_FLOW_RUN_REDIS_URL"] = "redis+sentinel://127.0.0.1:26379/m"
    with pytest.raises(ConfigurationError, match="FLOQ_FLOW_RUN_REDIS_URL must name one server"):
        Settings.from_env(env)
    with pytest.raises(ConfigurationError, match="FLOQ_REDIS_URL must start with one of"):
        Settings.from_env({"FLOQ_REDIS_URL": "http://u:pw@x"})
    assert not is_cluster("redis://127.0.0.1:7000")


def test_a_cluster_url_builds_a_cluster_client(cluster_url: str) -> None:
    client = connect(cluster_url)
    assert isinstance(client, RedisCluster) and len(client.get_primaries()) == 3


@pytest.mark.parametrize(
    ("url", "user"),
    [("redis://alice:s3cret@h:1/0", "'alice'"), ("redis://:s3cret@h:1", "'default'"),
     ("redis+cluster://bob:s3cret@h:1,h:2", "'bob'")],
)  # fmt: skip
def test_a_refused_user_is_named_never_its_password(url: str, user: str) -> None:
    message = refused(url, AuthenticationError("invalid username-password pair."))
    assert f"refused user {user}" in message and "s3cret" not in message, message


def test_a_wrong_password_is_not_waited_for_as_an_outage() -> None:
    retry = OutageRetry("redis://alice:***@h:1", 60.0)
    calls: list[int] = []

    def ping() -> None:
        calls.append(1)
        raise AuthenticationError("invalid username-password pair")

    _reached.add(retry.server)  # a server that answered before: outages are waited for
    try:
        with pytest.raises(AuthenticationError):
            retry.call_with_retry(ping, lambda error: None)
    finally:
        _reached.discard(retry.server)
    assert calls == [1]


@pytest.mark.parametrize(
    "url", ["redis://h:1", "redis://h:1/", "redis://h:1/7", "unix:///tmp/r.sock"]
)
def test_a_url_with_or_without_a_database_number_is_taken(url: str) -> None:
    connect(url)  # builds a client; nothing is sent until it is used


def test_a_lost_sentinel_master_is_described_without_the_client_repr() -> None:
    raw = ("No master found for 'mymaster' : <redis.client.Redis(<redis.connection.ConnectionPool("
           "<redis.connection.Connection(db=0,password=<REDACTED>,host=127.0.0.1,port=1)>)>)> - "
           "network:ConnectionError")  # fmt: skip
    assert described(MasterNotFoundError(raw)) == (
        "MasterNotFoundError: No master found for 'mymaster' (network:ConnectionError)"
    )
    assert described(ConnectionError("refused")) == "ConnectionError: refused"
