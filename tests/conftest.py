"""Shared fixtures: the bundled sample, the tiny untrained encoder, a real Milvus server and store targets.

Tests run on the CPU with matplotlib's Agg backend. The ``milvus_server`` fixture starts the real Milvus
2.3.5 standalone from the ``milvus`` package (``pip install -e .[server]``) once per session, with every
port, the embedded etcd's included, on a free loopback port, so that parallel runs do not collide.
"""

from __future__ import annotations

import os

os.environ["MPLBACKEND"] = "Agg"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# Lite servers that subprocesses (CLI, notebook kernels) start stop soon after the tests stop using them.
os.environ.setdefault("MMRAG_LITE_IDLE_TIMEOUT", "120")

import uuid  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from mmrag_lab.config import Config  # noqa: E402
from tests.ports import free_port  # noqa: E402

MILVUS_PORT_KEYS = (
    "etcd_port",
    "root_coord_port",
    "proxy_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
)


@dataclass
class MilvusServerHandle:
    """A running Milvus standalone: its URI, its folder and the process object."""

    uri: str
    base_dir: Path
    server: object

    @property
    def logs(self) -> Path:
        return self.base_dir / "logs"


@dataclass(frozen=True)
class StoreTarget:
    """Where a test stores vectors: a fresh Milvus Lite file or a unique collection on the server."""

    kind: str
    uri: str
    collection: str

    def config(self, **overrides) -> Config:
        """A config for this target with the tiny untrained CPU encoder (the environment is ignored)."""
        values = dict(
            milvus_uri=self.uri, collection=self.collection, encoder="tiny", weights="untrained", device="cpu"
        )
        values.update(overrides)
        return Config.load(env={}, **values)


def stop_lite_servers(folder: Path) -> int:
    """Kill every Milvus Lite server serving a file under ``folder`` (tests need no graceful stop)."""
    import signal

    from mmrag_lab.store import lite_discovery

    stopped = 0
    for record_path in folder.rglob("*.db.server.json"):
        record = lite_discovery.read_record(str(record_path)) or {}
        pid = int(record.get("pid", 0))
        if (
            pid
            and lite_discovery.pid_alive(pid)
            and lite_discovery.verify(record, record.get("db"), touch=False)
        ):
            os.kill(pid, signal.SIGKILL)
            stopped += 1
        record_path.unlink(missing_ok=True)
    return stopped


def pytest_collection_modifyitems(items):
    """A test that asks for the real Milvus server is a ``server`` test, marked or not (``make check`` leaves
    the server tests out; ``store_uri``'s server case is marked where it asks for it)."""
    for item in items:
        if "milvus_server" in item.fixturenames:
            item.add_marker(pytest.mark.server)


@pytest.fixture(autouse=True)
def _lite_servers_end_with_the_test(tmp_path):
    """Each test's Lite files get their own servers; they go when the test ends (memory stays flat)."""
    yield
    stop_lite_servers(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def _lite_servers_end_with_the_session(tmp_path_factory):
    yield
    stop_lite_servers(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample images (40 JPEGs in ``<class>/`` folders)."""
    from mmrag_lab.workbench.runtime.sample import sample_dir as bundled

    return bundled()


@pytest.fixture(scope="session")
def tiny_encoder():
    """The ``tiny`` preset with deterministic untrained weights, on the CPU."""
    from mmrag_lab.encoders import load_encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_encoder("tiny", weights="untrained", device="cpu")


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory) -> MilvusServerHandle:
    """A real Milvus 2.3.5 standalone for the session; skipped, with the reason, only if it cannot start."""
    try:
        import milvus  # noqa: F401
    except ImportError:
        pytest.skip("the real-server tests need the 'milvus' package: pip install -e .[server]")
    errors = []
    for attempt in range(2):
        base_dir = tmp_path_factory.mktemp(f"milvus_server_{attempt}")
        try:
            handle = start_milvus_server(base_dir)
        except Exception as exc:  # a port taken between probe and bind: try once more with new ports
            errors.append(f"{type(exc).__name__}: {exc} (logs in {base_dir / 'logs'})")
            continue
        yield handle
        handle.server.stop()
        return
    pytest.skip("the milvus==2.3.5 standalone could not start: " + "; ".join(errors))


def start_milvus_server(base_dir: Path) -> MilvusServerHandle:
    """Start Milvus standalone in ``base_dir`` with every port free and on loopback."""
    from milvus import MilvusServer, MilvusServerConfig

    ports = {key: free_port() for key in MILVUS_PORT_KEYS}
    client_port, peer_port = ports["etcd_port"], free_port()
    # The embedded etcd ignores the package's etcd_port and binds 2379/2380 unless given a config file;
    # Milvus reads etcd.config.path from the ETCD_CONFIG_PATH environment variable.
    etcd_config = base_dir / "embed_etcd.yaml"
    etcd_config.write_text(
        "name: default\n"
        f"listen-client-urls: http://127.0.0.1:{client_port}\n"
        f"advertise-client-urls: http://127.0.0.1:{client_port}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer_port}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer_port}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer_port}\n"
    )
    server = MilvusServer(MilvusServerConfig(), **ports)
    server.set_base_dir(str(base_dir))
    previous = os.environ.get("ETCD_CONFIG_PATH")
    os.environ["ETCD_CONFIG_PATH"] = str(etcd_config)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    finally:
        if previous is None:
            os.environ.pop("ETCD_CONFIG_PATH", None)
        else:
            os.environ["ETCD_CONFIG_PATH"] = previous
    return MilvusServerHandle(f"http://127.0.0.1:{ports['proxy_port']}", base_dir, server)


@pytest.fixture(params=["lite", pytest.param("server", marks=pytest.mark.server)])
def store_uri(request, tmp_path) -> StoreTarget:
    """A fresh Milvus Lite file, or a unique collection on the session's Milvus server."""
    collection = f"t_{uuid.uuid4().hex[:12]}"
    if request.param == "lite":
        yield StoreTarget("lite", str(tmp_path / "lite.db"), collection)
        return
    server = request.getfixturevalue("milvus_server")
    target = StoreTarget("server", server.uri, collection)
    yield target
    _drop_quietly(target)


def _drop_quietly(target: StoreTarget) -> None:
    from pymilvus import MilvusClient

    try:
        client = MilvusClient(uri=target.uri)
        if client.has_collection(target.collection):
            client.drop_collection(target.collection)
        client.close()
    except Exception:  # the server may already be gone at the end of the session
        pass
