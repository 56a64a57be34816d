"""One settings object, read once from the environment / `.env`, then passed in."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# How the OpenAI analyzer asks for JSON: structured outputs (a strict JSON schema as the response format) with JSON
# mode as the fallback for a server that refuses them, only structured outputs, or only JSON mode.
StructuredOutputs = Literal["auto", "json_schema", "json_object"]


STANDIN_REFUSED = ("the `standin` provider returns the same three words for every recording and is for load tests "
                   "only; this deployment does not allow it (ALLOW_STANDIN=true)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="Where embedded state lives (database, objects).")
    database_url: str | None = Field(None, repr=False, description="PostgreSQL URL (it may hold a password: never "
                                                                    "shown in repr); unset → embedded PostgreSQL.")
    database_app_url: str | None = Field(None, repr=False, description="URL of the role tenant-scoped work connects "
                                         "as (owns no table; row-level security applies); unset → DATABASE_URL's "
                                         "server as user `vigil_app` without a password (the embedded server).")
    object_store_url: str = Field("file://./data/objects", description="file://DIR or s3://bucket/prefix")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, a stand-in).")
    s3_region: str = "us-east-1"
    s3_sse: str = Field("AES256", description="Server-side encryption S3 is asked for on every write: AES256 "
                                              "(SSE-S3) | aws:kms | empty for none (a store without SSE).")
    s3_sse_kms_key_id: str | None = Field(None, description="KMS key for S3_SSE=aws:kms.")
    ray_address: str | None = Field(None, description="Ray cluster address; unset → local Ray.")
    transcribers: str = Field("whisper", description="Comma-separated speech providers.")
    analyzer: str = Field("offline", description="Analysis provider: offline | openai.")
    openai_api_key: str | None = Field(None, repr=False, description="Key for ANALYZER=openai.")
    openai_base_url: str | None = Field(None, description="Any OpenAI-compatible server (vLLM, Ray Serve LLM).")
    openai_models: str = Field("gpt-4o-mini", description="Comma-separated failover chain of models.")
    openai_structured_outputs: StructuredOutputs = Field(
        "auto", description="auto: a strict JSON schema as the response format, and JSON mode with the schema in the "
                            "prompt for a model whose server refuses it | json_schema | json_object.")
    analysis_timeout_seconds: float = Field(60.0, description="Bound on one model call.")
    daily_token_budget: int | None = Field(None, description="Default per-tenant model tokens per UTC day "
                                                            "(tenants may set their own); empty = unlimited.")
    daily_cost_budget_usd: float | None = Field(None, description="Default per-tenant model spend per UTC day, USD.")
    budget_alert_share: float = Field(0.8, description="Share of a budget at which an alert event is recorded.")
    openai_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description='USD per million tokens (in, out) by model, JSON: {"my-model": [0.2, 0.8]}; '
                                          "known OpenAI models have built-in prices.")
    whisper_model: str | None = Field(None, description="Whisper model: unset or `tiny.en` (the default), `base`, "
                                      "or a local CTranslate2 Whisper model directory.")
    whisper_threads: int = Field(2, description="CPU threads per Whisper decode.")
    whisper_workers: int = Field(1, description="Whisper decodes that may run at once in one process.")
    chunk_seconds: float = Field(120.0, description="Audio longer than twice this is cut into chunks at silences.")
    chunk_overlap_seconds: float = Field(1.0, description="Audio shared by neighbouring chunks.")
    chunk_parallelism: int = Field(2, description="Chunks of one provider transcribed at once.")
    diarization: Literal["resemblyzer", "logmel", "off"] = Field(
        "resemblyzer", description="Speaker turns from the audio, beside transcription: the speaker embedder "
                                   "(resemblyzer: the voice encoder its wheel ships; logmel: a model-free baseline), "
                                   "or off.")
    diarization_hop_seconds: float = Field(0.75, gt=0, description="Step between 1.6 s embedding windows.")
    diarization_speakers: int | None = Field(None, ge=1, le=8, description="A fixed speaker count; unset: "
                                             "estimated between 2 and DIARIZATION_MAX_SPEAKERS.")
    diarization_max_speakers: int = Field(4, ge=2, le=8, description="Most speakers the estimate may find.")
    standin_latency_seconds: float = Field(1.0, description="Latency of the `standin` provider (load tests).")
    allow_standin: bool = Field(False, description="Offer the `standin` provider, which returns the same three words "
                                "for every recording: for load tests and benches only, never a real deployment.")
    provider_timeout_seconds: float = Field(900.0, description="Bound on one provider call (submit + wait).")
    assemblyai_api_key: str | None = Field(None, repr=False, description="Needed for TRANSCRIBERS=assemblyai.")
    assemblyai_base_url: str | None = Field(None, description="Override the AssemblyAI API address.")
    google_speech_endpoint: str | None = Field(None, description="Override the Speech API gRPC endpoint.")
    google_speech_insecure: bool = Field(False, description="Plaintext gRPC, no credentials: local stand-ins only.")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dashboard_port: int = 8501
    ray_dashboard_port: int = 8265
    api_url: str | None = Field(None, description="Base URL clients use; default http://api_host:api_port.")
    api_ingress: Literal["proxy", "direct"] = Field(
        "direct", description="How HTTP reaches the API replica when Vigil starts its own Ray: `direct`, Serve's "
                              "direct ingress, the replica itself listening on api_port (one process and one hop "
                              "less per request: 2-3x the reads per second on 2 cores; one API replica per "
                              "machine; the sentence encoder takes api_port + 1); `proxy`, through Serve's HTTP "
                              "proxy on api_port. A cluster's mode is set in its environment (docs/deployment.md).")

    api_max_ongoing_requests: int = Field(16, description="Requests one API replica works on at once.")
    api_max_queued_requests: int = Field(32, description="Requests waiting for a replica; beyond: 429.")
    api_retry_after_seconds: float = Field(5.0, description="Retry-After sent with a 429.")
    api_read_threads: int = Field(4, ge=1, description="Threads one API replica runs its polled reads on (job "
                                  "status, a session, the queue, a transcript). Few on purpose: under load, 40 "
                                  "threads spent more time handing Python's lock to each other than 4 did.")
    api_rate_limit: str = Field("1200/minute", description="Requests per API token per replica, in `limits` "
                                                           "notation (e.g. 20/second, 1200/minute); empty: none.")
    auth_cache_seconds: float = Field(5.0, description="How long an API replica remembers who a token signs in as: "
                                      "a revoked token, a changed role or access taken away is seen within this "
                                      "many seconds; 0: look every request up.")
    max_upload_bytes: int = 2 * 1024**3
    upload_url_ttl_seconds: int = Field(3600, description="How long a direct-upload URL stays valid.")
    encryption_keys: str | None = Field(None, repr=False, description="Key-encryption keys for transcripts at rest, "
                                        "'kid:base64key,…' (the last is active unless ENCRYPTION_ACTIVE_KEY).")
    encryption_active_key: str | None = Field(None, description="Key id new data is sealed under; default: the last.")
    encryption_keys_file: Path | None = Field(None, description="A keyring file (same format), re-read when it "
                                              "changes; `vigil up` keeps one under DATA_DIR when ENCRYPTION_KEYS is "
                                              "unset, and `vigil keys rotate` adds a key to it.")
    secrets_backend: str = Field("env", description="Where secrets come from besides the environment: env | aws "
                                                    "(AWS Secrets Manager, secret ids PREFIX + variable name).")
    secrets_prefix: str = "vigil/"
    secrets_region: str = "us-east-1"
    secrets_endpoint_url: str | None = Field(None, description="Secrets Manager endpoint override (a stand-in).")
    secrets_ttl_seconds: float = Field(300.0, description="How long a fetched secret is cached.")
    signing_key: str | None = Field(None, repr=False, description="Secret for signed links (the local store's "
                                    "upload URLs, alerts' acknowledge links); `vigil up` creates one under DATA_DIR "
                                    "when unset.")
    audit_key: str | None = Field(None, repr=False, description="HMAC key audit entries are sealed with, at least "
                                  "16 characters (never in the database); `vigil up` creates one in "
                                  "DATA_DIR/audit-key when unset.")
    # People sign in through an OpenID Connect provider when OIDC_ISSUER is set (docs/sign-in.md); API tokens stay
    # for scripts and the CLI, and are the only way in when it is not.
    oidc_issuer: str | None = Field(None, description="Issuer URL of the OpenID Connect provider people sign in "
                                    "with (its /.well-known/openid-configuration is read); unset: API tokens only.")
    oidc_client_id: str | None = Field(None, description="The dashboard's client id at OIDC_ISSUER; also the "
                                       "audience of the ID tokens the API accepts.")
    oidc_client_secret: str | None = Field(None, repr=False, description="The dashboard's client secret at "
                                           "OIDC_ISSUER.")
    oidc_audience: str | None = Field(None, description="Audiences the API accepts in OIDC_ISSUER's tokens, "
                                      "comma-separated (e.g. an access token's api://vigil); default: "
                                      "OIDC_CLIENT_ID.")
    oidc_other_issuers: dict[str, str] = Field(
        default_factory=dict, description='More providers whose tokens the API accepts (JSON, issuer → audience: '
                                          '{"https://acme.okta.com": "0oa1b2c3"}), for tenants whose people call '
                                          "the API with their own provider's tokens.")
    oidc_redirect_uri: str | None = Field(None, description="Where the provider sends people back to; register it "
                                          "at the provider. Default: DASHBOARD_URL + /oauth2callback.")
    oidc_scopes: str = Field("openid email profile", description="Scopes the dashboard asks for (Okta: add "
                             "`groups` for the groups claim).")
    oidc_cookie_secret: str | None = Field(None, repr=False, description="Signs the dashboard's sign-in cookie; "
                                           "`vigil up` keeps one in DATA_DIR/dashboard-cookie-secret when unset.")
    ffmpeg_timeout_seconds: float = 600.0
    stage_max_attempts: int = 3
    job_lease_seconds: float = 120.0
    dispatcher_poll_seconds: float = 0.5
    max_jobs_in_flight: int = Field(4, description="Stages the dispatcher runs at once, all stages together.")
    stage_limits: dict[str, int] = Field(
        default_factory=lambda: {"extract": 2, "transcribe": 2, "analyze": 4},
        description="Per-stage cap on work in flight (JSON), e.g. bounded by CPUs or a provider's quota.")
    warm_workers: int = Field(2, ge=0, description="Stage workers the dispatcher warms when it starts (imports, a "
                                                   "database connection, ffmpeg, the diarizer, the analyzer), so the "
                                                   "first sessions do not pay for them; 0: none.")
    stage_timeouts: dict[str, float] = Field(
        default_factory=lambda: {"extract": 900.0, "transcribe": 3600.0, "analyze": 600.0},
        description="Seconds a stage may run before it is cancelled and retried (JSON).")
    retry_base_seconds: float = 2.0
    slo_api_p95_seconds: float = Field(0.5, description="SLO: API p95 latency (`vigil slo`).")
    slo_task_success_rate: float = Field(0.99, description="SLO: share of stage attempts that succeed.")
    slo_queue_p95_seconds: float = Field(600.0, description="SLO: p95 of upload → analysis ready.")
    slo_failover_p95_seconds: float = Field(60.0, description="SLO: p95 duration of work that failed over to "
                                                              "another model or speech provider.")
    slo_alert_delivery_p95_seconds: float = Field(60.0, description="SLO: p95 of a flag's alert from the analysis "
                                                  "commit to its delivery, retries included.")
    retention_media_days: int | None = Field(None, description="Default days an original upload is kept after its "
                                             "audio is extracted (tenants may set their own); empty = keep.")
    retention_content_days: int | None = Field(None, description="Default days audio and transcripts are kept; "
                                               "empty = keep.")
    alert_interval_seconds: float = Field(1.0, description="How often the dispatcher delivers due alerts.")
    alert_max_attempts: int = Field(60, description="Tries of one alert delivery before it is dead (with the "
                                    "defaults, about 15 minutes of a receiver failing).")
    alert_retry_base_seconds: float = Field(2.0, description="Backoff base between alert tries (doubles, jitter).")
    alert_retry_max_seconds: float = Field(15.0, description="Longest wait between alert tries, so a receiver "
                                           "that comes back hears within about this long.")
    alert_timeout_seconds: float = Field(5.0, description="Bound on one webhook call or SMTP exchange.")
    alert_link_hours: float = Field(72.0, description="Hours an alert's one-time acknowledge link stays valid.")
    smtp_url: str | None = Field(None, repr=False, description="SMTP relay for email alerts: smtp://[user:pass@]host"
                                 "[:port] (STARTTLS when the server offers it) or smtps://… (TLS); empty = email "
                                 "channels refused.")
    alert_email_from: str = Field("vigil-alerts@localhost", description="From address of email alerts.")
    dashboard_url: str | None = Field(None, description="Base URL alerts link to; default http://api_host:"
                                                        "dashboard_port.")
    retention_interval_seconds: float = Field(3600.0, description="How often the dispatcher schedules the "
                                              "retention sweep as a Ray task.")
    audit_checkpoint_interval_seconds: float = Field(3600.0, description="How often the dispatcher checkpoints "
                                                     "each tenant's audit head to the object store.")
    audit_checkpoint_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        "COMPLIANCE", description="S3 Object Lock mode of checkpoints, on a bucket that has Object Lock.")
    audit_checkpoint_retain_days: int = Field(2555, ge=1, description="Days a checkpoint stays locked (7 years).")
    # Live screens (vigil.services.events, GET /api/v1/events, the dashboard's self-refreshing pages).
    events_poll_seconds: float = Field(0.5, gt=0, description="How often an open event stream looks for new events "
                                                             "(one short database read each time).")
    events_keepalive_seconds: float = Field(15.0, gt=0, description="Seconds between keepalive comments on a quiet "
                                                                   "event stream.")
    events_stream_max_seconds: float = Field(300.0, gt=0, description="How long the server keeps one event stream "
                                             "open before ending it; a client resumes with Last-Event-ID, and its "
                                             "token is checked again.")
    events_keep_hours: float = Field(24.0, gt=0, description="Events older than this are pruned (a live screen "
                                                            "only needs recent ones).")
    events_prune_interval_seconds: float = Field(3600.0, gt=0, description="How often the dispatcher prunes events.")
    dashboard_refresh_seconds: float = Field(5.0, gt=0, description="How often the dashboard's review queue and Jobs "
                                                                   "page refresh their tables by themselves.")
    whisper_beam_size: int = Field(1, ge=1, le=10, description="Whisper's first pass: 1 is greedy, more is beam "
                                   "search. Always temperature 0, so the same audio gives the same words.")
    whisper_vad_filter: bool = Field(False, description="Whisper's first pass decodes only what Silero VAD calls "
                                     "speech (coverage is checked against VAD either way).")
    whisper_batch_size: int = Field(0, ge=0, description="> 0: Whisper decodes through faster-whisper's "
                                    "BatchedInferencePipeline, this many pieces of speech per batch; 0: window by "
                                    "window.")
    coverage_min_gap_seconds: float = Field(1.0, gt=0, description="Detected speech no segment covers for this long "
                                            "or longer is decoded again on its own, then marked inaudible.")

    @model_validator(mode="after")
    def _standin_only_when_allowed(self) -> Settings:
        if "standin" in self.transcriber_names and not self.allow_standin:
            raise ValueError(STANDIN_REFUSED)
        return self

    @cached_property
    def transcriber_names(self) -> list[str]:
        return [name.strip() for name in self.transcribers.split(",") if name.strip()]

    @property
    def base_url(self) -> str:
        return self.api_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def oidc_trusted_issuers(self) -> dict[str, list[str]]:
        """Every provider whose tokens the API accepts, with the audiences it accepts from each. An issuer is compared
        with a token's `iss` exactly as written (Auth0's ends in a slash, Okta's does not)."""
        trusted = {issuer: [audience] for issuer, audience in self.oidc_other_issuers.items()}
        if self.oidc_enabled:
            audiences = [a.strip() for a in (self.oidc_audience or self.oidc_client_id or "").split(",") if a.strip()]
            trusted[str(self.oidc_issuer)] = audiences
        return trusted

    @property
    def dashboard_base_url(self) -> str:
        return (self.dashboard_url or f"http://{self.api_host}:{self.dashboard_port}").rstrip("/")

    @property
    def embedded_pg_dir(self) -> Path:
        return self.data_dir / "pg"
