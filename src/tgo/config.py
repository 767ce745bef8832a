"""Settings: the only place that reads the environment (prefix ``TGO_``)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tgo.kit.private_files import private_dir


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TGO_", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Embedded database, media and secret key.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default sqlite+aiosqlite under TGO_DATA_DIR."
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections per process: up to 2 x this are opened under load and kept; "
        "size it so that processes x 2 x this stays under the server's max_connections.",
    )
    broker_url: str = Field(
        default="memory://", description="memory:// (in-process), amqp://... (RabbitMQ) or redis://..."
    )
    queue_name: str = Field(
        default="tgo", description="Broker queue/exchange/stream name (isolates deployments)."
    )
    redis_url: str | None = Field(default=None, description="Redis for shared rate limits (scale-out).")
    secret_key: SecretStr | None = Field(
        default=None, description="Signs sessions and events; required with PostgreSQL."
    )
    connect_url: str | None = Field(
        default=None, description="Base URL of TGO Connect; unset means the in-process reference network."
    )
    business_url: str | None = Field(
        default=None, description="Base URL where Connect posts events back; unset means in process."
    )
    connect_database_url: str | None = Field(
        default=None,
        description="Database of the reference Connect network; default: the main PostgreSQL database, "
        "or a sibling SQLite file (<name>-connect.db) next to the embedded one.",
    )
    connect_timeout_seconds: float = Field(default=10.0, description="Timeout of every ConnectClient call.")
    connect_event_interval_seconds: float = Field(
        default=1.0, description="How often Connect's event outbox is pumped to the Business side."
    )
    connect_event_retry_max_seconds: float = Field(
        default=60.0, description="Longest wait between two attempts to post one Connect event."
    )
    serve_start_timeout_seconds: int = Field(
        default=60,
        ge=1,
        description="`tgo serve --workers N`: how long a child process has to start (and later to answer "
        "the parent's health ping) before the parent kills and replaces it.",
    )
    worker_metrics_host: str = Field(default="127.0.0.1", description="Interface of `tgo worker`'s /metrics.")
    worker_metrics_port: int = Field(
        default=9400, ge=0, le=65535, description="Port of `tgo worker`'s /metrics; 0 turns it off."
    )
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=True, description="JSON log lines (false: human-readable).")
    media_dir: Path | None = Field(default=None, description="Media storage; default TGO_DATA_DIR/media.")
    max_json_body_bytes: int = Field(default=1_048_576, description="Largest accepted JSON body.")
    max_json_depth: int = Field(
        default=64,
        ge=1,
        le=512,
        description="Deepest nesting of arrays and objects accepted in a JSON body (deeper: 400 invalid_json).",
    )
    http_header_timeout_seconds: float = Field(
        default=10.0, description="Time a connection has to send a request's line and headers (then closed)."
    )
    http_body_timeout_seconds: float = Field(
        default=30.0, description="Longest wait for the next part of a request body (then 408)."
    )
    http_keep_alive_seconds: float = Field(default=30.0, description="Idle keep-alive connections close.")
    run_workers: bool | None = Field(
        default=None,
        description="Run delivery workers inside `tgo serve`; default true only with the memory broker.",
    )
    delivery_max_attempts: int = Field(default=12, description="Connect delivery attempts before failed.")
    delivery_retry_base_seconds: float = Field(default=1.0)
    delivery_retry_max_seconds: float = Field(default=300.0)
    delivery_claim_seconds: float = Field(
        default=60.0,
        description="How long a worker holds a message it is delivering before another may retry it.",
    )
    delivery_max_held: int = Field(
        default=256,
        ge=1,
        description="Most messages one process holds claimed for delivery at once; batch jobs beyond it wait "
        "unclaimed, and a stopping worker hands their jobs back to the broker.",
    )
    sweeper_interval_seconds: float = Field(default=5.0)
    sweeper_stale_seconds: float = Field(
        default=30.0, description="Age after which queued work is re-published."
    )
    publish_timeout_seconds: float = Field(
        default=5.0,
        description="Longest wait for the broker to take a job (a blocked or wedged broker); the sweeper "
        "re-publishes what it did not take.",
    )
    shutdown_timeout_seconds: float = Field(
        default=10.0, description="Longest wait for each background part to stop at shutdown."
    )
    sender_rate_per_second: float = Field(default=80.0, description="Delivery pace per sender number.")
    api_rate_limit_per_key: str = Field(default="600/second", description="`limits` notation.")
    api_rate_limit_per_tenant: str = Field(default="2000/second")
    webhook_allow_private_networks: bool = Field(default=False)
    webhook_connect_timeout_seconds: float = Field(
        default=5.0, description="Webhook TCP/TLS connect timeout."
    )
    webhook_read_timeout_seconds: float = Field(default=15.0, description="Webhook response read timeout.")
    webhook_response_max_bytes: int = Field(
        default=4096, description="Webhook response bytes read and stored per attempt."
    )
    webhook_retry_base_seconds: float = Field(default=5.0, description="First webhook retry delay.")
    webhook_retry_max_seconds: float = Field(default=7200.0, description="Longest webhook retry delay.")
    webhook_retry_window_seconds: float = Field(
        default=86400.0, description="How long a webhook delivery is retried before it is failed."
    )
    webhook_secret_grace_seconds: float = Field(
        default=86400.0, description="How long the previous secret still signs after a rotation."
    )
    webhook_sweeper_interval_seconds: float = Field(
        default=2.0, description="How often due webhook retries are looked for."
    )
    webhook_retention_days: float = Field(
        default=30.0, description="Finished webhook deliveries (and their events) are deleted after this."
    )
    otp_max_wrong_attempts: int = Field(default=5, ge=1, description="Wrong codes before an OTP is void.")
    otp_resend_cooldown_seconds: float = Field(
        default=60.0, ge=0, description="Shortest time between two OTPs of one tenant to one phone."
    )
    otp_max_sends_per_hour: int = Field(
        default=5, ge=1, description="OTPs one tenant may send to one phone in any hour."
    )
    otp_max_wrong_codes_per_day: int = Field(
        default=10,
        ge=1,
        description="Wrong codes one tenant may enter for one phone in 24 h; then it is locked out of that "
        "phone (no new verification, no code accepted) for 24 h and the owner is told in Connect.",
    )
    otp_max_sends_per_phone_per_day: int = Field(
        default=10, ge=1, description="OTP messages one phone receives from all tenants together in 24 h."
    )
    smpp_host: str | None = Field(default=None, description="SMSC host; unset means the sandbox carrier.")
    smpp_port: int = Field(default=2775)
    smpp_system_id: str = Field(default="tgo")
    smpp_password: SecretStr = Field(default=SecretStr(""))
    sms_verification_delay_seconds: float = Field(default=2.0)
    sms_delivery_max_attempts: int = Field(
        default=12, description="SMS submit attempts (retryable SMSC errors) before a message is failed."
    )
    worker_stop_seconds: float = Field(
        default=30.0,
        gt=0,
        description="On SIGTERM, the longest wait for the jobs a worker holds to finish (it claims nothing "
        "new meanwhile) before its clients close; what is still running then is left to the sweeper.",
    )
    redis_stream_claim_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Redis streams broker: a job taken and not acknowledged for this long (its worker died) "
        "is handed to another worker, and a consumer idle this long with nothing pending is removed.",
    )
    redis_stream_upkeep_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Redis streams broker: how often each worker trims acknowledged entries, reclaims a dead "
        "worker's and removes consumers that are gone.",
    )
    smpp_window: int = Field(
        default=10, ge=1, description="submit_sm in flight per SMPP bind, waiting for their submit_sm_resp."
    )
    smpp_binds: int = Field(
        default=1, ge=1, description="SMPP transceiver binds each process opens to the SMSC."
    )
    # Group commit (issues 15 and 18): sends that arrive together, and what Connect accounts write together
    # (Connect's replies), are written in one transaction.
    send_batch_window_ms: float = Field(
        default=1.0,
        ge=0,
        description="How long the first send (or Connect reply) of a batch waits for others before the batch "
        "is written.",
    )
    send_batch_max: int = Field(
        default=64,
        ge=1,
        description="Most sends (or Connect replies) written in one multi-row INSERT and one commit.",
    )
    cache_ttl_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Safety-net TTL of the in-process caches (API keys, tenant domains, sender numbers, the "
        "reachability directory, the opt-out list); change notices drop entries at once. 0 disables the caches.",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'tgo.db'}"

    @property
    def resolved_media_dir(self) -> Path:
        return self.media_dir or (self.data_dir / "media")

    @property
    def workers_in_process(self) -> bool:
        if self.run_workers is not None:
            return self.run_workers
        return self.broker_url.startswith("memory")

    def secret(self) -> bytes:
        """The secret key; generated once and kept in the data dir for the embedded default."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        if not self.is_sqlite:
            raise ConfigError(
                "TGO_SECRET_KEY is required when TGO_DATABASE_URL is not the embedded SQLite database"
            )
        path = self.data_dir / "secret_key"
        if not path.exists():
            private_dir(self.data_dir)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process generated it first
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
