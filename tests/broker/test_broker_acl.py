"""A real Mosquitto with the generated config: mTLS refusals, per-gateway ACLs, hub rights, shared subs.

Every "nothing crosses" assertion has a positive control published *after* the forbidden message on a
path that the same observer does receive: Mosquitto fans a message out to subscribers when it processes
the PUBLISH, before it acknowledges it, so once the control has arrived the forbidden one would have too.

Mosquitto 2.0.11 behaviour worth knowing (agents must cope): a PUBLISH denied by the ACL is PUBACKed
(MQTT 5 reason 0x87 Not authorized, 3.1.1 plain PUBACK) and then the connection is closed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from tests.harness import ClientCert, HarnessPki, MosquittoBroker, mqtt_client, try_connect, wait_until
from tests.harness.mqtt import MQTTv311

pytestmark = pytest.mark.integration

NOT_AUTHORIZED = 0x87


def up(gw: str, kind: str = "scores") -> str:
    return f"vigie/v1/{gw}/up/{kind}"


def down(gw: str) -> str:
    return f"vigie/v1/{gw}/down/desired"


def test_gateway_publishes_its_own_up_and_the_hub_receives(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    gw = pki.unique_gateway_id("paris")
    with mqtt_client(mosquitto, pki.hub) as hub, mqtt_client(mosquitto, pki.issue(gw)) as agent:
        assert [rc.value for rc in hub.subscribe(f"vigie/v1/{gw}/up/#")] == [1]
        agent.publish(up(gw), b'{"schema":"vigie.scores/1"}')
        [msg] = hub.collect(f"vigie/v1/{gw}/up/#", count=1)
        assert msg.topic == up(gw) and msg.payload == b'{"schema":"vigie.scores/1"}' and msg.qos == 1


def _denied_publish(broker: MosquittoBroker, cert: ClientCert, topic: str) -> None:
    """Publish on a fresh connection: Mosquitto 2.0 PUBACKs a denied publish (v5: 0x87) and then closes it."""
    with mqtt_client(broker, cert) as client:
        rc = client.publish(topic, b"forged")
        assert rc is not None and rc.value == NOT_AUTHORIZED, f"{topic}: {rc}"
        client.wait_for(lambda _: not client.connected, what="disconnect after a denied publish")


def test_gateway_cannot_publish_as_another_gateway_or_on_down(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    a, b = pki.unique_gateway_id("lyon"), pki.unique_gateway_id("lyon")
    cert_a = pki.issue(a)
    with mqtt_client(mosquitto, pki.hub) as hub, mqtt_client(mosquitto, pki.issue(b)) as agent_b:
        hub.subscribe("vigie/v1/+/up/#")
        hub.subscribe("vigie/v1/+/down/#")               # the hub may read down/ too? No: shows nothing arrives
        agent_b.subscribe(f"vigie/v1/{b}/down/#")
        _denied_publish(mosquitto, cert_a, up(b))        # another gateway's up/
        _denied_publish(mosquitto, cert_a, down(b))      # another gateway's down/
        _denied_publish(mosquitto, cert_a, down(a))      # even its own down/ is read-only
        _denied_publish(mosquitto, cert_a, "vigie/v1/x")  # anything else
        # The broker had processed each forbidden message when it PUBACKed it: controls come after.
        with mqtt_client(mosquitto, cert_a) as agent_a:
            assert agent_a.publish(up(a), b"control").value == 0  # type: ignore[union-attr]
        hub.collect(up(a), count=1)
        hub.publish(down(b), b"hub-control-b")
        assert [m.payload for m in agent_b.collect(f"vigie/v1/{b}/down/#", count=1)] == [b"hub-control-b"]
        # Only this test's two gateways: the session broker also carries other tests' (retained) traffic.
        ours = (f"vigie/v1/{a}/", f"vigie/v1/{b}/")
        assert [m.payload for m in hub.received("#") if m.topic.startswith(ours)] == [b"control"]


def test_gateway_cannot_read_another_gateways_topics(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    a, b = pki.unique_gateway_id("tls"), pki.unique_gateway_id("tls")
    with mqtt_client(mosquitto, pki.hub) as hub, mqtt_client(mosquitto, pki.issue(a)) as spy, \
            mqtt_client(mosquitto, pki.issue(b)) as victim:
        spy.subscribe(f"vigie/v1/{b}/down/#")
        spy.subscribe("vigie/v1/#")                      # wildcard: delivery is still checked per topic
        victim.subscribe(f"vigie/v1/{b}/down/#")
        hub.subscribe(f"vigie/v1/{b}/up/#")
        victim.publish(up(b), b"victim-telemetry")
        hub.collect(f"vigie/v1/{b}/up/#", count=1)      # the broker has fanned it out by now
        hub.publish(down(b), b"victim-desired")
        victim.collect(f"vigie/v1/{b}/down/#", count=1)
        hub.publish(down(a), b"spy-control")            # spy's own down/: the control it must receive
        spy.collect(f"vigie/v1/{a}/down/#", count=1)
        assert [m.topic for m in spy.received("#")] == [down(a)]


def test_hub_reads_every_up_and_writes_every_down(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    gws = [pki.unique_gateway_id("site") for _ in range(3)]
    ups = {up(g, "events") for g in gws}
    with contextlib.ExitStack() as stack:
        hub = stack.enter_context(mqtt_client(mosquitto, pki.hub))
        hub.subscribe("vigie/v1/+/up/#")
        agents = [stack.enter_context(mqtt_client(mosquitto, pki.issue(gw))) for gw in gws]
        for gw, agent in zip(gws, agents, strict=True):
            agent.subscribe(f"vigie/v1/{gw}/down/#")
        for gw, agent in zip(gws, agents, strict=True):
            agent.publish(up(gw, "events"), gw.encode())
            hub.publish(down(gw), f"desired-{gw}".encode(), retain=True)
        for gw, agent in zip(gws, agents, strict=True):
            assert [m.payload for m in agent.collect(f"vigie/v1/{gw}/down/#")] == [f"desired-{gw}".encode()]
        got = hub.wait_for(lambda ms: {m.topic for m in ms} >= ups, what="every gateway's event")
        assert {m.payload for m in got if m.topic in ups} == {g.encode() for g in gws}
    # retained desired state reaches a gateway that connects later (how agents get their assignment)
    with mqtt_client(mosquitto, pki.issue(gws[0])) as late:
        late.subscribe(f"vigie/v1/{gws[0]}/down/#")
        [msg] = late.collect(f"vigie/v1/{gws[0]}/down/#")
        assert msg.retain and msg.payload == f"desired-{gws[0]}".encode()
    with mqtt_client(mosquitto, pki.hub) as hub:
        for gw in gws:
            hub.publish(down(gw), b"", retain=True)  # clear this test's retained messages


def test_hub_shared_subscription_splits_messages(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    gw = pki.unique_gateway_id("share")
    group = f"$share/vigie-hub/vigie/v1/{gw}/up/#"
    with mqtt_client(mosquitto, pki.hub) as w1, mqtt_client(mosquitto, pki.hub) as w2, \
            mqtt_client(mosquitto, pki.issue(gw)) as agent:
        assert [rc.value for rc in w1.subscribe(group)] == [1]
        assert [rc.value for rc in w2.subscribe(group)] == [1]
        payloads = {f"m{i}".encode() for i in range(20)}
        for p in sorted(payloads):
            agent.publish(up(gw), p)

        wait_until(lambda: len(w1.received()) + len(w2.received()) >= len(payloads),
                   what="20 messages across the shared group")
        got = [m.payload for m in w1.received() + w2.received()]
        assert sorted(got) == sorted(payloads)          # each message exactly once across the group
        assert w1.received() and w2.received()          # and both workers got some


def test_hub_shared_subscription_on_every_gateway(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    gw = pki.unique_gateway_id("share")
    with mqtt_client(mosquitto, pki.hub) as hub, mqtt_client(mosquitto, pki.issue(gw)) as agent:
        assert [rc.value for rc in hub.subscribe("$share/vigie-hub/vigie/v1/+/up/#")] == [1]
        agent.publish(up(gw, "sketch"), b"x")
        assert [m.payload for m in hub.collect(up(gw, "sketch"))] == [b"x"]


def test_mqtt_311_clients_work_too(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    gw = pki.unique_gateway_id("v311")
    with mqtt_client(mosquitto, pki.hub, protocol=MQTTv311) as hub, \
            mqtt_client(mosquitto, pki.issue(gw), protocol=MQTTv311) as agent:
        hub.subscribe(f"vigie/v1/{gw}/up/#")
        agent.publish(up(gw, "state"), b"online")
        assert [m.payload for m in hub.collect(f"vigie/v1/{gw}/up/#")] == [b"online"]


# ------------------------------------------------------------------------------------------- refusals
def test_valid_gateway_cert_connects(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    """Positive control for the refusal tests below."""
    assert try_connect(mosquitto, pki.issue(pki.unique_gateway_id("ok"))).ok


def test_connection_without_client_cert_is_refused(mosquitto: MosquittoBroker) -> None:
    outcome = try_connect(mosquitto, None)
    assert not outcome.ok, outcome


def test_cert_from_a_foreign_ca_is_refused(tmp_path: Path, pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    foreign = HarnessPki(tmp_path / "foreign")
    gw = pki.unique_gateway_id("foreign")
    assert not try_connect(mosquitto, foreign.issue(gw)).ok
    assert not try_connect(mosquitto, foreign.hub).ok       # even with the hub's CN
    assert try_connect(mosquitto, pki.issue(gw)).ok         # control: the genuine cert for the same id works


def test_expired_cert_is_refused(pki: HarnessPki, mosquitto: MosquittoBroker) -> None:
    gw = pki.unique_gateway_id("expired")
    failures = mosquitto.log_text().count("certificate verify failed")
    assert not try_connect(mosquitto, pki.issue_expired(gw)).ok
    wait_until(lambda: mosquitto.log_text().count("certificate verify failed") > failures,
               what="the broker to log the verification failure")


def test_revoked_cert_is_refused(pki: HarnessPki, mosquitto_restartable: MosquittoBroker) -> None:
    broker = mosquitto_restartable
    before_start, while_running = pki.unique_gateway_id("rev"), pki.unique_gateway_id("rev")
    revoked_early = pki.issue(before_start)
    pki.revoke(before_start)
    broker.restart()                                  # reads the CRL that lists `before_start`
    assert not try_connect(broker, revoked_early).ok

    cert = pki.issue(while_running)
    assert try_connect(broker, cert).ok
    pki.revoke(while_running)
    broker.reload()                                   # SIGHUP: Mosquitto re-reads the CRL
    assert not try_connect(broker, cert).ok
    assert try_connect(broker, pki.issue(pki.unique_gateway_id("rev"))).ok  # others unaffected


# ------------------------------------------------------------------------------------ outage/queueing
def test_persistent_hub_session_keeps_messages_across_a_broker_restart(
        pki: HarnessPki, mosquitto_restartable: MosquittoBroker) -> None:
    broker = mosquitto_restartable
    gw = pki.unique_gateway_id("queue")
    hub_id = f"hub-{gw}"
    with mqtt_client(broker, pki.hub, client_id=hub_id, clean_start=False, session_expiry=3600) as hub:
        hub.subscribe(f"vigie/v1/{gw}/up/#")
    with mqtt_client(broker, pki.issue(gw)) as agent:
        for i in range(50):
            agent.publish(up(gw), f"{i}".encode())    # PUBACKed while the hub is away
    port = broker.port
    broker.restart()                                  # graceful: persistence saved and reloaded
    assert broker.port == port
    with mqtt_client(broker, pki.hub, client_id=hub_id, clean_start=False, session_expiry=3600) as hub:
        got = hub.collect(f"vigie/v1/{gw}/up/#", count=50)
        assert sorted(int(m.payload) for m in got) == list(range(50))


def test_clients_reconnect_after_an_outage_on_the_same_port(
        pki: HarnessPki, mosquitto_restartable: MosquittoBroker) -> None:
    broker = mosquitto_restartable
    gw = pki.unique_gateway_id("outage")
    with mqtt_client(broker, pki.issue(gw)) as agent:
        broker.stop()
        agent.wait_for(lambda _: not agent.connected, what="disconnect")
        assert not try_connect(broker, pki.hub, timeout=2).ok
        broker.start()
        agent.wait_connected(timeout=15)              # paho's own reconnection
        with mqtt_client(broker, pki.hub) as hub:
            hub.subscribe(f"vigie/v1/{gw}/up/#")
            agent.publish(up(gw), b"after")
            assert [m.payload for m in hub.collect(f"vigie/v1/{gw}/up/#")] == [b"after"]
