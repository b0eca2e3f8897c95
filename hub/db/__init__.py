"""SQL side of the hub (SQLModel): gateways, equipment, events/alerts, quarantine. Alembic migrations."""

from hub.db.engine import make_engine, session_scope
from hub.db.migrate import upgrade
from hub.db.models import EquipmentRecord, EventRecord, GatewayRecord, QuarantineRecord

__all__ = [
    "EquipmentRecord",
    "EventRecord",
    "GatewayRecord",
    "QuarantineRecord",
    "make_engine",
    "session_scope",
    "upgrade",
]
