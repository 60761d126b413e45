"""Specification of the configuration (homeward/config.py) and `homeward check-config`.

One TOML file, every key overridable by `HOMEWARD_<KEY>`; a wrong configuration is
refused with one line per problem that names the key, never with a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from homeward.config import Config, ConfigError, load_config

HOMEWARD = Path(sys.executable).parent / "homeward"

VALID = """\
homeserver = "https://matrix.example.org/"
user_id = "@homeward:example.org"
password = "from-the-file"
data_dir = "state"
allowed_inviters = ["@nurse:example.org"]
timezone = "Europe/Stockholm"
language = "sv"
"""

# Everything required except credentials, which the tests add in the file or the env.
NO_CREDENTIALS = """\
homeserver = "https://matrix.example.org"
user_id = "@homeward:example.org"
"""


def write(tmp_path: Path, text: str, name: str = "homeward.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return caught.value.problems


def config_with(**fields: object) -> Config:
    return Config(homeserver="https://matrix.example.org", user_id="@homeward:example.org", password="x", **fields)


# --- a valid file ---------------------------------------------------------------------


def test_a_valid_file_loads_with_its_values(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {})
    assert config.homeserver == "https://matrix.example.org"  # trailing slash dropped
    assert config.user_id == "@homeward:example.org"
    assert config.password is not None and config.password.get_secret_value() == "from-the-file"
    assert config.allowed_inviters == ["@nurse:example.org"]
    assert config.timezone == "Europe/Stockholm"
    assert config.language == "sv"
    assert config.encryption is True


def test_relative_data_dir_resolves_next_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load_config(write(tmp_path, VALID), {})
    assert config.data_dir == (tmp_path / "state").resolve()
    assert config.store_path == (tmp_path / "state" / "homeward.sqlite3").resolve()


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "absolute"
    config = load_config(write(tmp_path, NO_CREDENTIALS + f'password = "x"\ndata_dir = "{target}"\n'), {})
    assert config.data_dir == target


# --- environment overrides ------------------------------------------------------------


def test_password_can_come_from_the_environment_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, NO_CREDENTIALS), {"HOMEWARD_PASSWORD": "from-the-env"})
    assert config.password is not None and config.password.get_secret_value() == "from-the-env"


def test_environment_overrides_a_value_in_the_file(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, VALID),
        {"HOMEWARD_USER_ID": "@other:example.net", "HOMEWARD_LANGUAGE": "nb", "HOMEWARD_PASSWORD": "env"},
    )
    assert config.user_id == "@other:example.net"
    assert config.language == "nb"
    assert config.password is not None and config.password.get_secret_value() == "env"


def test_allowed_inviters_from_the_environment_as_json(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_ALLOWED_INVITERS": '["@a:example.org", "*:example.net"]'})
    assert config.allowed_inviters == ["@a:example.org", "*:example.net"]


def test_allowed_inviters_from_the_environment_as_a_comma_list(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_ALLOWED_INVITERS": "@a:example.org, *:example.net ,*"})
    assert config.allowed_inviters == ["@a:example.org", "*:example.net", "*"]


def test_allowed_inviters_with_broken_json_in_the_environment_is_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID), {"HOMEWARD_ALLOWED_INVITERS": '["@a:example.org"'})
    assert len(found) == 1
    assert "HOMEWARD_ALLOWED_INVITERS" in found[0]


def test_encryption_false_from_the_environment_turns_encryption_off(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_ENCRYPTION": "false"})
    assert config.encryption is False


def test_encryption_true_from_the_environment_keeps_encryption_on(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID + "encryption = false\n"), {"HOMEWARD_ENCRYPTION": "true"})
    assert config.encryption is True


def test_an_unreadable_boolean_in_the_environment_is_a_problem_not_false(tmp_path: Path) -> None:
    # A typo such as HOMEWARD_ENCRYPTION=ture must stop start-up, not silently turn encryption off.
    with pytest.raises(ConfigError) as caught:
        config = load_config(write(tmp_path, VALID), {"HOMEWARD_ENCRYPTION": "ture"})
        pytest.fail(f"HOMEWARD_ENCRYPTION=ture was accepted as encryption={config.encryption}")
    assert any("encryption" in p.lower() for p in caught.value.problems)


def test_unrelated_environment_variables_are_ignored(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_NOT_A_KEY": "x", "PATH": "/bin"})
    assert config.language == "sv"


# --- one message per problem, naming the key ------------------------------------------


def test_unknown_key_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID + "colour = 'blue'\n"))
    assert len(found) == 1
    assert "colour" in found[0]
    assert "not a known key" in found[0]


def test_bad_user_id_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID.replace("@homeward:example.org", "homeward")))
    assert len(found) == 1
    assert "user_id" in found[0]


def test_bad_homeserver_url_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID.replace("https://matrix.example.org/", "matrix.example.org")))
    assert len(found) == 1
    assert "homeserver" in found[0]


def test_unknown_timezone_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID.replace("Europe/Stockholm", "Europe/Atlantis")))
    assert len(found) == 1
    assert "timezone" in found[0]
    assert "Europe/Atlantis" in found[0]


def test_unsupported_language_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID.replace('language = "sv"', 'language = "de"')))
    assert len(found) == 1
    assert "language" in found[0]


def test_bad_inviter_pattern_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID.replace('["@nurse:example.org"]', '["nurse"]')))
    assert len(found) == 1
    assert "allowed_inviters" in found[0]
    assert "'nurse'" in found[0]


def test_missing_credentials_name_password_and_access_token(tmp_path: Path) -> None:
    found = problems(write(tmp_path, NO_CREDENTIALS))
    assert len(found) == 1
    assert "password" in found[0]
    assert "access_token" in found[0]


def test_missing_required_key_is_named_in_the_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, 'user_id = "@homeward:example.org"\npassword = "x"\n'))
    assert len(found) == 1
    assert "homeserver" in found[0]
    assert "required" in found[0]


def test_two_problems_give_two_lines_each_naming_its_key(tmp_path: Path) -> None:
    text = VALID.replace("Europe/Stockholm", "Europe/Atlantis").replace('language = "sv"', 'language = "de"')
    found = problems(write(tmp_path, text))
    assert len(found) == 2
    assert any("timezone" in p for p in found)
    assert any("language" in p for p in found)


def test_missing_credentials_are_reported_together_with_other_problems(tmp_path: Path) -> None:
    # "listing every problem": a bad URL must not hide that credentials are missing too.
    found = problems(write(tmp_path, NO_CREDENTIALS.replace("https://matrix.example.org", "matrix.example.org")))
    assert any("homeserver" in p for p in found)
    assert any("password" in p for p in found), f"only {found!r}: the missing credentials were not reported"


def test_every_problem_line_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "colour = 'blue'\nshade = 'dark'\n")
    found = problems(path)
    assert len(found) == 2
    assert all(str(path) in p for p in found)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "homeserver = \n")
    found = problems(path)
    assert len(found) == 1
    assert str(path) in found[0]
    assert "TOML" in found[0]


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    found = problems(path)
    assert found == [f"{path}: no such file"]


def test_the_password_never_appears_in_an_error(tmp_path: Path) -> None:
    text = VALID.replace('password = "from-the-file"', 'password = "hunter2-secret"') + "colour = 1\n"
    found = problems(write(tmp_path, text), {"HOMEWARD_PASSWORD": "env-secret-42"})
    assert not any("hunter2-secret" in p or "env-secret-42" in p for p in found)


# --- who may invite the bot -----------------------------------------------------------


def test_inviter_allowed_by_exact_user_id() -> None:
    config = config_with(allowed_inviters=["@nurse:example.org"])
    assert config.inviter_allowed("@nurse:example.org")
    assert not config.inviter_allowed("@doctor:example.org")
    assert not config.inviter_allowed("@nurse:example.net")


def test_inviter_allowed_by_server_pattern() -> None:
    config = config_with(allowed_inviters=["*:example.org"])
    assert config.inviter_allowed("@anyone:example.org")
    assert not config.inviter_allowed("@anyone:example.net")
    assert not config.inviter_allowed("@anyone:evil-example.org")
    assert not config.inviter_allowed("@anyone:sub.example.org")


def test_inviter_allowed_by_star_allows_everyone() -> None:
    config = config_with(allowed_inviters=["*"])
    assert config.inviter_allowed("@anyone:anywhere.example")


def test_no_inviter_is_allowed_by_default() -> None:
    assert not config_with().inviter_allowed("@nurse:example.org")


# --- homeward check-config ------------------------------------------------------------


def run_check_config(path: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    return subprocess.run(
        [str(HOMEWARD), "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )


def test_check_config_with_a_bad_file_exits_2_naming_the_key_without_traceback(tmp_path: Path) -> None:
    result = run_check_config(write(tmp_path, VALID + "colour = 'blue'\n"))
    assert result.returncode == 2
    assert "colour" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_with_a_good_file_exits_0(tmp_path: Path) -> None:
    result = run_check_config(write(tmp_path, VALID))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_config_with_a_file_that_is_not_utf8_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(("# Barneavdelingen, Tromsø\n" + VALID).encode("latin-1"))
    result = run_check_config(path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    assert str(path) in result.stderr


# --- who may open a case ----------------------------------------------------------------


def test_nobody_opens_cases_by_default() -> None:
    assert not config_with().case_opener("@nurse:example.org")


def test_case_openers_match_like_allowed_inviters() -> None:
    config = config_with(case_openers=["@nurse:example.org", "*:hospital.example"])
    assert config.case_opener("@nurse:example.org") and config.case_opener("@anyone:hospital.example")
    assert not config.case_opener("@doctor:example.org") and not config.case_opener("@anyone:evil-hospital.example")
    assert config_with(case_openers=["*"]).case_opener("@anyone:anywhere.example")


def test_a_malformed_case_opener_is_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID + 'case_openers = ["nurse"]\n'))
    assert len(found) == 1 and "case_openers" in found[0] and "*:example.org" in found[0]


def test_case_openers_from_the_environment_as_a_comma_list(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_CASE_OPENERS": "@a:example.org, *:example.net"})
    assert config.case_openers == ["@a:example.org", "*:example.net"]


# --- which servers care rooms admit -------------------------------------------------------


def test_care_rooms_admit_only_the_bots_own_server_by_default() -> None:
    config = config_with()
    assert config.allowed_servers == ["example.org"]
    assert config.server_allowed("@nurse:example.org") and config.server_allowed("@nurse:example.org:8448")
    assert not config.server_allowed("@nurse:example.net") and not config.server_allowed("@nurse:sub.example.org")


def test_allowed_servers_must_include_the_bots_own_server(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID + 'allowed_servers = ["partner.example"]\n'))
    assert (
        len(found) == 1
        and "allowed_servers" in found[0]
        and "'example.org'" in found[0]
        and "locks itself out" in found[0]
    )


@pytest.mark.parametrize("server", ["example.org:8448", "10.0.0.7", "[::1]", "*.example.org", "exa mple.org"])
def test_allowed_servers_are_dns_names_without_port_or_wildcard(tmp_path: Path, server: str) -> None:
    found = problems(write(tmp_path, VALID + f'allowed_servers = ["example.org", "{server}"]\n'))
    assert len(found) == 1 and "allowed_servers" in found[0] and repr(server) in found[0]


def test_a_bot_on_an_ip_literal_server_is_refused_since_care_rooms_deny_ip_literals(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID.replace("@homeward:example.org", "@homeward:10.0.0.7")))
    assert len(found) == 1 and "IP address" in found[0]


def test_allowed_servers_from_the_environment(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_ALLOWED_SERVERS": '["example.org", "Partner.Example"]'})
    assert config.allowed_servers == ["example.org", "partner.example"]


# --- rate limits --------------------------------------------------------------------------


def test_rate_limits_override_by_command_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID + '[rate_limits]\n"case new" = "5/1h"\nremind = "off"\n'), {})
    assert {name: str(rate) if rate else None for name, rate in config.rate_overrides.items()} == {
        "case new": "5/1h",
        "remind": None,
    }


def test_a_malformed_rate_limit_is_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID + '[rate_limits]\n"case new" = "five"\n'))
    assert len(found) == 1 and "rate_limits" in found[0] and "case new" in found[0] and "5/1h" in found[0]


def test_rate_limits_from_the_environment_as_json(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_RATE_LIMITS": '{"remind": "10/1h"}'})
    assert config.rate_limits == {"remind": "10/1h"}


def test_check_config_names_a_rate_limit_for_a_command_that_does_not_exist(tmp_path: Path) -> None:
    result = run_check_config(write(tmp_path, VALID + '[rate_limits]\n"case neww" = "5/1h"\n'))
    assert result.returncode == 2 and "case neww" in result.stderr


def test_the_store_key_and_the_debug_loggers_come_from_the_environment(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, VALID), {"HOMEWARD_STORE_KEY": "kept-in-a-vault", "HOMEWARD_DEBUG_LOGGERS": "nio, aiosqlite"}
    )
    assert config.store_key is not None and config.store_key.get_secret_value() == "kept-in-a-vault"
    assert "kept-in-a-vault" not in repr(config)  # a secret, like the password
    assert config.debug_loggers == ["nio", "aiosqlite"]
    defaults = load_config(write(tmp_path, VALID), {})
    assert (
        defaults.store_key,
        defaults.debug_loggers,
        defaults.export_pdf_limit,
        defaults.export_pdf_window_seconds,
    ) == (None, [], 5, 600)


def test_a_debug_logger_that_is_no_logger_name_and_a_zero_pdf_limit_are_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID + 'debug_loggers = ["nio; rm -rf"]\nexport_pdf_limit = 0\n'))
    assert any("debug_loggers" in p and "logger name" in p for p in found), found
    assert any("export_pdf_limit" in p for p in found), found


# --- the coordinator's desk -------------------------------------------------------------------


def test_the_desk_keys_default_to_a_half_past_seven_worklist_seven_quiet_days_and_no_removal() -> None:
    config = config_with()
    assert (config.digest_time, config.quiet_days, config.retention_days) == ("07:30", 7, None)


def test_the_desk_keys_come_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + 'digest_time = "08:15"\nquiet_days = 5\n')
    config = load_config(path, {"HOMEWARD_RETENTION_DAYS": "365"})
    assert (config.digest_time, config.quiet_days, config.retention_days) == ("08:15", 5, 365)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('digest_time = "20:30"', "digest_time"),
        ('digest_time = "7.30"', "digest_time"),
        ("quiet_days = 0", "quiet_days"),
        ("retention_days = 0", "retention_days"),
    ],
)
def test_a_wrong_desk_key_is_named(tmp_path: Path, line: str, key: str) -> None:
    found = problems(write(tmp_path, VALID + line + "\n"))
    assert len(found) == 1 and f": {key}:" in found[0], found


# --- the store: SQLite or PostgreSQL -----------------------------------------------------------------


def test_the_store_is_the_sqlite_file_in_data_dir_by_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), {})
    assert config.database_url is None and config.store_location == config.store_path


def test_a_postgresql_url_from_the_environment_keeps_the_password_out_of_the_file(tmp_path: Path) -> None:
    url = "postgresql://homeward:s3cret@db.region.example:5432/homeward"
    config = load_config(write(tmp_path, VALID), {"HOMEWARD_DATABASE_URL": url})
    assert config.database_url == url and config.store_location == url
    assert "s3cret" not in repr(config)


def test_a_database_that_is_neither_sqlite_nor_postgresql_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, VALID + 'database = "mysql://db/homeward"\n'), {})
    assert any("database" in p and "PostgreSQL URL" in p for p in caught.value.problems)


# --- the bot's display name (issue 26) ------------------------------------------------


def test_by_default_the_bot_is_named_a_bot_in_each_rooms_language() -> None:
    from datetime import UTC, datetime

    from homeward.work.room_state import bot_name
    from tests.clock import FakeClock
    from tests.unit import unit_services

    services = unit_services(FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))
    assert services.config.display_name is None
    assert bot_name(services, "sv") == "Homeward (chattbot)"
    assert "bot" in bot_name(services, "nb").lower() and "bot" in bot_name(services, "en").lower()


def test_a_deployer_names_the_bot_once_or_per_language_in_the_file_or_the_environment(tmp_path: Path) -> None:
    one = load_config(write(tmp_path, VALID + 'display_name = "Region Örebro (chattbot)"\n'), {})
    assert one.bot_name("sv") == one.bot_name("nb") == "Region Örebro (chattbot)"
    per_language = load_config(
        write(tmp_path, VALID),
        {"HOMEWARD_DISPLAY_NAME": '{"sv": "Hemgång (chattbot)", "nb": "Hjemreise (chatbot)"}'},
    )
    assert per_language.bot_name("sv") == "Hemgång (chattbot)" and per_language.bot_name("nb") == "Hjemreise (chatbot)"
    assert per_language.bot_name("en") is None  # the catalog's name, which says it is a bot
    plain = load_config(write(tmp_path, VALID), {"HOMEWARD_DISPLAY_NAME": "Hemgång (chattbot)"})
    assert plain.bot_name("en") == "Hemgång (chattbot)"


def test_an_empty_or_overlong_bot_name_is_named_in_the_error(tmp_path: Path) -> None:
    assert any("display_name" in p for p in problems(write(tmp_path, VALID + 'display_name = " "\n')))
    too_long = problems(write(tmp_path, VALID), {"HOMEWARD_DISPLAY_NAME": "x" * 81})
    assert any("HOMEWARD_DISPLAY_NAME" in p and "1 to 80" in p for p in too_long)
