"""A three-node RabbitMQ cluster on loopback, from the machine's own rabbitmq-server.

The nodes are private to one test run: own node names (`mscluster1@localhost`..), AMQP
ports (5681..) and distribution ports (25681..), data and logs under one directory, one
Erlang cookie shared by the nodes and the CLI (HOME is that directory), no plugins, and
none of /etc/rabbitmq's settings. The machine's own node (rabbit@..., port 5672) is never
touched; only epmd (4369) is shared.

    python -m tests.reliability.cluster start DIR   # prints the broker URL list
    python -m tests.reliability.cluster status DIR
    python -m tests.reliability.cluster stop DIR    # stops every node, removes DIR

The nodes are detached daemons: they outlive the process that started them, so whoever
starts a cluster stops it (scripts/test does, in its EXIT trap).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.servers import wait_for

# Debian's /usr/sbin wrappers switch to the rabbitmq user, and so to its HOME and cookie:
# call the scripts themselves.
SCRIPTS = Path("/usr/lib/rabbitmq/bin")
STATE_FILE = "cluster.json"
# Short, so a node cut off from its peers notices (and pauses itself) within ~10 s.
NET_TICKTIME = 10


def tool(name: str) -> str:
    path = SCRIPTS / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def missing_tool() -> str | None:
    """Why a cluster cannot be started on this machine, or None."""
    for name in ("rabbitmq-server", "rabbitmqctl"):
        if not (SCRIPTS / name).exists() and not shutil.which(name):
            return f"{name} is not installed"
    return None


def port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def epmd_names() -> dict[str, int]:
    """The node names registered with this machine's epmd, and their distribution ports."""
    try:
        with socket.create_connection(("127.0.0.1", 4369), timeout=2) as sock:
            sock.sendall(b"\x00\x01n")  # NAMES_REQ
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
    except OSError:
        return {}
    names = {}
    for line in data[4:].decode(errors="replace").splitlines():  # "name X at port N"
        parts = line.split()
        if len(parts) == 5 and parts[0] == "name":
            names[parts[1]] = int(parts[4])
    return names


@dataclass(frozen=True)
class Node:
    name: str  # e.g. mscluster1@localhost
    port: int  # AMQP
    dist_port: int

    @property
    def short(self) -> str:
        return self.name.split("@")[0]

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"


class ClusterError(RuntimeError):
    pass


class RabbitCluster:
    """Start, join, break and mend the nodes of a private RabbitMQ cluster."""

    def __init__(self, directory, nodes: list[Node]):
        self.directory = Path(directory).resolve()
        self.nodes = nodes
        self.timings: dict[str, float] = {}

    # --- creating and finding ---------------------------------------------------------

    @classmethod
    def create(
        cls, directory, *, size: int = 3, prefix: str = "mscluster", first_port: int = 5681
    ) -> "RabbitCluster":
        """A cluster description in `directory`, on the first free names and ports.

        Slot k uses names prefix{3k+1}.. and ports first_port+3k..: a second run on the
        same machine (or a cluster left behind) moves to the next slot instead of failing.
        """
        registered = epmd_names()
        for slot in range(10):
            nodes = [
                Node(
                    f"{prefix}{slot * size + i + 1}@localhost",
                    first_port + slot * size + i,
                    first_port + slot * size + i + 20000,
                )
                for i in range(size)
            ]
            taken = any(
                n.short in registered or port_answers(n.port) or port_answers(n.dist_port)
                for n in nodes
            )
            if not taken:
                cluster = cls(directory, nodes)
                cluster.directory.mkdir(parents=True, exist_ok=True)
                cluster._save()
                return cluster
        raise ClusterError("no free node names and ports for a cluster")

    @classmethod
    def load(cls, directory) -> "RabbitCluster":
        state = json.loads((Path(directory) / STATE_FILE).read_text())
        return cls(directory, [Node(**node) for node in state["nodes"]])

    def _save(self) -> None:
        state = {"nodes": [asdict(n) for n in self.nodes], "url": self.url}
        (self.directory / STATE_FILE).write_text(json.dumps(state, indent=2))

    @property
    def url(self) -> str:
        """The broker URL list kombu fails over along: every node, `;`-separated."""
        return ";".join(n.url for n in self.nodes)

    def node(self, which) -> Node:
        """A Node from a Node, a full or short name, an AMQP port or an index (0-based)."""
        if isinstance(which, Node):
            return which
        for n in self.nodes:
            if which in (n.name, n.short, n.port):
                return n
        if isinstance(which, int) and 0 <= which < len(self.nodes):
            return self.nodes[which]
        raise KeyError(which)

    # --- environment --------------------------------------------------------------------

    def node_dir(self, node: Node) -> Path:
        return self.directory / node.short

    def log_path(self, node: Node) -> Path:
        return self.node_dir(node) / "log" / f"{node.name}.log"

    def _env(self, node: Node | None = None) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RABBITMQ_", "ERL_")) and k not in ("HOME", "CONF_ENV_FILE")
        }
        env.update(
            HOME=str(self.directory),  # $HOME/.erlang.cookie: the nodes' and the CLI's
            RABBITMQ_CONF_ENV_FILE=str(self.directory / "rabbitmq-env.conf"),  # not /etc's
            ERL_EPMD_ADDRESS="127.0.0.1",
            LANG=env.get("LANG", "C.UTF-8"),
        )
        if node is not None:
            base = self.node_dir(node)
            env.update(
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                RABBITMQ_NODE_PORT=str(node.port),
                RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_CONFIG_FILE=str(base / "rabbitmq.conf"),
                RABBITMQ_CONFIG_FILES=str(base / "conf.d"),
                RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
                RABBITMQ_ENABLED_PLUGINS_FILE=str(self.directory / "enabled_plugins"),
                RABBITMQ_PLUGINS_EXPAND_DIR=str(base / "plugins-expand"),
                RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
                RABBITMQ_LOG_BASE=str(base / "log"),
                # The marker lets us find this node's beam.smp among the machine's processes.
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                    f"-kernel net_ticktime {NET_TICKTIME} -mscluster_node {base}"
                ),
            )
        return env

    def _write_files(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        cookie = self.directory / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(32)))
            cookie.chmod(0o400)
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")
        for node in self.nodes:
            base = self.node_dir(node)
            (base / "conf.d").mkdir(parents=True, exist_ok=True)
            (base / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = 127.0.0.1:{node.port}\n"
                "loopback_users.guest = true\n"
                # After a partition the nodes agree on a winning side and restart the
                # others, which rejoin: the cluster mends itself. (pause_minority does not
                # mend a node that was frozen, not cut off: on waking it finds its peers
                # at once, never pauses, and stays partitioned.)
                "cluster_partition_handling = autoheal\n"
                "log.console = false\n"
                "log.file.level = info\n"
            )
            (base / "advanced.config").write_text("[].\n")

    # --- the CLI ------------------------------------------------------------------------

    def ctl(self, node, *args: str, timeout: float = 60, program: str = "rabbitmqctl") -> str:
        """Run rabbitmqctl (or rabbitmq-queues, ...) against one node; its stdout."""
        node = self.node(node)
        command = [tool(program), "-n", node.name, *args]
        try:
            done = subprocess.run(
                command, env=self._env(), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as error:
            raise ClusterError(f"{' '.join(command[1:])} timed out after {timeout}s") from error
        if done.returncode != 0:
            raise ClusterError(
                f"{' '.join(command[1:])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done.stdout

    def _json(self, node, *args: str, timeout: float = 30):
        output = self.ctl(node, *args, "--formatter", "json", "-q", timeout=timeout)
        return json.loads(output or "null")

    # --- processes ----------------------------------------------------------------------

    def pid(self, node) -> int | None:
        """The OS pid of the node's beam.smp, or None when it is not running."""
        marker = ["-mscluster_node", str(self.node_dir(self.node(node)))]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if args and args[0].endswith("beam.smp"):
                for i in range(len(args) - 1):
                    if args[i : i + 2] == marker:
                        return int(entry.name)
        return None

    def registered(self, node) -> bool:
        return self.node(node).short in epmd_names()

    def _launch(self, node: Node) -> None:
        """`rabbitmq-server -detached`: returns at once; the node boots on its own."""
        (self.node_dir(node) / "log").mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [tool("rabbitmq-server"), "-detached"],
            cwd=self.node_dir(node),
            env=self._env(node),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise ClusterError(f"{node.name} did not launch: {done.stderr or done.stdout}")

    def _await(self, node: Node, log_from: int = 0, timeout: float = 120) -> None:
        """Wait until the node's RabbitMQ is up: it logs "Server startup complete" once its
        listeners are open. (Polling the log and the port costs nothing, while each
        rabbitmqctl call is an Erlang VM of its own, about a second of CPU.)"""

        launched = time.monotonic()

        def up() -> bool:
            # -detached returns before the VM it forks shows up: give that a moment.
            if self.pid(node) is None and time.monotonic() - launched > 15:
                raise ClusterError("its VM exited")
            return port_answers(node.port) and "Server startup complete" in self._log(
                node, log_from
            )

        try:
            wait_for(up, timeout=timeout, interval=0.1, what=f"{node.name} to start")
        except (AssertionError, ClusterError) as error:
            raise ClusterError(
                f"{node.name} did not start: {error}\n{self.log_tail(node)}"
            ) from None

    def _log(self, node: Node, offset: int = 0) -> str:
        try:
            with open(self.log_path(node), "rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _log_size(self, node: Node) -> int:
        try:
            return self.log_path(node).stat().st_size
        except OSError:
            return 0

    def log_tail(self, node, lines: int = 30) -> str:
        try:
            text = self.log_path(self.node(node)).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _each(self, func, nodes=None) -> list:
        """Run func(node) for every node at once (each one is mostly waiting)."""
        nodes = list(nodes if nodes is not None else self.nodes)
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            return list(pool.map(func, nodes))

    def _timed(self, what: str, func, *args):
        started = time.monotonic()
        result = func(*args)
        self.timings[what] = round(time.monotonic() - started, 1)
        return result

    # --- the whole cluster --------------------------------------------------------------

    def start(self) -> "RabbitCluster":
        """Start the nodes in parallel, then join the second and third to the first."""
        self._write_files()
        for node in self.nodes:
            if self.registered(node) or port_answers(node.port):
                raise ClusterError(f"{node.name} or port {node.port} is already in use")
        self._timed("boot", self._each, self._boot)
        self._timed("join", self.join)
        self._timed("healthy", self.wait_healthy)
        return self

    def _boot(self, node: Node) -> None:
        offset = self._log_size(node)
        self._launch(node)
        self._await(node, offset)

    def join(self) -> None:
        """stop_app / join_cluster / start_app on every node but the first (at once)."""
        first = self.nodes[0]

        def join(node: Node) -> None:
            if first.name in self.running_nodes(node):
                return
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app", timeout=120)

        self._each(join, self.nodes[1:])

    def restart(self) -> None:
        """Stop every node, then start them all again (in parallel, so none waits for the
        one that stopped last)."""
        self._timed("stop_all", self._each, self.stop_node)
        self._timed("start_all", self._each, self._boot)
        self._timed("restart_healthy", self.wait_healthy)

    def mend(self, timeout: float = 180) -> None:
        """Bring every node back into the cluster: resume the frozen, start the dead, and
        start RabbitMQ again where only its app was stopped."""
        for node in self.nodes:
            self.resume(node)
        dead = [n for n in self.nodes if self.pid(n) is None]
        if dead:
            self._each(self.start_node, dead)
        if self.healthy():
            return
        stopped = [n for n in self.nodes if self._app_stopped(n)]
        if stopped:
            time.sleep(3)  # after a partition, autoheal may be restarting it: let it
            for node in stopped:
                if self._app_stopped(node):
                    self.start_app(node)
        self.wait_healthy(timeout)

    def destroy(self) -> None:
        """Kill every node of this cluster (they hold nothing worth keeping), remove the
        directory."""
        for node in self.nodes:
            pid = self.pid(node)
            if pid:
                for sig in (signal.SIGCONT, signal.SIGKILL):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        break
        for node in self.nodes:
            try:
                wait_for(
                    lambda n=node: self.pid(n) is None and not self.registered(n),
                    timeout=15,
                    interval=0.1,
                    what=f"{node.name} to go",
                )
            except AssertionError as error:
                print(f"cluster: {error}", file=sys.stderr)
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- one node -----------------------------------------------------------------------

    def stop_app(self, node) -> None:
        """`rabbitmqctl stop_app`: the VM stays up, RabbitMQ in it stops (its clients are
        disconnected, its queue replicas stop; the others elect a new leader)."""
        self.ctl(node, "stop_app")

    def start_app(self, node) -> None:
        self.ctl(node, "start_app", timeout=120)  # returns once RabbitMQ is up

    def stop_node(self, node) -> None:
        """Stop RabbitMQ and its Erlang VM (`rabbitmqctl stop`)."""
        node = self.node(node)
        pid = self.pid(node)
        if pid is None:
            return
        self.ctl(node, "stop", timeout=120)
        wait_for(
            lambda: self.pid(node) is None and not self.registered(node),
            timeout=60,
            interval=0.1,
            what=f"{node.name} to stop",
        )

    def start_node(self, node) -> None:
        node = self.node(node)
        if self.pid(node) is None:
            wait_for(lambda: not self.registered(node), timeout=30, what="epmd to forget it")
            self._boot(node)

    def kill(self, node) -> None:
        """SIGKILL the node's VM: no goodbye to its peers or its clients."""
        node = self.node(node)
        pid = self.pid(node)
        if pid is None:
            raise ClusterError(f"{node.name} is not running")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: self.pid(node) is None, timeout=10, interval=0.05, what="the kill")

    def pause(self, node) -> None:
        """SIGSTOP the node's VM: to its peers and clients it is partitioned away (its
        sockets stay open, nothing answers); its peers drop it after net_ticktime."""
        pid = self.pid(node)
        if pid is None:
            raise ClusterError(f"{self.node(node).name} is not running")
        os.kill(pid, signal.SIGSTOP)

    def resume(self, node) -> None:
        pid = self.pid(node)
        if pid is not None:
            os.kill(pid, signal.SIGCONT)

    # --- what the cluster says ----------------------------------------------------------

    def _ask_any(self, func, prefer=None):
        """func(node) on the first node that answers (prefer first): the cluster's view."""
        order = list(self.nodes)
        if prefer is not None:
            order.remove(self.node(prefer))
            order.insert(0, self.node(prefer))
        errors = []
        for node in order:
            try:
                return func(node)
            except (ClusterError, ValueError) as error:
                errors.append(str(error)[:300])
        raise ClusterError("no node answered: " + " | ".join(errors))

    def app_running(self, node) -> bool:
        """Whether RabbitMQ runs in the node (its VM may run without it: stop_app)."""
        try:
            self.status(node)
        except ClusterError as error:
            if "requires the 'rabbit' app to be running" in str(error):
                return False
            raise
        return True

    def _app_stopped(self, node) -> bool:
        try:
            return not self.app_running(node)
        except ClusterError:
            return False  # unreachable for now: wait_healthy will tell

    def status(self, node) -> dict:
        return self._json(node, "cluster_status", timeout=20)

    def running_nodes(self, node) -> list[str]:
        return self.status(node).get("running_nodes", [])

    def healthy(self) -> bool:
        """Every node runs RabbitMQ, each sees all the others running, no partition."""
        names = sorted(n.name for n in self.nodes)

        def sound(node: Node) -> bool:
            try:
                status = self.status(node)
            except (ClusterError, ValueError):
                return False
            return sorted(status.get("running_nodes", [])) == names and not status.get("partitions")

        return all(self._each(sound))

    def wait_healthy(self, timeout: float = 120) -> None:
        wait_for(self.healthy, timeout=timeout, interval=1, what="the cluster to be healthy")

    def queues(self, *columns: str, prefer=None) -> dict[str, dict]:
        """list_queues, by name: {"name": {"leader": ..., "messages": ...}}."""

        def ask(node):
            rows = self._json(node, "list_queues", "name", *columns, timeout=30)
            return {row["name"]: row for row in rows or []}

        return self._ask_any(ask, prefer=prefer)

    def leader(self, queue: str) -> Node:
        """The node leading a quorum queue."""
        name = self.queues("leader")[queue]["leader"]
        return self.node(name)

    def messages(self, queue: str) -> int:
        """Messages in a queue, ready and unacknowledged."""
        return int(self.queues("messages")[queue]["messages"])


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop", "status"):
        print(__doc__, file=sys.stderr)
        return 2
    command, directory = argv
    state = Path(directory) / STATE_FILE
    if command == "start":
        if reason := missing_tool():
            print(f"cluster: {reason}", file=sys.stderr)
            return 1
        started = time.monotonic()
        try:
            cluster = RabbitCluster.create(directory)
        except ClusterError as error:
            print(f"cluster: {error}", file=sys.stderr)
            return 1
        try:
            cluster.start()
        except Exception as error:
            print(f"cluster: could not start: {error}", file=sys.stderr)
            cluster.destroy()
            return 1
        steps = " ".join(f"{k}={v}s" for k, v in cluster.timings.items())
        names = ", ".join(n.name for n in cluster.nodes)
        print(
            f"cluster: {names} up in {time.monotonic() - started:.1f}s ({steps}), "
            f"in {cluster.directory}",
            file=sys.stderr,
        )
        print(cluster.url)  # the only line on stdout: the broker URL list
        return 0
    if command == "stop":
        if state.exists():
            RabbitCluster.load(directory).destroy()
        shutil.rmtree(directory, ignore_errors=True)
        print(f"cluster: stopped, {directory} removed", file=sys.stderr)
        return 0
    if not state.exists():
        print(f"cluster: no cluster in {directory}", file=sys.stderr)
        return 1
    cluster = RabbitCluster.load(directory)
    for node in cluster.nodes:
        print(f"{node.name} {node.url} pid={cluster.pid(node)}")
    healthy = cluster.healthy()
    print(f"healthy={healthy}")
    print(cluster.url)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
