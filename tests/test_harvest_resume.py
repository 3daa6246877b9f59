"""Checkpoints and kill-and-resume of the ``linkeddata harvest`` commands."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkeddata.checkpoints import CHECKPOINT_DIR, harvest_key, list_checkpoints, open_checkpoint
from linkeddata.emulator import Emulator
from linkeddata.harvest import harvest_find, harvest_oai
from linkeddata.http import make_session
from linkeddata.stores import open_store

ROOT = Path(__file__).resolve().parents[1]


def test_checkpoint_roundtrip_and_restart(tmp_path):
    params = {"set": "hold:S", "from": None}
    assert harvest_key("oai", params) == harvest_key("oai", dict(reversed(list(params.items()))))
    cp = open_checkpoint(tmp_path, "oai", params)
    assert cp.state == {} and cp.records == 0
    cp.state["token"] = "abc"
    cp.records = 10
    cp.save()
    files = list((tmp_path / CHECKPOINT_DIR).iterdir())
    assert [f.name for f in files] == [f"{cp.key}.json"]  # no temporary files left behind
    again = open_checkpoint(tmp_path, "oai", params)
    assert again.state == {"token": "abc"} and again.records == 10 and again.started == cp.started
    assert [c.key for c in list_checkpoints(tmp_path)] == [cp.key]
    fresh = open_checkpoint(tmp_path, "oai", params, restart=True)
    assert fresh.state == {} and not (tmp_path / CHECKPOINT_DIR / f"{cp.key}.json").exists()
    (tmp_path / CHECKPOINT_DIR / f"{cp.key}.json").write_text("{broken")
    assert open_checkpoint(tmp_path, "oai", params).state == {}
    assert open_checkpoint(None, "oai", params).path is None


def test_resume_continues_from_saved_token(tmp_path):
    session = make_session(cache=False, rate_limit=None)
    with Emulator(services=["oaipmh"], size=150, oai_page_size=50) as emu, open_store(tmp_path / "kg") as store:
        emu.faults.add("status", service="oaipmh", status=500, path="resumptionToken", after=3, times=None)
        with pytest.raises(Exception):
            harvest_oai(store, session=make_session(cache=False, rate_limit=None, retries=0),
                        base_url=emu.url("oaipmh"), batch_size=50)
        [cp] = list_checkpoints(store.path)
        assert cp.state["token"] and not cp.completed and cp.batches == 4
        emu.faults.clear()
        start = len(emu.request_log)
        summary = harvest_oai(store, session=session, base_url=emu.url("oaipmh"), batch_size=50)
        assert summary.resumed and summary.completed
        assert emu.request_log[start].query["resumptionToken"] == [cp.state["token"]]
        assert store.graphs() == set(emu.corpus.records)
        restarted = harvest_oai(store, session=session, base_url=emu.url("oaipmh"), resume=False)
        assert restarted.records == len(emu.corpus.records) and not restarted.resumed


def test_find_resume_by_offset(tmp_path):
    session = make_session(cache=False, rate_limit=None)
    with Emulator(services=["libris"], size=100) as emu, open_store(tmp_path / "kg") as store:
        emu.faults.add("status", service="libris", status=500, path="_offset=200", times=None)
        with pytest.raises(Exception):
            harvest_find(store, {"q": "*"}, page_size=100, batch_size=60,
                         session=make_session(cache=False, rate_limit=None, retries=0), base_url=emu.url("libris"))
        [cp] = list_checkpoints(store.path)
        assert cp.state["offset"] == 180  # three batches of 60 committed
        emu.faults.clear()
        start = len(emu.request_log)
        summary = harvest_find(store, {"q": "*"}, page_size=100, batch_size=60, session=session,
                               base_url=emu.url("libris"))
        assert emu.request_log[start].query["_offset"] == ["180"]
        assert summary.resumed and store.graphs() == set(emu.corpus.records)


def test_cli_exit_code_and_summary(tmp_path):
    from linkeddata.cli import cli

    with Emulator(services=["oaipmh"], size=20, oai_conversion_failures=["f5nc8rlm2x0vq7s"]) as emu:
        with emu.environment():
            result = CliRunner().invoke(cli, ["harvest", "oai", "--set", "bib", "--store", str(tmp_path / "kg"),
                                              "--rate-limit", "0", "-q"])
    assert result.exit_code == 2, result.output
    assert "records loaded" in result.output and "f5nc8rlm2x0vq7s" in result.output


# ---------------------------------------------------------------- kill and resume


def _env(emu: Emulator) -> dict[str, str]:
    env = {**os.environ, **emu.env(), "LINKEDDATA_NO_CACHE": "1"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_until(args: list[str], env: dict[str, str], folder: Path, kill_after: int | None, deadline: float) -> int | None:
    """Run the CLI; SIGKILL it once ``kill_after`` new checkpoints were written. Returns its exit code."""
    proc = subprocess.Popen([sys.executable, "-m", "linkeddata", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    seen: set[str] = set()
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            for path in folder.glob("*.json") if folder.exists() else ():
                try:
                    seen.add(json.loads(path.read_text())["updated"] + str(json.loads(path.read_text())["batches"]))
                except (ValueError, KeyError, OSError):
                    pass
            if kill_after is not None and len(seen) > kill_after:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                return None
            time.sleep(0.005)
        proc.wait(max(1.0, deadline - time.monotonic()))
        return proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("kind", ["oai", "find"])
def test_kill_and_resume_matches_clean_run(tmp_path, kind):
    rng = random.Random(f"resume-{kind}")
    deadline = time.monotonic() + 60
    with Emulator(services=["libris", "oaipmh"], size=600, oai_page_size=40, latency=0.01) as emu:
        store_dir = tmp_path / "killed"
        args = {"oai": ["harvest", "oai", "--batch-size", "80"],
                "find": ["harvest", "find", "*", "--page-size", "60", "--batch-size", "60"]}[kind]
        args = args + ["--store", str(store_dir), "--rate-limit", "0", "-q"]
        env = _env(emu)
        kills = 0
        for _ in range(3):
            code = _run_until(args, env, store_dir / CHECKPOINT_DIR, rng.randint(1, 6), deadline)
            if code is not None:
                break
            kills += 1
        code = _run_until(args, env, store_dir / CHECKPOINT_DIR, None, deadline)
        assert code == 0
        assert kills >= 1
        session = make_session(cache=False, rate_limit=None)
        with open_store(tmp_path / "clean") as clean:
            if kind == "oai":
                harvest_oai(clean, session=session, base_url=emu.url("oaipmh"))
            else:
                harvest_find(clean, {"q": "*"}, session=session, base_url=emu.url("libris"))
            clean_graphs, clean_triples = clean.graphs(), clean.count_triples()
    with open_store(store_dir, read_only=True) as killed:
        assert killed.graphs() == clean_graphs == set(emu.corpus.records)
        assert killed.count_triples() == clean_triples
    [cp] = list_checkpoints(store_dir)
    assert cp.completed


def test_skipped_records_are_listed_in_the_checkpoint_and_retried(tmp_path):
    from linkeddata.checkpoints import list_checkpoints

    with Emulator(services=["oaipmh", "libris"], size=20, oai_conversion_failures=["f5nc8rlm2x0vq7s"]) as emu:
        session = make_session(cache=False, rate_limit=None)
        store = open_store(tmp_path / "kg")
        first = harvest_oai(store, set="bib", session=session, base_url=emu.url("oaipmh"))
        assert [i for i, _ in first.skipped] == ["https://libris.kb.se/f5nc8rlm2x0vq7s"]
        [checkpoint] = list_checkpoints(tmp_path / "kg")
        assert checkpoint.skip_list[0][0] == "https://libris.kb.se/f5nc8rlm2x0vq7s"
        assert not store.has_graph("https://libris.kb.se/f5nc8rlm2x0vq7s")
        again = harvest_oai(store, set="bib", session=session, base_url=emu.url("oaipmh"), retry_skipped=True,
                            libris_url=emu.url("libris"))
        assert again.retried == 1 and store.has_graph("https://libris.kb.se/f5nc8rlm2x0vq7s")


def test_ctrl_c_finishes_the_batch_and_says_how_to_resume(tmp_path):
    from linkeddata import checkpoints

    with Emulator(services=["libris"], size=30) as emu:
        session = make_session(cache=False, rate_limit=None)
        store = open_store(tmp_path / "kg")
        checkpoints._interrupt.set()
        with pytest.raises(checkpoints.Interrupted, match="^10 records saved; run the same command to resume"):
            harvest_find(store, {"q": "*"}, page_size=20, batch_size=10, session=session, base_url=emu.url("libris"))
        assert len(store.graphs()) == 10
        rest = harvest_find(store, {"q": "*"}, page_size=20, batch_size=10, session=session,
                            base_url=emu.url("libris"))
        assert rest.resumed and rest.completed
