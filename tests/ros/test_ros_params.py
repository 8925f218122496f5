"""The nodes' parameters are refused at startup, by name, when they are not sane numbers: NaN
and inf included, which pass a plain comparison."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ros

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("diagnostics_period_s", NAN),
        ("diagnostics_period_s", 0.0),
        ("latency_budget_ms", NAN),
        ("latency_budget_ms", -5.0),
        ("log_period_s", NAN),
        ("log_period_s", INF),
        ("max_consecutive_failures", 0),
        ("inline_detect_max_ms", NAN),
    ],
)
def test_detector_params_refuse_numbers_that_are_not_sane(field, value):
    from trtpipe.errors import InputError
    from trtpipe.ros.params import DetectorParams

    with pytest.raises(InputError, match=rf"^{field}: expected "):
        DetectorParams(**{field: value})


def test_a_cpu_fallback_model_that_is_not_there_is_refused_before_it_is_needed(tmp_path):
    from trtpipe.errors import InputError
    from trtpipe.ros.params import DetectorParams

    with pytest.raises(InputError, match="fallback_model: expected an existing ONNX file"):
        DetectorParams(fallback_to_cpu=True, fallback_model=str(tmp_path / "absent.onnx"))
    present = tmp_path / "cpu.onnx"
    present.write_bytes(b"")
    assert DetectorParams(fallback_to_cpu=True, fallback_model=str(present)).fallback_to_cpu
    # without the fallback on, the field is not used and not checked
    assert not DetectorParams(fallback_model=str(tmp_path / "absent.onnx")).fallback_to_cpu


@pytest.mark.parametrize(("field", "value"), [("depth_scale", NAN), ("rate_hz", INF)])
def test_rgbd_params_refuse_numbers_that_are_not_sane(field, value):
    from trtpipe.errors import InputError
    from trtpipe.ros.rgbd import RgbdParams

    with pytest.raises(InputError, match=rf"^{field}: expected "):
        RgbdParams(**{field: value})


@pytest.mark.parametrize("ms", [NAN, 0.0, INF])
def test_the_reliable_preset_refuses_a_deadline_that_is_not_a_positive_time(ms):
    from trtpipe.errors import InputError
    from trtpipe.ros.qos import make_qos

    with pytest.raises(InputError, match="deadline_ms/liveliness_lease_ms"):
        make_qos("reliable", deadline_ms=ms)


def test_the_policy_node_refuses_a_diagnostics_period_that_is_not_a_positive_time():
    from trtpipe.errors import InputError
    from trtpipe.ros.policy_node import PolicyParams

    for period in (NAN, 0.0, -1.0):
        with pytest.raises(InputError, match=r"^diagnostics_period_s: expected > 0"):
            PolicyParams(model="policy.onnx", diagnostics_period_s=period)


def test_the_metrics_address_must_be_an_ip_address():
    from trtpipe.errors import InputError
    from trtpipe.ros.params import DetectorParams

    assert DetectorParams(metrics_address="0.0.0.0").metrics_address == "0.0.0.0"
    assert DetectorParams(metrics_address="::1").metrics_address == "::1"
    with pytest.raises(InputError, match=r"^metrics_address: expected an IP address"):
        DetectorParams(metrics_address="my robot")
