"""docker-compose.yml cannot run here (no Docker engine); check what it promises."""

import re
from pathlib import Path

import yaml

from vectrain.core.config import Settings
from vectrain.storage.engine import Target

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_ports_and_environment():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"clickhouse", "vectrain"}
    ch = services["clickhouse"]
    image, tag = ch["image"].split(":")
    assert image == "clickhouse/clickhouse-server"
    # POST /sql checks statements with parseQueryToJSON/formatQueryFromJSON (26.9, as in chDB 4.4).
    assert tuple(int(x) for x in tag.split(".")[:2]) >= (26, 9)
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


def test_sql_runs_as_a_reader_account_with_select_on_vectrain_only():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ch, svc = compose["services"]["clickhouse"], compose["services"]["vectrain"]
    mount = next(v for v in ch["volumes"] if "/docker-entrypoint-initdb.d" in v)
    source, target = mount.split(":")[:2]
    assert target == "/docker-entrypoint-initdb.d"
    init_dir = (ROOT / source).resolve()
    assert init_dir.is_dir() and init_dir.is_relative_to(ROOT)
    reader = Target.parse(svc["environment"]["VECTRAIN_SQL_DATABASE_URL"])
    main = Target.parse(svc["environment"]["VECTRAIN_DATABASE_URL"])
    assert (reader.kind, reader.host, reader.port, reader.database) == (main.kind, main.host, main.port, main.database)
    assert reader.username != main.username

    sql = "\n".join(p.read_text() for p in sorted(init_dir.glob("*.sql")))
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", sql).split(";") if s.strip()]
    users = [s for s in statements if s.upper().startswith("CREATE USER")]
    assert len(users) == 1
    assert re.search(rf"\bCREATE USER IF NOT EXISTS {reader.username}\b", users[0])
    assert f"BY '{reader.password}'" in users[0]
    grants = [" ".join(s.split()) for s in statements if s.upper().startswith("GRANT")]
    assert grants == [f"GRANT SELECT ON {main.database}.* TO {reader.username}"]
    # The profile's caps leave room for the limits the service sends by default.
    profile = next(s for s in statements if s.upper().startswith("CREATE SETTINGS PROFILE"))
    caps = {name: float(cap) for name, cap in re.findall(r"(\w+) = \d+ MAX (\d+)", profile)}
    defaults = Settings()
    for name in ("max_execution_time", "max_memory_usage", "max_rows_to_read", "max_result_rows", "max_result_bytes"):
        assert getattr(defaults, f"sql_{name}") <= caps[name], name


def test_dockerfile_installs_the_wheel_and_serves_on_all_interfaces():
    text = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in text
    assert '"vectrain", "serve", "--host", "0.0.0.0"' in text
    assert "pip wheel" in text and "pip install /wheels/vectrain-" in text
    assert "pip install -e" not in text  # never an editable checkout
    copied = re.findall(r"^COPY (?!--from)(\S+)", text, re.M)
    assert all((ROOT / c).exists() for c in copied), copied


def test_server_keeps_vector_indexes_in_an_lru_cache():
    """The server's default cache (5 GiB, SLRU 50/50) cannot hold a 4M-row part's index."""
    ch = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["clickhouse"]
    mount = next(v for v in ch["volumes"] if "config.d" in v)
    source, target = mount.split(":")[:2]
    assert target == "/etc/clickhouse-server/config.d/vectrain.xml"
    config = (ROOT / source).read_text()
    size = int(re.search(r"<vector_similarity_index_cache_size>(\d+)<", config).group(1))
    assert size >= 8 * 2**30
    assert "<vector_similarity_index_cache_policy>LRU<" in config
