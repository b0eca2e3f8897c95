"""The MQTT witness on the real broker: the hub publishes every checkpoint retained, readable later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.signing import key_id
from hub.audit._errors import WitnessError
from hub.audit.checkpoints import SignedCheckpoint, verify_checkpoint
from hub.audit.mqtt import PahoWitnessConnection
from hub.audit.witness import DEFAULT_MQTT_TOPIC, MqttWitness
from hub.security.roles import Role
from tests.harness import MosquittoBroker, unique_id
from tests.harness.pki import HarnessPki
from tests.security.conftest import bearer, running, security_of, security_settings, user_token

pytestmark = pytest.mark.integration


def test_checkpoints_are_retained_on_the_broker(tmp_path: Path, mosquitto: MosquittoBroker, pki: HarnessPki,
                                                mqtt_client) -> None:
    # A gateway may read its own down/ topics: give the witness that topic so the test can read it back.
    auditor_id = pki.unique_gateway_id("audit")
    auditor = pki.issue(auditor_id)
    topic = f"vigie/v1/{auditor_id}/down/checkpoint"
    mqtt = {"host": mosquitto.host, "port": mosquitto.port, "ca_file": mosquitto.ca, "cert_file": mosquitto.hub.cert,
            "key_file": mosquitto.hub.key, "client_id": unique_id("hub")}
    settings = security_settings(tmp_path, witness_mqtt=True, witness_mqtt_topic=topic)
    settings = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(update=mqtt)})
    with running(settings) as client:
        token = user_token(client, Role.READER)
        for _ in range(3):
            client.get("/api/v1/auth/me", headers=bearer(token))
        audit_key = security_of(client).keys.audit.public_key()
        final_size_before_stop = security_of(client).audit.size()
    with mqtt_client(auditor) as reader:
        reader.subscribe(topic)
        message = reader.collect(topic, count=1)[-1]
    assert message.retain
    signed = SignedCheckpoint.from_json(json.loads(message.payload))
    checkpoint = verify_checkpoint(signed, [audit_key], settings.security.audit_origin)
    assert signed.keyid == key_id(audit_key)
    assert checkpoint.size >= final_size_before_stop  # the final checkpoint at shutdown


def test_the_default_topic_is_writable_by_the_hub(mosquitto: MosquittoBroker) -> None:
    from hub.settings import MqttSettings

    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port, ca_file=mosquitto.ca,
                            cert_file=mosquitto.hub.cert, key_file=mosquitto.hub.key, client_id=unique_id("hub"))
    connection = PahoWitnessConnection(settings, DEFAULT_MQTT_TOPIC)
    connection.start()
    try:
        assert connection.wait_connected(15)
        witness: MqttWitness = connection.witness()
        from contracts.signing import generate_private_key
        from hub.audit.checkpoints import Checkpoint, sign_checkpoint

        signed = sign_checkpoint(generate_private_key(), Checkpoint("o", 1, bytes(32), 0))
        witness.publish(signed)  # PUBACK received, no WitnessError
        assert witness.read() == [signed]
        refused = PahoWitnessConnection(settings, "vigie/v1/other/up/checkpoint")  # the hub may not write up/
        refused.start()
        try:
            assert refused.wait_connected(15)
            with pytest.raises(WitnessError, match="refused"):
                refused.witness().publish(signed)
        finally:
            refused.stop()
    finally:
        connection.stop()
