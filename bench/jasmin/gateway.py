"""Run the real Jasmin SMS gateway (0.11.1, from PyPI, in its own virtual environment) on 127.0.0.1 for
interop tests and benchmarks. Standard library only, so the project's tests and bench scripts can use it.

    gw = JasminGateway(workdir)
    gw.start()                                   # venv via setup.sh, free ports, own vhost / Redis db
    gw.provision("tgo", "secret", smsc=("127.0.0.1", 2775))   # user + default MT route (+ connector)
    ... bind an SMPP client to 127.0.0.1:gw.smpp_port ...
    gw.stop()

`python bench/jasmin/gateway.py [--smsc-port N]` runs one in the foreground and prints its ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE.parent / ".venv-jasmin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def ensure_venv(venv: Path = DEFAULT_VENV) -> Path:
    """Create or reuse the Jasmin venv (bench/jasmin/setup.sh; idempotent)."""
    out = subprocess.run(
        ["bash", str(HERE / "setup.sh"), str(venv)], check=True, capture_output=True, text=True, timeout=900
    )
    return Path(out.stdout.strip().splitlines()[-1])


class JasminError(RuntimeError):
    pass


class JasminGateway:
    def __init__(
        self, workdir: Path, venv: Path = DEFAULT_VENV, redis_db: int | None = None, http_api: bool = False
    ) -> None:
        self.workdir = Path(workdir)
        self.http_api = http_api  # Jasmin's HTTP API (/send) on 127.0.0.1:http_port (benchmarks)
        self.http_port = 0
        self.venv = venv
        self.redis_db = redis_db if redis_db is not None else int(os.environ.get("TGO_JASMIN_REDIS_DB", "14"))
        self.vhost = "/"
        self.process: subprocess.Popen[bytes] | None = None
        self.smpp_port = 0
        self.jcli_port = 0
        self.log_path = self.workdir / "jasmind.log"
        self._own_vhost = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        self.venv = ensure_venv(self.venv)
        for sub in ("store", "log"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._make_vhost()
        self.smpp_port, self.jcli_port, self.http_port = free_port(), free_port(), free_port()
        spec = next(self.venv.glob("lib/python3*/site-packages/txamqp/specs/standard/amqp0-9-1.stripped.xml"))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TGO_", "PYTHON"))},
            "CONFIG_PATH": f"{self.workdir}/",
            "STORE_PATH": f"{self.workdir / 'store'}/",
            "LOG_PATH": str(self.workdir / "log"),
            "SMPP_SERVER_PORT": str(self.smpp_port),
            "JCLI_PORT": str(self.jcli_port),
            "ROUTER_PORT": str(free_port()),
            "CLIENT_MANAGEMENT_PORT": str(free_port()),
            "SMPP_SERVER_PB_PORT": str(free_port()),
            "HTTP_API_PORT": str(self.http_port),
            "AMQP_BROKER_SPEC": str(spec),
            "AMQP_BROKER_VHOST": self.vhost,
            "REDIS_CLIENT_DBID": str(self.redis_db),
        }
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(self.venv / "bin" / "python"),
                str(self.venv / "bin" / "jasmind.py"),
                "-c",
                str(HERE / "jasmin.cfg"),
                *([] if self.http_api else ["--disable-http-api"]),
            ],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise JasminError(f"jasmind exited with {self.process.returncode}:\n{self.log_tail()}")
            ports = [self.smpp_port, self.jcli_port] + ([self.http_port] if self.http_api else [])
            if all(_listening(p) for p in ports) and "jCli Started" in self.log():
                return
            time.sleep(0.2)
        self.stop()
        raise JasminError(f"jasmind did not come up in {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None
        if self._own_vhost:
            self._rabbitmqctl("delete_vhost", self.vhost)
            self._own_vhost = False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # -- RabbitMQ isolation ---------------------------------------------------------------------

    @staticmethod
    def _rabbitmqctl(*args: str) -> bool:
        tool = shutil.which("rabbitmqctl") or (
            "/usr/sbin/rabbitmqctl" if Path("/usr/sbin/rabbitmqctl").exists() else None
        )
        if tool is None:
            return False
        try:
            return subprocess.run([tool, *args], capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _make_vhost(self) -> None:
        """A vhost of our own on the machine's RabbitMQ; the default vhost if rabbitmqctl is unavailable."""
        name = f"tgo_jasmin_{uuid.uuid4().hex[:8]}"
        if self._rabbitmqctl("add_vhost", name) and self._rabbitmqctl(
            "set_permissions", "-p", name, "guest", ".*", ".*", ".*"
        ):
            self.vhost, self._own_vhost = name, True

    # -- jCli -----------------------------------------------------------------------------------

    def jcli(self, *lines: str, timeout: float = 15.0) -> str:
        """Type ``lines`` into Jasmin's management console and return everything it printed."""
        out = b""
        with socket.create_connection(("127.0.0.1", self.jcli_port), timeout=timeout) as s:
            out += self._read_banner(s, timeout)
            for line in (*lines, "quit"):
                s.sendall(line.encode() + b"\r\n")
                if line != "quit":
                    out += self._read_prompt(s, timeout)
        return out.decode(errors="replace")

    @staticmethod
    def _read_banner(s: socket.socket, timeout: float) -> bytes:
        # The welcome text ends with "Session ref: N"; the first prompt only follows the first command.
        buf = b""
        deadline = time.monotonic() + timeout
        while b"Session ref" not in buf or not buf.endswith(b"\n"):
            if time.monotonic() > deadline:
                raise JasminError(f"jCli did not greet: {buf[-300:]!r}")
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf

    @staticmethod
    def _read_prompt(s: socket.socket, timeout: float) -> bytes:
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            tail = buf.rstrip()
            if tail.endswith((b"jcli :", b">")):
                return buf
        raise JasminError(f"jCli did not answer: {buf[-300:]!r}")

    def provision(self, username: str, password: str, smsc: tuple[str, int] | None = None) -> str:
        """An SMPP user in its own group and a default MT route to a connector (started if ``smsc``)."""
        host, port = smsc or ("127.0.0.1", free_port())
        out = self.jcli(
            "group -a", "gid tgo", "ok",
            "user -a", f"username {username}", f"password {password}", "gid tgo", f"uid {username}", "ok",
            "smppccm -a", "cid smsc", f"host {host}", f"port {port}", "username jasmin", "password jasmin",
            "submit_throughput 0", "ok",
            "mtrouter -a", "type DefaultRoute", "connector smppc(smsc)", "rate 0.00", "ok",
        )  # fmt: skip
        for expected in (
            "Successfully added Group",
            "Successfully added User",
            "Successfully added connector",
        ):
            if expected not in out:
                raise JasminError(f"jCli provisioning failed ({expected!r} missing):\n{out}")
        if "Successfully added MTRoute" not in out:
            raise JasminError(f"jCli provisioning failed (MT route):\n{out}")
        if smsc is not None:
            started = self.jcli("smppccm -1 smsc")
            if "Successfully started connector" not in started:
                raise JasminError(f"connector did not start:\n{started}")
        return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run Jasmin 0.11.1 on 127.0.0.1 until interrupted.")
    parser.add_argument("--workdir", default=str(HERE.parent / "var" / "jasmin"))
    parser.add_argument("--username", default="tgo")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--smsc-port", type=int, default=None, help="start a connector to this SMSC port")
    args = parser.parse_args()
    gw = JasminGateway(Path(args.workdir))
    gw.start()
    try:
        gw.provision(args.username, args.password, ("127.0.0.1", args.smsc_port) if args.smsc_port else None)
        print(
            f"jasmin smpp=127.0.0.1:{gw.smpp_port} jcli=127.0.0.1:{gw.jcli_port} vhost={gw.vhost}", flush=True
        )
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
