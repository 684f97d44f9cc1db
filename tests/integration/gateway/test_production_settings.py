"""Production refuses to start on unsafe settings: the real command line as a
subprocess, a host loading the app factory itself (uvicorn), and the factory
in-process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.settings import DEV_SECRET_KEY, Settings, UnsafeSettings

ROOT = Path(__file__).resolve().parents[3]
STRONG = secrets.token_urlsafe(48)


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CG_")}
    clean |= {"PYTHONPATH": str(ROOT), "CG_ENV": "production"} | env
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["demo", "--customers", "1"],
        ["keys", "list"],
        ["insights", "refresh"],
        ["db", "upgrade"],
    ],
)
def test_every_command_refuses_production_without_a_secret_key_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    result = run(["-m", "gateway.cli.main", *command], tmp_path)
    assert_refused(result, "CG_SECRET_KEY")
    assert "secrets.token_urlsafe" in result.stderr


def test_serve_refuses_a_known_secret_key(tmp_path: Path) -> None:
    result = run(
        ["-m", "gateway.cli.main", "serve"], tmp_path, CG_SECRET_KEY=DEV_SECRET_KEY
    )
    assert_refused(result, "CG_SECRET_KEY")


@pytest.mark.parametrize(
    "secret", [DEV_SECRET_KEY, "short-but-random-9f3K", "a" * 64, "ab" * 40]
)
def test_a_known_short_or_patterned_secret_key_is_refused(secret: str) -> None:
    """What every command checks first (the one above, as a process)."""
    problems = Settings(env="production", secret_key=secret).production_problems()
    assert [p.split()[0] for p in problems] == ["CG_SECRET_KEY"], problems


def test_serve_refuses_a_weak_credential_by_its_name(tmp_path: Path) -> None:
    result = run(
        ["-m", "gateway.cli.main", "serve"],
        tmp_path,
        CG_SECRET_KEY=STRONG,
        CG_SHOPIFY_API_SECRET="shpss_demo_secret",
    )
    assert_refused(result, "CG_SHOPIFY_API_SECRET")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CG_JWT_SECRET", "hs256-secret"),
        ("CG_DEMO_API_KEY", "demo"),
        ("CG_INGEST_WRITE_KEY", "wk_demo"),
        ("CG_SHOPIFY_API_SECRET", "shpss_demo_secret"),
        ("CG_ZENDESK_WEBHOOK_SECRET", "zd-demo-webhook-secret"),
        ("CG_INGEST_SERVER_WRITE_KEY", "wk_server_2024"),
        ("CG_INGEST_WRITE_KEY", "wk_live_8f3a"),
        ("CG_SHOPIFY_API_SECRET", "ab" * 20),
        ("CG_ZENDESK_WEBHOOK_SECRET", "zendesk-secret"),
        ("CG_POSTHOG_WEBHOOK_SECRET", "ph-demo-destination-secret"),
        ("CG_POSTHOG_WEBHOOK_SECRET", "posthog-destination"),
    ],
)
def test_a_weak_or_published_credential_is_refused_by_its_name(
    variable: str, value: str
) -> None:
    settings = Settings(
        env="production",
        secret_key=STRONG,
        **{variable.removeprefix("CG_").lower(): value},
    )
    problems = settings.production_problems()
    assert len(problems) == 1, problems
    assert problems[0].startswith(variable), problems
    assert value not in problems[0]


def test_a_host_loading_the_app_factory_directly_is_refused_too(
    tmp_path: Path,
) -> None:
    args = ["-m", "uvicorn", "--factory", "gateway.app:create_app", "--port", "0"]
    result = run(args, tmp_path)
    assert_refused(result, "CG_SECRET_KEY")


def test_a_strong_production_configuration_runs_commands(tmp_path: Path) -> None:
    result = run(
        ["-m", "gateway.cli.main", "db", "upgrade"], tmp_path, CG_SECRET_KEY=STRONG
    )
    assert result.returncode == 0, result.stderr


def test_the_app_factory_refuses_production_settings_with_the_development_secret() -> (
    None
):
    with pytest.raises(UnsafeSettings, match="CG_SECRET_KEY"):
        create_app(Settings(env="production"))


def test_the_app_factory_builds_with_a_strong_secret_and_outside_production() -> None:
    create_app(Settings(env="production", secret_key=SecretStr(STRONG)))
    create_app(Settings(env="development"))


INVALID = [
    ({"CG_ENV": "prod"}, "CG_ENV"),
    ({"CG_MAX_DEPTH": "deep"}, "CG_MAX_DEPTH"),
    (
        {"CG_INGEST_WRITE_KEY": STRONG, "CG_INGEST_SERVER_WRITE_KEY": STRONG},
        "CG_INGEST_SERVER_WRITE_KEY",
    ),
    ({"CG_REDIS_URL": f"redis+cluster://:{STRONG}@node-a:six/"}, "CG_REDIS_URL"),
]
"""Settings that are not valid at all, in any environment: one line naming the
variable, never its value (it may be a secret)."""


ENTRY_POINTS = {
    "serve": ["-m", "gateway.cli.main", "serve"],
    "keys": ["-m", "gateway.cli.main", "keys", "list"],
    "uvicorn": ["-m", "uvicorn", "--factory", "gateway.app:create_app", "--port", "0"],
}


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (args, *INVALID[n % len(INVALID)])
        for n, args in enumerate(ENTRY_POINTS.values())
    ],
    ids=[f"{e}-{INVALID[n % len(INVALID)][1]}" for n, e in enumerate(ENTRY_POINTS)],
)
def test_invalid_settings_are_one_line_and_a_failing_status(
    args: list[str], env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    result = run(args, tmp_path, **{"CG_SECRET_KEY": STRONG, **env})
    assert_refused(result, variable)
    assert STRONG not in result.stderr


SECRETS = [
    "CG_SECRET_KEY",
    "CG_JWT_SECRET",
    "CG_DEMO_API_KEY",
    "CG_INGEST_WRITE_KEY",
    "CG_INGEST_SERVER_WRITE_KEY",
    "CG_SHOPIFY_API_SECRET",
    "CG_ZENDESK_WEBHOOK_SECRET",
    "CG_POSTHOG_WEBHOOK_SECRET",
]
"""Every credential production checks when set."""
WEAK = [
    "wk_demo",
    "shpss_demo_secret",
    "zd-demo-webhook-secret",
    "ph-demo-destination-secret",
    "short",
    "x" * 40,
]


@pytest.mark.parametrize("variable", SECRETS)
@pytest.mark.parametrize("value", WEAK)
def test_production_names_every_weak_or_published_credential(
    variable: str, value: str
) -> None:
    strong = {
        name.removeprefix("CG_").lower(): secrets.token_urlsafe(40) for name in SECRETS
    }
    strong[variable.removeprefix("CG_").lower()] = value
    problems = Settings(env="production", **strong).production_problems()
    assert len(problems) == 1, problems
    assert problems[0].startswith(variable), problems
    assert value not in problems[0]


def test_strong_credentials_and_the_demo_values_in_development_are_accepted() -> None:
    strong = {
        name.removeprefix("CG_").lower(): secrets.token_urlsafe(40) for name in SECRETS
    }
    assert Settings(env="production", **strong).production_problems() == []
    demo = {"ingest_write_key": "wk_demo", "shopify_api_secret": "shpss_demo_secret"}
    assert Settings(env="development", **demo).production_problems() == []
