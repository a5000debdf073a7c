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
        from lstmkit.ops.native_bf16 import bf16_available

        multiplies = "bfloat16 (AVX512-BF16)" if bf16_available() else "float32 (no AVX512-BF16 here)"
        assert f"torch.bfloat16) the native loop multiplies in: {multiplies}" in result.output
    for backend in ("torch", "fused", "reference"):
        assert f"{backend:<9} vs torch.nn.LSTM" in result.output
    assert "float64, inputs x1)" in result.output and "float32, inputs x100, saturating)" in result.output
    assert "FAILED" not in result.output


def test_check_fails_on_a_backend_that_returns_nan(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from lstmkit.cli import check

    real = check._max_error
    monkeypatch.setattr(
        check, "_max_error", lambda b, d=None, s=1.0: float("nan") if b == "fused" else real(b)
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1 and "fused     vs torch.nn.LSTM" in result.output
    assert "max relative error nan FAILED" in result.output


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.output
