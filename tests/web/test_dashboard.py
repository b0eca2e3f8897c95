"""The technician dashboard in a real browser (Debian's Chromium driven by Playwright) against a real hub.

Gateway traffic goes through Mosquitto (mTLS) into the hub's ingest: a reported state, scores of two pumps
computed by a trained model on simulator data, and drift sketches. A technician signs in with the login
form; the page must show the gateway and the pumps with their latest score, an anomaly after a cavitation
fault is injected, a drift alert, and must never request anything from a non-loopback host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contracts import topics
from contracts.messages import ModelRef, ModelSlots, OutboxStatus, ReportedState, ScoresBatch
from hub.app import HubServer
from hub.settings import HubSettings, load_settings
from hub.web import CONTENT_SECURITY_POLICY, STATIC_DIR
from model_export.simulator import Fault, FaultEvent
from tests.drift.helpers import FLOW_SIGMA, TRAIN_ROWS, Equipment, anomaly_events, trained, write_manifest_dir
from tests.harness import HarnessPki, MosquittoBroker, unique_id, wait_until
from tests.hub.conftest import SECURITY, mqtt_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TECHNICIAN, TECHNICIAN_PASSWORD = "tech-anna", "anna-reads-the-pumps-42"
SCREENSHOT = Path("/tmp/vigie-dashboard.png")
SCREENSHOT_MOBILE = Path("/tmp/vigie-dashboard-mobile.png")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]


def test_static_files_are_self_contained() -> None:
    """Nothing in the page may point outside the hub (air-gapped plants); the SVG namespace is a name."""
    for path in STATIC_DIR.iterdir():
        text = path.read_text().replace("http://www.w3.org/2000/svg", "")
        for marker in ("http://", "https://", "//fonts.", "@import", "cdn"):
            assert marker not in text, f"{path.name} refers to {marker!r}"


@pytest.fixture
def hub(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[HubServer]:
    settings: HubSettings = load_settings(
        data_dir=tmp_path / "hub", log_format="text", security=SECURITY,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        series={"backend": "sqlite", "sqlite_path": tmp_path / "series.db"},
        mqtt=mqtt_settings(mosquitto, unique_id("hub")), ingest={"batch_max_ms": 20},
        drift={"manifest_dir": write_manifest_dir(trained(), tmp_path / "manifests")},
        api={"host": "127.0.0.1", "port": 0},
    )
    with HubServer(settings, port=0) as server:
        ingest = server.app.state.hub.ingest
        wait_until(lambda: ingest.source.connected, timeout=15, what="hub subscribed to the broker")
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def admin(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.post("/api/v1/auth/token", data={"username": SECURITY["bootstrap_admin"],
                                                            "password": SECURITY["bootstrap_admin_password"]})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield client


def reported_state(gateway: str, seq: int) -> ReportedState:
    return ReportedState(
        gateway=gateway, seq=seq, ts=int(time.time() * 1000), online=True, site="lyon-north", agent_version="0.1.0",
        models=ModelSlots(active=ModelRef(name="pump", version="1.0.0")),
        outbox=OutboxStatus(depth=3, capacity=10_000, strategy="drop_oldest"),
    )


def loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def test_technician_sees_gateways_scores_anomalies_and_drift(
    hub: HubServer, browser: Browser, pki: HarnessPki, mqtt_client: Any
) -> None:
    model = trained()
    gw = pki.unique_gateway_id("lyon")
    now = int(time.time() * 1000)
    first = now - 400_000
    fault = FaultEvent(Fault.CAVITATION, TRAIN_ROWS + model.manifest.window.size - 1 + 300, 200)
    pump1 = Equipment(model, gw, "pump-1", start_ms=first, period_ms=1000, faults=[fault])
    pump2 = Equipment(model, gw, "pump-2", start_ms=first, period_ms=1000, skip=2000)
    sketches = Equipment(model, gw, "pump-2", start_ms=(now - 3_600_000) // 100_000 * 100_000)

    with admin(hub.url) as api, mqtt_client(pki.issue(gw)) as agent:
        assert api.post("/api/v1/gateways", json={"id": gw, "site": "lyon-north", "cohort": "green"}).status_code == 201
        created = api.post("/api/v1/users", json={"name": TECHNICIAN, "role": "reader",
                                                  "password": TECHNICIAN_PASSWORD})
        assert created.status_code == 201, created.text

        def send(kind: topics.UpKind, payload: bytes) -> None:
            agent.publish(topics.up(gw, kind), payload)

        send(topics.UpKind.STATE, reported_state(gw, 1).to_bytes())
        clean: dict[str, ScoresBatch] = {}
        for pump in (pump1, pump2):
            clean[pump.equipment] = pump.scores(300, seq=len(clean) + 1)
            send(topics.UpKind.SCORES, clean[pump.equipment].to_bytes())
        for window in range(4):
            shift = {"flow_rate_rms": FLOW_SIGMA} if window >= 2 else None
            send(topics.UpKind.SKETCH, sketches.sketch(1000, shift).to_bytes())

        def equipment() -> dict[str, Any]:
            return {e["id"]: e for e in api.get("/api/v1/equipment", params={"gateway": gw}).json()}

        wait_until(lambda: all((equipment().get(p) or {}).get("latest") for p in clean), timeout=15,
                   what="latest scores of both pumps")
        wait_until(lambda: api.get("/api/v1/drift", params={"gateway": gw, "drifting": True}).json(), timeout=15,
                   what="pump-2 drifting")

        requests: list[str] = []
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        try:
            sign_in(page, hub.url)
            card = page.locator(f'article[data-gateway="{gw}"]')
            expect(card).to_be_visible()
            expect(card.locator(".gateway-head .badge")).to_have_text("Online")
            expect(card.locator('dd[data-fact="model"]')).to_have_text("pump 1.0.0")
            expect(card.locator('dd[data-fact="outbox"]')).to_have_text("3 / 10000")
            expect(card.locator('dd[data-fact="cohort"]')).to_have_text("green")
            expect(page.get_by_role("heading", name="Site lyon-north")).to_be_visible()
            for name, batch in clean.items():
                row = card.locator(f'tr[data-equipment="{name}"]')
                expect(row.locator("[data-score]")).to_have_text(f"{batch.readings[-1].score:.3f}")
                expect(row.locator(".badge")).to_have_text("Normal")
                label = (f"Anomaly score of {name} over the last hour: latest {batch.readings[-1].score:.3f}, "
                         f"highest {max(r.score for r in batch.readings):.3f}, threshold {model.threshold:.3f}, ")
                expect(row.get_by_role("img")).to_have_attribute("aria-label", re.compile(re.escape(label)
                                                                                          + "flagged in 0 intervals"))
            expect(page.locator("#events li.empty")).to_have_text("No anomaly reported.")
            drift = page.locator('#drift tr[data-equipment="pump-2"][data-feature="flow_rate_rms"]')
            expect(drift).to_be_visible()
            expect(page.locator("#tile-drift .tile-value")).not_to_have_text("0")

            faulty = pump1.scores(100, seq=3)  # cavitation from the first of these readings
            events = anomaly_events(faulty, seq=1)
            assert events is not None, "the model must flag the cavitation fault"
            send(topics.UpKind.SCORES, faulty.to_bytes())
            send(topics.UpKind.EVENTS, events.to_bytes())
            wait_until(lambda: equipment()["pump-1"]["status"] == "anomaly", timeout=15, what="anomaly ingested")

            page.get_by_role("button", name="Refresh").click()
            row = card.locator('tr[data-equipment="pump-1"]')
            expect(row.locator(".badge")).to_have_text("Anomaly")
            expect(row.locator("[data-score]")).to_have_text(f"{faulty.readings[-1].score:.3f}")
            expect(page.locator("#tile-anomalies .tile-value")).to_have_text("1")
            started = page.locator('#events li[data-kind="anomaly_start"][data-equipment="pump-1"]')
            expect(started).to_contain_text("Anomaly started")
            expect(started).to_contain_text(f"score {events.events[0].score:.3f}")
            expect(row.get_by_role("img")).to_have_attribute("aria-label", re.compile(r"flagged in [1-9]\d* interval"))
            expect(row.locator("svg circle.hit").first).to_be_attached()
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            page.get_by_label("Filter").fill("pump-2")
            expect(card.locator("tbody tr")).to_have_count(1)
            page.get_by_label("Filter").fill("")

            page.set_viewport_size({"width": 390, "height": 844})
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the page scrolls sideways on a phone by {overflow}px"
            page.screenshot(path=str(SCREENSHOT_MOBILE), full_page=True)

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            assert page.evaluate("sessionStorage.getItem('vigie.access')") is None
        finally:
            page.close()

    foreign = [url for url in requests if not loopback(url)]
    assert foreign == [], f"the page requested non-loopback URLs: {foreign}"
    assert any("/api/v1/series/scores" in url for url in requests)


def sign_in(page: Page, base_url: str) -> None:
    response = page.goto(f"{base_url}/ui/")
    assert response is not None and response.ok
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill(TECHNICIAN)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    page.get_by_label("Password").fill(TECHNICIAN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user")).to_have_text(f"{TECHNICIAN} (reader)")
