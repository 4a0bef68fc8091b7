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


# -- names are never hidden ------------------------------------------------------------

def test_a_secret_equal_to_a_name_leaves_the_name_readable():
    redact = Redactor(["gitea"]).protect(["gitea", "gitea/gitea:1.21.4", "gitea_data", "/srv/gitea"])
    text = "gitea (gitea/gitea:1.21.4) mounts gitea_data at /srv/gitea"
    assert redact(text) == text


def test_a_long_secret_inside_a_name_leaves_the_name_readable_and_is_hidden_elsewhere():
    redact = Redactor(["postgres"]).protect(["postgres_data"])
    assert redact("volume postgres_data") == "volume postgres_data"
    assert redact("login as xpostgresx") == f"login as x{MARK}x"  # no name here: hidden


def test_a_name_inside_a_secret_does_not_uncover_the_secret():
    redact = Redactor(["gitea-s3cret-pass", "pplongsecretvalue"]).protect(["gitea", "app"])
    assert redact("pw=gitea-s3cret-pass for gitea") == f"pw={MARK} for gitea"
    # a name overlapping the start of a secret hides nothing of it: no fragment survives
    assert redact("applongsecretvalue") == f"a{MARK}"


def test_overlapping_secrets_are_hidden_together_even_where_one_lies_in_a_name():
    redact = Redactor(["postgres", "gresSECRETvalue"]).protect(["postgres"])
    assert "SECRETvalue" not in redact("postgresSECRETvalue")


def test_names_survive_learning_more_secrets():
    redact = Redactor().protect(["gitea"]).learn(["gitea"])
    assert redact("gitea") == "gitea"
    assert Redactor(["gitea"]).protect(["other"])("gitea") == MARK


def test_a_healthchecks_output_keeps_the_names_it_quotes_and_hides_the_secret():
    redact = Redactor(["gitea", "s3cr3t-long-pw"]).protect(["gitea", "db"])
    output = "pq: password authentication failed for user gitea on db:5432 (s3cr3t-long-pw)"
    assert redact(output) == f"pq: password authentication failed for user gitea on db:5432 ({MARK})"
