"""Settings shared by every test directory: the core's and each plugin's."""

from hypothesis import HealthCheck, settings

# Tests assert behaviour, never speed (benchmarks under bench/ do that): on a
# shared, noisy machine a slow example is not a failure.
settings.register_profile(
    "liveuser", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("liveuser")
