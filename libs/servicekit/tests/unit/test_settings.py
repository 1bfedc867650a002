from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings, SettingsError, load_settings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")
    service_name: str = "demo-svc"
    presence_timeout_s: float = Field(default=30.0, gt=0)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AUTH_JWT_SECRET",
        "AUTH_JWT_SECRET_FILE",
        "RABBITMQ_URL",
        "MONGODB_URL",
        "AUTH_JWKS_URL",
        "LIVECAST_ENV",
        "LIVECAST_NAMESPACE",
    ):
        monkeypatch.delenv(name, raising=False)


class TestSecretsFromFiles:
    def test_name_file_is_read_when_name_is_unset(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        secret = tmp_path / "jwt"
        secret.write_text("from-a-file-0123456789\n")
        monkeypatch.setenv("AUTH_JWT_SECRET_FILE", str(secret))
        settings = load_settings(DemoSettings)
        assert settings.auth_jwt_secret is not None
        assert settings.auth_jwt_secret.get_secret_value() == "from-a-file-0123456789"

    def test_plain_variable_wins_over_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        secret = tmp_path / "jwt"
        secret.write_text("from-file")
        monkeypatch.setenv("AUTH_JWT_SECRET_FILE", str(secret))
        monkeypatch.setenv("AUTH_JWT_SECRET", "from-env")
        settings = load_settings(DemoSettings)
        assert settings.auth_jwt_secret is not None
        assert settings.auth_jwt_secret.get_secret_value() == "from-env"

    def test_any_setting_can_come_from_a_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "url").write_text("amqp://u:p@broker:5672/")
        monkeypatch.setenv("RABBITMQ_URL_FILE", str(tmp_path / "url"))
        monkeypatch.setenv("AUTH_JWT_SECRET", "x")
        assert load_settings(DemoSettings).rabbitmq_url == "amqp://u:p@broker:5672/"

    def test_unreadable_file_stops_with_the_variable_named(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("AUTH_JWT_SECRET_FILE", str(tmp_path / "missing"))
        with pytest.raises(SystemExit) as exc:
            load_settings(DemoSettings)
        assert "AUTH_JWT_SECRET_FILE" in str(exc.value.code)


class TestRefusesBadSettings:
    def test_missing_auth_is_one_line(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SettingsError) as exc:
            load_settings(DemoSettings)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert "AUTH_JWT_SECRET" in err[0]

    def test_malformed_url_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("AUTH_JWT_SECRET", "x")
        monkeypatch.setenv("RABBITMQ_URL", "http://nope")
        with pytest.raises(SettingsError):
            load_settings(DemoSettings)
        assert capsys.readouterr().err.startswith("invalid setting RABBITMQ_URL:")

    def test_prefixed_service_setting_is_named_with_its_prefix(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("AUTH_JWT_SECRET", "x")
        monkeypatch.setenv("DEMO_PRESENCE_TIMEOUT_S", "-1")
        with pytest.raises(SettingsError):
            load_settings(DemoSettings)
        assert capsys.readouterr().err.startswith("invalid setting DEMO_PRESENCE_TIMEOUT_S:")

    def test_short_secret_is_refused_in_production(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("AUTH_JWT_SECRET", "short")
        monkeypatch.setenv("LIVECAST_ENV", "prod")
        with pytest.raises(SettingsError):
            load_settings(DemoSettings)
        assert "32 characters" in capsys.readouterr().err


def test_database_name_carries_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", "x")
    monkeypatch.setenv("LIVECAST_NAMESPACE", "tabc.")
    assert load_settings(DemoSettings).database_name == "tabc_demo_svc"
