"""The redaction step: what it learns as a secret, and what it leaves readable."""

from types import MappingProxyType

from compliance.redact import MARK, Redactor, candidates, file_secrets

PATTERNS = ("PASSWORD", "SECRET", "TOKEN")


class Configured:
    """Anything with a Docker-style `config`, as redact.candidates reads it."""

    def __init__(self, env=(), labels=None, cmd=()):
        self.config = MappingProxyType({"Env": list(env), "Labels": labels or {}, "Cmd": list(cmd)})


def test_only_secrets_are_learned_not_every_long_value():
    learned = candidates([Configured(env=["DB_TYPE=postgres", "APP_REGION=europe-west-frankfurt",
                                          "DB_PASSWORD=hunter2hunter2",
                                          "DATABASE_URL=postgres://app:dsnpass99@db/app",
                                          "JWT_SECRET_FILE=/run/secrets/jwt"])], PATTERNS)
    assert set(learned) == {"hunter2hunter2", "dsnpass99"}


def test_a_short_secret_is_redacted_as_a_whole_word_only():
    redact = Redactor(["dbx", "s3cr3t-long-value"])
    assert redact("dbx_data on dbx:5432") == f"dbx_data on {MARK}:5432"
    assert redact("prefix-s3cr3t-long-valuesuffix") == f"prefix-{MARK}suffix"
    assert Redactor(["no"])("no secret here") == "no secret here"  # too short to be one


def test_secret_files_are_learned_whole_line_by_line_and_folded(tmp_path):
    pem = tmp_path / "key.pem"
    pem.write_text("-----BEGIN KEY-----\nAAAAsecretline1\nBBBBsecretline2\n-----END KEY-----\n")
    redact = Redactor(file_secrets([pem, tmp_path / "missing"]))
    folded = "output: -----BEGIN KEY----- AAAAsecretline1 BBBBsecretline2 -----END KEY-----"
    assert "secretline" not in redact(folded)
    assert "secretline" not in redact("partial: BBBBsecretline2")
