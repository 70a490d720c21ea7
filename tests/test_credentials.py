"""Literal credentials in a spec, or substituted into it, are located errors."""

from __future__ import annotations

from yamlpipe.credentials import find_secrets
from yamlpipe.loader import loads

KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _secrets(text: str, environ: dict[str, str] | None = None) -> list[str]:
    document = loads(text.encode(), "s.yaml", environ or {})
    return [e.render() for e in find_secrets(document.data, document.source)]


def test_access_key_id_in_environment_is_reported_at_its_value() -> None:
    text = f"defaults:\n  environment_variables:\n    KEY: {KEY_ID}\n"
    assert _secrets(text) == [
        "s.yaml:3:10: a literal AWS access key ID in "
        "'defaults.environment_variables.KEY'; never put credentials in a spec: jobs "
        "run with their IAM role; read secrets from Secrets Manager inside the function"
    ]


def test_secret_key_by_name_is_reported() -> None:
    text = f"steps:\n  - inputs:\n      aws_secret_access_key: {SECRET}\n"
    assert _secrets(text)[0].startswith(
        "s.yaml:3:30: a literal aws_secret_access_key in "
        "'steps[0].inputs.aws_secret_access_key'"
    )


def test_secret_substituted_from_the_environment_is_reported() -> None:
    text = "defaults:\n  environment_variables:\n    AWS_SECRET_ACCESS_KEY: ${env.S}\n"
    found = _secrets(text, {"S": SECRET})
    assert found[0].startswith("s.yaml:3:28: a literal AWS_SECRET_ACCESS_KEY in")


def test_private_key_and_inline_assignment_are_reported() -> None:
    text = (
        "defaults:\n  pre_execution_commands:\n"
        "    - 'echo -----BEGIN RSA PRIVATE KEY----- > k'\n"
        f"    - export aws_secret_access_key={SECRET}\n"
    )
    assert [m.split(";")[0] for m in _secrets(text)] == [
        "s.yaml:3:7: a literal private key in 'defaults.pre_execution_commands[0]'",
        "s.yaml:4:7: a literal AWS secret access key in "
        "'defaults.pre_execution_commands[1]'",
    ]


def test_ordinary_values_are_not_secrets() -> None:
    text = (
        "name: p\ndefaults:\n  role: arn:aws:iam::123456789012:role/R\n"
        "  environment_variables: {AWS_SECRET_ACCESS_KEY: '', MODE: AKIA-not-a-key}\n"
    )
    assert _secrets(text) == []
