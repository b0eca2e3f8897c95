"""`[models.tuf]` in a gateway config: paths resolved, a missing pinned root named, the TUF fetcher chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent._errors import ConfigError
from edge_agent.config import load_config
from edge_agent.fetcher import LocalDirFetcher, RetryingFetcher
from edge_agent.fetchers.tuf_fetcher import TufFetcher
from tests.agent.helpers import agent_config, simulated


def _with_tuf(config: Path, trusted_root: str) -> Path:
    tuf = f'[models.tuf]\nurl = "https://hub.example:8443/tuf"\ntrusted_root = "{trusted_root}"\n'
    text = config.read_text() + "\n" + tuf
    config.write_text(text)
    return config


def _config(tmp_path: Path, pki, mosquitto, keys_dir: Path, bundles: Path) -> Path:
    gateway = pki.unique_gateway_id("tufcfg")
    return agent_config(tmp_path / "cfg", gateway, mosquitto, pki.issue(gateway), keys_dir / "release.pub",
                        bundles, [simulated("p1", 1)])


def test_a_tuf_section_selects_the_tuf_fetcher(tmp_path, pki, mosquitto, keys_dir, bundles) -> None:
    from edge_agent.agent import Agent

    config = _with_tuf(_config(tmp_path, pki, mosquitto, keys_dir, bundles), "root.json")
    (config.parent / "root.json").write_text("{}")
    loaded = load_config(config, check_files=True)
    assert loaded.agent.models.tuf is not None
    assert loaded.agent.models.tuf.trusted_root == config.parent / "root.json"
    agent = Agent(loaded)
    try:
        fetcher = agent.manager.fetcher
        assert isinstance(fetcher, RetryingFetcher) and fetcher.attempts == 5  # the default
        assert isinstance(fetcher.inner, TufFetcher)
    finally:
        agent.outbox.close()


def test_without_a_tuf_section_the_local_directory_is_used(tmp_path, pki, mosquitto, keys_dir, bundles) -> None:
    from edge_agent.agent import Agent

    agent = Agent(load_config(_config(tmp_path, pki, mosquitto, keys_dir, bundles), check_files=True))
    try:
        fetcher = agent.manager.fetcher
        assert isinstance(fetcher, RetryingFetcher) and isinstance(fetcher.inner, LocalDirFetcher)
    finally:
        agent.outbox.close()


def test_a_missing_pinned_root_is_named(tmp_path, pki, mosquitto, keys_dir, bundles) -> None:
    config = _with_tuf(_config(tmp_path, pki, mosquitto, keys_dir, bundles), "missing-root.json")
    with pytest.raises(ConfigError) as info:
        load_config(config, check_files=True)
    assert info.value.field == "models.tuf.trusted_root"
