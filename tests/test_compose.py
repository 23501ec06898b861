"""docker-compose.yml cannot run here (no Docker engine); check what it promises."""

from pathlib import Path

import yaml

from service.engine import Target

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_ports_and_environment():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"clickhouse", "vectrain"}
    ch = services["clickhouse"]
    image, tag = ch["image"].split(":")
    assert image == "clickhouse/clickhouse-server"
    assert tuple(int(x) for x in tag.split(".")[:2]) >= (25, 8)
    assert "8123:8123" in ch["ports"]
    assert "healthcheck" in ch and any("clickhouse-data" in v for v in ch["volumes"])
    svc = services["vectrain"]
    assert svc["build"] == "."
    assert "8000:8000" in svc["ports"]
    assert svc["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    target = Target.parse(svc["environment"]["VECTRAIN_DATABASE_URL"])
    assert (target.kind, target.host, target.port, target.database) == ("http", "clickhouse", 8123, "vectrain")
    assert target.username == ch["environment"]["CLICKHOUSE_USER"]
    assert target.password == ch["environment"]["CLICKHOUSE_PASSWORD"]
    # serving on 0.0.0.0 needs keys: compose must refuse to start without one (no default key)
    assert svc["environment"]["VECTRAIN_API_KEYS"].startswith("${VECTRAIN_API_KEYS:?")


def test_dockerfile_serves_on_all_interfaces():
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text
    assert '"vectrain", "serve", "--host", "0.0.0.0"' in text
