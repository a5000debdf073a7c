"""``lstmkit check`` reports kernels and passes its own comparison against torch.nn.LSTM."""

from __future__ import annotations

from click.testing import CliRunner

from lstmkit.cli import cli


def test_check_reports_backends_and_passes() -> None:
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "native CPU kernel:" in result.output
    if "native CPU kernel: active" in result.output:
        assert "worker threads: " in result.output
    for backend in ("torch", "fused", "reference"):
        assert f"{backend:<9} vs torch.nn.LSTM" in result.output
    assert "FAILED" not in result.output


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.output
