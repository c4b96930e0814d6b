"""The hypothesis profile of the property tests: deterministic (``derandomize``: the same
examples on every run and machine, no example database), no deadline (a loaded CI machine is
slow, not wrong), a modest number of examples so that the whole folder stays under ~30 s.

The profile is registered, not loaded: tests opt in with ``@PROFILE`` (``settings(parent=...)``)
so that other hypothesis users in the suite (schemathesis) keep their own settings."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "cvat_lite_property",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
