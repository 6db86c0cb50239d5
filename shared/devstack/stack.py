"""The whole system as child processes: embedded servers (unless configured away), services, gateway."""

from __future__ import annotations

import asyncio
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.auth.integration_keys_cli import seed_demo_signing_keys
from shared.auth.seed import DEMO_BUREAUS, read_credentials, seed_demo, write_credentials
from shared.config import ConnectionSettings, env_port, stack_host
from shared.devstack import servers
from shared.devstack.processes import Child, wait_until
from shared.service import Mongo


@dataclass(frozen=True)
class ServiceSpec:
    """A service process: its module and its settings' env prefix."""

    name: str
    module: str
    env_prefix: str
    default_port: int
    # Its /healthz answers 503 for an alarm an operator must see (the relay: a parked event, lag) while it
    # works: started means answering at all, as compose's `service_started` has it.
    alarms_on_health: bool = False


SERVICES = (
    ServiceSpec("relay", "services.relay", "RELAY_", 8103, alarms_on_health=True),
    ServiceSpec("intake", "services.intake", "INTAKE_", 8101),
    ServiceSpec("casequery", "services.casequery", "CASEQUERY_", 8102),
    ServiceSpec("assignment", "services.assignment", "ASSIGNMENT_", 8104),
    ServiceSpec("disbursement", "services.disbursement", "DISBURSEMENT_", 8105),
    ServiceSpec("notification", "services.notification", "NOTIFICATION_", 8106),
    ServiceSpec("gateway", "services.gateway", "GATEWAY_", 8000),
)


@dataclass
class StackConfig:
    """Ports and places; each can be set from the environment (see README)."""

    host: str = "127.0.0.1"
    var_dir: Path = Path("var")
    kafka_port: int = 9092
    mongo_port: int = 27017
    ports: dict[str, int] = field(default_factory=lambda: {s.name: s.default_port for s in SERVICES})
    kafka_bootstrap: str | None = None  # set: use that Kafka, start none
    mongodb_uri: str | None = None  # set: use that MongoDB, start none
    database: str = "concierge"
    log_level: str = "INFO"
    mongo_cache_size: str | None = None  # embedded SecantusDB's WiredTiger cache; None: as mongod sizes it
    service_env_overrides: dict[str, str] = field(default_factory=dict)  # e.g. tests raise the rate limit
    # Demo people (director, section chief, clerk per demo bureau) on the rosters, with accounts: `make run`
    # turns it on (SEED_PEOPLE=0 turns it off); test stacks that count roster members leave it off.
    seed_people: bool = False
    # `make run` lets the operator's GATEWAY_*_URL and NOTIFICATION_PUBLIC_URL through; a test stack always uses
    # its own ports, whatever the developer's shell exports.
    operator_addresses: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        """Read the configuration from environment variables."""
        env = dict(os.environ if env is None else env)
        return cls(
            host=stack_host(env),  # shared.config decides host and ports: the operator commands read them too
            var_dir=Path(env.get("VAR_DIR", "var")),
            kafka_port=env_port(env, "KAFKA_PORT", 9092),
            mongo_port=env_port(env, "MONGODB_PORT", 27017),
            ports={s.name: env_port(env, f"{s.env_prefix}PORT", s.default_port) for s in SERVICES},
            kafka_bootstrap=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            mongodb_uri=env.get("MONGODB_URI") or None,
            database=env.get("MONGODB_DATABASE", "concierge"),
            log_level=env.get("LOG_LEVEL", "INFO"),
            mongo_cache_size=env.get("EMBEDDED_MONGODB_CACHE_SIZE") or None,
            seed_people=env.get("SEED_PEOPLE", "1") != "0",
            operator_addresses=True,
        )

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        return self.mongodb_uri or servers.secantus_uri(self.host, self.mongo_port)

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.ports[service]}"


class Stack:
    """Starts, watches and stops every process of the system."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.kafka: Child | None = None
        self.mongo: Child | None = None
        self.services: dict[str, Child] = {}
        self.credentials: dict[str, Any] = {}  # keys by name (str); "people": sign-in details by bureau

    @property
    def logs(self) -> Path:
        return self.config.var_dir / "logs"

    def start(self) -> Stack:
        """Start servers (if embedded), seed demo data, start every service and wait until healthy."""
        self.config.var_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.start_servers()
            path = self.config.var_dir / "dev-credentials.json"
            self.credentials = asyncio.run(self._seed(read_credentials(path)))
            write_credentials(path, self.credentials)
            # All at once, as compose starts them: each waits only for the servers, never for another service.
            started = [self.launch(spec.name) for spec in SERVICES]
            for wait in started:
                wait(60.0)
        except BaseException:
            self.stop()
            raise
        return self

    def start_servers(self) -> None:
        """Start the embedded Tansu and SecantusDB unless external ones are configured."""
        c = self.config
        if c.kafka_bootstrap is None and (self.kafka is None or not self.kafka.alive):
            self.kafka = servers.start_and_wait(
                servers.tansu(c.host, c.kafka_port, self.logs), c.host, c.kafka_port
            )
        if c.mongodb_uri is None and (self.mongo is None or not self.mongo.alive):
            storage = c.var_dir / "mongo"
            self.mongo = servers.start_and_wait(
                servers.secantus(c.host, c.mongo_port, storage, self.logs, c.mongo_cache_size),
                c.host,
                c.mongo_port,
            )

    async def _seed(self, known: dict[str, Any]) -> dict[str, Any]:
        mongo = Mongo.from_settings(self.connection_settings())
        try:
            credentials: dict[str, Any] = dict(await seed_demo(mongo.db, known))
            # A demo signing key per demo bureau for its Kafka messages (README, signed Kafka intake).
            credentials["signing"] = await seed_demo_signing_keys(
                mongo.db, self.config.var_dir / "signing", [b.id for b in DEMO_BUREAUS]
            )
            if self.config.seed_people:
                # Imported here: the launcher needs the assignment service's domain only when seeding people.
                from services.assignment.seed import seed_people

                credentials["people"] = await seed_people(mongo.client, mongo.db, known.get("people", {}))
            return credentials
        finally:
            await mongo.client.close()

    def connection_settings(self) -> ConnectionSettings:
        """Return the connection settings the services get."""
        return ConnectionSettings(
            KAFKA_BOOTSTRAP_SERVERS=self.config.bootstrap,
            MONGODB_URI=self.config.mongo_uri,
            MONGODB_DATABASE=self.config.database,
        )

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        """Return the environment of a service process."""
        c = self.config
        env = dict(os.environ)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=c.bootstrap,
            MONGODB_URI=c.mongo_uri,
            MONGODB_DATABASE=c.database,
            LOG_LEVEL=c.log_level,
            PYTHONUNBUFFERED="1",
        )
        # Where the gateway finds each service and the public URL in messages are the launcher's own unless
        # the operator chose them (several instances behind the gateway, the zone's public address).
        for name, value in self.default_addresses().items():
            env[name] = env.get(name, value) if c.operator_addresses else value
        env.update(c.service_env_overrides)
        env[f"{spec.env_prefix}HOST"] = c.host
        env[f"{spec.env_prefix}PORT"] = str(c.ports[spec.name])
        return env

    def default_addresses(self) -> dict[str, str]:
        """Return the service URLs the gateway uses and the public URL of messages, on the launcher's ports."""
        c = self.config
        upstreams = ("intake", "casequery", "relay", "assignment", "disbursement", "notification")
        return {f"GATEWAY_{name.upper()}_URL": c.url(name) for name in upstreams} | {
            "NOTIFICATION_PUBLIC_URL": c.url("gateway")
        }

    def start_service(
        self, name: str, timeout: float = 60.0, *, instance: str = "", port: int | None = None
    ) -> Child:
        """Start one service process (or another instance of it) and wait until its /healthz answers 200
        (any answer for a service whose health carries alarms: the relay)."""
        self.launch(name, instance=instance, port=port)(timeout)
        return self.services[f"{name}{instance}"]

    def launch(self, name: str, *, instance: str = "", port: int | None = None) -> Callable[[float], None]:
        """Start one service process; return the wait for its /healthz to answer 200."""
        spec = next(s for s in SERVICES if s.name == name)
        env = self.service_env(spec)
        if port is not None:
            env[f"{spec.env_prefix}PORT"] = str(port)
        label = f"{name}{instance}"
        child = Child(label, [sys.executable, "-m", spec.module], env, self.logs / f"{label}.log")
        self.services[label] = child.start()
        url = f"http://{self.config.host}:{port or self.config.ports[name]}/healthz"

        def healthy() -> bool:
            if not child.alive:
                raise RuntimeError(
                    f"{label} exited at start; last lines of {child.log_path}:\n{child.tail()}"
                )
            return http_answers(url) if spec.alarms_on_health else http_ok(url)

        return lambda timeout: wait_until(healthy, timeout, f"{label} /healthz", interval=0.1)

    def restart_kafka(self) -> None:
        """Kill the embedded broker (it loses all it held: Tansu keeps it in memory) and start it again."""
        assert self.kafka is not None, "only the embedded broker can be restarted"
        self.kafka.kill()
        self.start_servers()

    def stop(self) -> None:
        """Stop services in reverse order, then the servers."""
        for child in reversed(list(self.services.values())):
            child.stop()
        for server in (self.kafka, self.mongo):
            if server:
                server.stop()

    def summary(self) -> str:
        """Return a table of what runs where."""
        c = self.config
        rows = [
            ("API (gateway)", f"{c.url('gateway')}/api/v1  (health: {c.url('gateway')}/healthz)"),
            ("kafka", c.bootstrap + ("" if c.kafka_bootstrap else "  (embedded Tansu, memory storage)")),
            (
                "mongodb",
                c.mongo_uri
                + ("" if c.mongodb_uri else f"  (embedded SecantusDB, data in {c.var_dir}/mongo)"),
            ),
        ]
        rows += [(f"service {n}", f"{c.url(n)}  log: {self.logs}/{n}.log") for n in self.services]
        rows.append(("demo API keys", f"{c.var_dir}/dev-credentials.json"))
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"  {name:<{width}}  {where}" for name, where in rows)


def http_answers(url: str) -> bool:
    """Tell whether GET url answers at all (any HTTP status: the server is up)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    """Tell whether GET url answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False
